#!/usr/bin/env bash
# Install what the tests need (Debian/Ubuntu packages, a virtualenv) and run them.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/apt-ensure.sh

# Real SIP peers and servers for the end-to-end tests, Xvfb for screenshots,
# the X/EGL libraries Qt loads even on the offscreen platform, iproute2 for the
# loopback-only network namespace of the unknown-host test, PulseAudio with null
# sinks for the real-sound tests, the PostgreSQL server binaries for the
# throwaway clusters of the central-store tests (tests/helpers/pgcluster.py runs
# its own initdb'd server on a free port; the machine's own server is not used),
# desktop-file-utils, appstream and xdg-utils to check the desktop entries and
# the link handler, nsis to compile the Windows installer script (tests/e2e/test_installers.py),
# poppler-utils (pdftotext, pdftoppm) to read back the report PDFs (tests/unit/ui/test_report_pdf.py).
PACKAGES="python3-venv iproute2 libportaudio2 pulseaudio pulseaudio-utils kamailio kamailio-extra-modules kamailio-tls-modules sip-tester baresip postgresql
  xvfb xauth libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0
  desktop-file-utils appstream xdg-utils nsis poppler-utils"
apt_ensure $PACKAGES

. scripts/python-pick.sh
PY="$(softclock_pick_python)"
VENV="${SOFTCLOCK_TEST_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -m pip install -q -e '.[test]' >"$VENV/pip.log" 2>&1; then
  cat "$VENV/pip.log" >&2; echo "pip install failed" >&2; exit 1
fi

# Static checks first (a few seconds): lint and format (ruff), types (mypy --strict, pyproject.toml).
# SOFTCLOCK_SKIP_STATIC=1 skips them while iterating on one test.
if [ "${SOFTCLOCK_SKIP_STATIC:-}" != 1 ]; then
  "$VENV/bin/ruff" check softclock tests bench installers
  "$VENV/bin/ruff" format --check softclock tests bench installers
  "$VENV/bin/mypy" softclock
fi

export QT_QPA_PLATFORM=offscreen
export PYTHON_KEYRING_BACKEND=tests.helpers.keyring_backend.MemoryKeyring
exec "$VENV/bin/python" -m pytest "$@"
