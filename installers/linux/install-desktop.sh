#!/usr/bin/env bash
# Put Softclock on PATH and in the desktop's menu, and make it the handler of
# tel:, sip:, sips: and callto: links.
#
# Usage: installers/linux/install-desktop.sh [--user|--system] PATH/TO/softclock
#        installers/linux/install-desktop.sh [--user|--system] --uninstall
#
# PATH/TO/softclock is the real entry point (the virtualenv's bin/softclock).
# --user (the default when not root): the launcher in ~/.local/bin, the menu
# entries, icons and AppStream metainfo under ${XDG_DATA_HOME:-~/.local/share}.
# --system (the default as root): /usr/local/bin and /usr/local/share.
# SOFTCLOCK_DESKTOP_MODE=user|system does the same as the option (for
# scripts/install-and-run.sh, which runs this).
# Either way the link handler is registered for the user running this
# (xdg-mime default, which writes ${XDG_CONFIG_HOME:-~/.config}/mimeapps.list).
# The Debian package (installers/debian/build.sh) installs the same files under
# /usr instead.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ICONS="$ROOT/softclock/resources/icons"
APP_ID="org.softclock.Softclock"
HANDLER="$APP_ID.Dial.desktop"
SCHEMES="tel sip sips callto"
SIZES="16 22 24 32 48 64 128 256"

mode="${SOFTCLOCK_DESKTOP_MODE:-}" target="" uninstall=""
for arg in "$@"; do
  case "$arg" in
    --user) mode=user ;;
    --system) mode=system ;;
    --uninstall) uninstall=1 ;;
    -*) echo "install-desktop.sh: unknown option $arg" >&2; exit 2 ;;
    *) target="$arg" ;;
  esac
done
case "$mode" in
  "" | user | system) ;;
  *) echo "install-desktop.sh: SOFTCLOCK_DESKTOP_MODE must be user or system, not $mode." >&2; exit 2 ;;
esac
[ -n "$mode" ] || { [ "$(id -u)" -eq 0 ] && mode=system || mode=user; }
if [ "$mode" = system ]; then
  BIN=/usr/local/bin DATA=/usr/local/share
else
  BIN="$HOME/.local/bin" DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
APPS="$DATA/applications"

refresh_caches() {
  if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$APPS" || true; fi
  if command -v gtk-update-icon-cache >/dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -f -t "$DATA/icons/hicolor" || true
  fi
}

if [ -n "$uninstall" ]; then
  [ -L "$BIN/softclock" ] && rm -f "$BIN/softclock"
  rm -f "$APPS/$APP_ID.desktop" "$APPS/$HANDLER" "$DATA/metainfo/$APP_ID.metainfo.xml" \
    "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
  for s in $SIZES; do rm -f "$DATA/icons/hicolor/${s}x${s}/apps/$APP_ID.png"; done
  refresh_caches
  mimeapps="${XDG_CONFIG_HOME:-$HOME/.config}/mimeapps.list"
  if [ -f "$mimeapps" ]; then sed -i "/=$HANDLER\$/d" "$mimeapps"; fi
  echo "Removed Softclock's launcher, menu entries and link handler."
  exit 0
fi

if [ -z "$target" ] || [ ! -x "$target" ]; then
  echo "install-desktop.sh: give the path of the softclock entry point to link to${target:+ ($target is not executable)}." >&2
  exit 2
fi
target="$(cd "$(dirname "$target")" && pwd)/$(basename "$target")"

# 1. the launcher on PATH (a symlink; a file of that name that is not one is left alone)
mkdir -p "$BIN"
if [ -e "$BIN/softclock" ] && [ ! -L "$BIN/softclock" ]; then
  echo "Not replacing $BIN/softclock: it is not a link this script made." >&2
else
  ln -sfn "$target" "$BIN/softclock"
fi
launcher="$BIN/softclock"

# 2. the menu entry and the link handler, calling the launcher by its full path
#    (a desktop session's PATH need not include ~/.local/bin)
exec_path="$launcher"
case "$launcher" in *[[:space:]]*) exec_path="\"$launcher\"" ;; esac
mkdir -p "$APPS"
for f in "$APP_ID.desktop" "$HANDLER"; do
  sed -e "s|^Exec=softclock|Exec=$exec_path|" -e "s|^TryExec=softclock|TryExec=$launcher|" \
    "$HERE/$f" >"$APPS/$f.tmp"
  mv "$APPS/$f.tmp" "$APPS/$f"
done

# 3. icons (hicolor theme) and AppStream metainfo
for s in $SIZES; do
  install -D -m 0644 "$ICONS/softclock-$s.png" "$DATA/icons/hicolor/${s}x${s}/apps/$APP_ID.png"
done
install -D -m 0644 "$ICONS/softclock.svg" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
install -D -m 0644 "$HERE/$APP_ID.metainfo.xml" "$DATA/metainfo/$APP_ID.metainfo.xml"
refresh_caches

# 4. Softclock as this user's handler of tel:, sip:, sips: and callto: links
if command -v xdg-mime >/dev/null; then
  for scheme in $SCHEMES; do
    XDG_DATA_DIRS="$DATA:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}" \
      xdg-mime default "$HANDLER" "x-scheme-handler/$scheme"
  done
  handler_note="tel:, sip:, sips: and callto: links open in Softclock"
else
  handler_note="install xdg-utils and run this again to make Softclock the handler of tel: links"
fi

echo "Installed: $launcher -> $target; menu entry $APPS/$APP_ID.desktop; $handler_note."
case ":$PATH:" in
  *":$BIN:"*) ;;
  *) echo "$BIN is not on your PATH: add it (on Debian and Ubuntu, logging in again does, once it exists), or run $launcher." ;;
esac
