#!/usr/bin/env bash
# Build Softclock's self-contained bundle (PyInstaller onedir) for this OS.
# Usage: installers/pyinstaller/build.sh
#   Linux:  dist/softclock/            (run dist/softclock/softclock)
#   macOS:  dist/Softclock.app         (installers/macos/build-dmg.sh wraps it in a DMG)
#   Windows (Git Bash or MSYS): dist/softclock/ (installers/windows/build.ps1 is the native way)
# The build has its own virtualenv (build/bundle-venv, reused; SOFTCLOCK_BUNDLE_VENV
# overrides) with Softclock installed from this tree and the [bundle] extra
# (PyInstaller), built with Python 3.11 or 3.12 (scripts/python-pick.sh; PYTHON overrides).
set -euo pipefail
cd "$(dirname "$0")/../.."

. scripts/python-pick.sh
VENV="${SOFTCLOCK_BUNDLE_VENV:-build/bundle-venv}"
BIN="$VENV/bin"
[ -d "$VENV/Scripts" ] && BIN="$VENV/Scripts"
if [ ! -x "$BIN/python" ] && [ ! -x "$BIN/python.exe" ]; then
  PY="$(softclock_pick_python)"
  "$PY" -m venv "$VENV"
  BIN="$VENV/bin"
  [ -d "$VENV/Scripts" ] && BIN="$VENV/Scripts"
fi
mkdir -p build
# a fresh, non-editable install: the bundle gets the package data and metadata as shipped
if ! "$BIN/python" -m pip install -q --upgrade --force-reinstall --no-deps . >build/bundle-pip.log 2>&1 ||
  ! "$BIN/python" -m pip install -q '.[bundle]' >>build/bundle-pip.log 2>&1; then
  cat build/bundle-pip.log >&2; echo "pip install failed" >&2; exit 1
fi
"$BIN/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installers/pyinstaller/softclock.spec
echo "Bundle: dist/softclock/"
