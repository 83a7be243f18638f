#!/usr/bin/env bash
# Create a virtualenv, install Softclock into it, put a `softclock` launcher on
# PATH with a menu entry, icons and the tel:/sip:/sips:/callto: link handler
# (installers/linux/install-desktop.sh), and start the desktop app.
# Usage: scripts/install-and-run.sh [softclock args...]
# PYTHON=/path/to/python3.12 picks the Python (default: python3.12, python3.11,
# then python3 if it is one of those: pjsua2-python has wheels up to 3.12 only);
# SOFTCLOCK_VENV=DIR the virtualenv; SOFTCLOCK_NO_DESKTOP=1 skips the launcher and menu entries.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/apt-ensure.sh
# Qt's runtime libraries (PySide6 wheels bundle Qt itself but not these); sound:
# libpulse0 (calls go straight to PulseAudio/PipeWire), libportaudio2 (sounddevice);
# xdg-utils and desktop-file-utils register the menu entry and the link handler.
PACKAGES="python3-venv libpulse0 libportaudio2 libasound2-plugins libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0 libxcb-shape0 libxcb-randr0
  libxcb-render-util0 libxcb-image0 xdg-utils desktop-file-utils"
apt_ensure $PACKAGES

. scripts/python-pick.sh
PY="$(softclock_pick_python)"
VENV="${SOFTCLOCK_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/softclock-venv}"
if [ -x "$VENV/bin/python" ]; then
  # a virtualenv left by an earlier run with a Python pjsua2-python has no wheel for
  case "$(softclock_python_version "$VENV/bin/python")" in
    3.11 | 3.12) ;;
    *) [ -n "${PYTHON:-}" ] || { echo "Recreating $VENV with $PY."; "$PY" -m venv --clear "$VENV"; } ;;
  esac
else
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pip install -q . >"$VENV/pip.log" 2>&1; then
  cat "$VENV/pip.log" >&2; echo "pip install failed" >&2; exit 1
fi
echo "Installed: $VENV/bin/softclock"
if [ -z "${SOFTCLOCK_NO_DESKTOP:-}" ]; then
  installers/linux/install-desktop.sh "$VENV/bin/softclock"
fi
exec "$VENV/bin/softclock" "$@"
