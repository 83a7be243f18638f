# Sourced by scripts/install-and-run.sh, scripts/test.sh and installers/*:
# softclock_pick_python prints the Python to build a virtualenv with.
#
# pjsua2-python has binary wheels for CPython 3.8-3.12 only (pip would try to
# build it from source on 3.13 and fail), and Softclock needs 3.11 or newer,
# so: $PYTHON if it is set (trusted as given, as long as it is 3.11 or newer),
# else the first of python3.12, python3.11, python3 that runs and is 3.11 or
# 3.12. A candidate must actually run: a pyenv shim for a version that is not
# selected exists on PATH but exits 127.

# The "major.minor" of the Python $1, or nothing if it does not run.
softclock_python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

softclock_pick_python() {
  local cand ver
  if [ -n "${PYTHON:-}" ]; then
    ver="$(softclock_python_version "$PYTHON")" || ver=""
    case "$ver" in
      3.11 | 3.12) echo "$PYTHON"; return 0 ;;
      3.1[3-9] | 3.[2-9][0-9])
        echo "Note: PYTHON=$PYTHON is Python $ver; pjsua2-python has wheels for 3.8-3.12 only, so pip will try to build it from source." >&2
        echo "$PYTHON"; return 0 ;;
    esac
    echo "PYTHON=$PYTHON is not a Python 3.11 or newer that runs${ver:+ (it is $ver)}: point it at a python3.12 or python3.11." >&2
    return 1
  fi
  for cand in python3.12 python3.11 python3; do
    command -v "$cand" >/dev/null 2>&1 || continue
    ver="$(softclock_python_version "$cand")" || continue
    case "$ver" in
      3.11 | 3.12) command -v "$cand"; return 0 ;;
    esac
  done
  echo "Softclock needs Python 3.11 or 3.12 (pjsua2-python has no wheels for newer ones): install python3.12 (or python3.11) with its venv module, e.g. 'uv python install 3.12' or your distribution's python3.12 and python3.12-venv packages, or set PYTHON to one." >&2
  return 1
}
