#!/usr/bin/env bash
# Create a virtualenv, install Softclock into it, and start the desktop app.
# Usage: scripts/install-and-run.sh [softclock args...]
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/apt-ensure.sh
# Qt's runtime libraries (PySide6 wheels bundle Qt itself but not these); sound:
# libpulse0 (calls go straight to PulseAudio/PipeWire), libportaudio2 (sounddevice).
PACKAGES="python3-venv libpulse0 libportaudio2 libasound2-plugins libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0 libxcb-shape0 libxcb-randr0
  libxcb-render-util0 libxcb-image0"
apt_ensure $PACKAGES

PY="${PYTHON:-python3}"
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Softclock needs Python 3.11 or newer"'
VENV="${SOFTCLOCK_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/softclock-venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -m pip install -q . >"$VENV/pip.log" 2>&1; then
  cat "$VENV/pip.log" >&2; echo "pip install failed" >&2; exit 1
fi
echo "Installed: $VENV/bin/softclock"
exec "$VENV/bin/softclock" "$@"
