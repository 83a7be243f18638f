#!/usr/bin/env bash
# Build the Debian package of Softclock from its PyInstaller bundle, with dpkg-deb.
# Usage: installers/debian/build.sh
#   SOFTCLOCK_BUNDLE=DIR   use an existing bundle (default: build one with
#                          installers/pyinstaller/build.sh into dist/softclock)
#   SOFTCLOCK_MAINTAINER   the Maintainer field ("Name <address>")
#   SOFTCLOCK_DEB_COMPRESS zstd (default: 7 s here; dpkg 1.21.18+, i.e. Debian 12 and
#                          Ubuntu 22.10+, which the bundle's glibc floor needs anyway) or
#                          xz (25 % smaller, ~70 s more)
#   SOFTCLOCK_DISTRIBUTOR, SOFTCLOCK_SOURCE_CONTACT  who makes the written source
#                          offer, and how to ask (installers/bundle_licenses.py)
# Output: dist/softclock_VERSION-1_ARCH.deb, laid out as
#   /opt/softclock/              the bundle
#   /usr/bin/softclock           -> /opt/softclock/softclock
#   /usr/share/applications/     org.softclock.Softclock.desktop (menu) and
#                                org.softclock.Softclock.Dial.desktop (tel:, sip:, sips:, callto:)
#   /usr/share/icons/hicolor/    16..256 PNG and the SVG
#   /usr/share/metainfo/         AppStream metainfo
#   /usr/share/doc/softclock/    copyright (with the GPL-2.0 text), SOURCE-OFFER.txt
# Needs dpkg-deb and ldd (Debian/Ubuntu); Depends is worked out from the libraries
# the bundle loads from the system (installers/debian/shlibdeps.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=installers/debian
LINUX=installers/linux
ICONS=softclock/resources/icons
APP_ID=org.softclock.Softclock

if [ -z "${SOFTCLOCK_BUNDLE:-}" ]; then
  installers/pyinstaller/build.sh
  BUNDLE=dist/softclock
else
  BUNDLE="$SOFTCLOCK_BUNDLE"
fi
[ -x "$BUNDLE/softclock" ] || { echo "No bundle at $BUNDLE (expected $BUNDLE/softclock)." >&2; exit 1; }

VERSION="$("$BUNDLE/softclock" --version | awk '{print $2}')"
DEB_VERSION="$VERSION-${SOFTCLOCK_DEB_REVISION:-1}"
ARCH="$(dpkg --print-architecture)"
NAME="softclock_${DEB_VERSION}_${ARCH}"
STAGE="build/deb/$NAME"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/metainfo" "$STAGE/usr/share/doc/softclock"

cp -a "$BUNDLE" "$STAGE/opt/softclock"
ln -s /opt/softclock/softclock "$STAGE/usr/bin/softclock"
install -m 0644 "$LINUX/$APP_ID.desktop" "$LINUX/$APP_ID.Dial.desktop" "$STAGE/usr/share/applications/"
install -m 0644 "$LINUX/$APP_ID.metainfo.xml" "$STAGE/usr/share/metainfo/"
for s in 16 22 24 32 48 64 128 256; do
  install -D -m 0644 "$ICONS/softclock-$s.png" "$STAGE/usr/share/icons/hicolor/${s}x${s}/apps/$APP_ID.png"
done
install -D -m 0644 "$ICONS/softclock.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"

LICENSES="$BUNDLE/_internal/licenses"
[ -f "$LICENSES/SOURCE-OFFER.txt" ] || { echo "The bundle has no licenses/SOURCE-OFFER.txt." >&2; exit 1; }
install -m 0644 "$LICENSES/SOURCE-OFFER.txt" "$STAGE/usr/share/doc/softclock/"
revision="$(sed -n 's/.*source revision: \(.*\));$/\1/p' "$LICENSES/SOURCE-OFFER.txt" | head -1)"
pj_version="$(sed -n 's/^  - pjproject \([^ ]*\) .*/\1/p' "$LICENSES/SOURCE-OFFER.txt" | head -1)"
pj_wheel="$(sed -n 's/^  pjsua2-python \([^:]*\):.*/\1/p' "$LICENSES/README.txt" | head -1)"
gpl2="$(sed -e 's/^[[:space:]]*$/./' -e 's/^/ /' installers/licenses/GPL-2.0.txt)"
python3 - "$HERE/copyright.in" "$STAGE/usr/share/doc/softclock/copyright" \
  "${revision:-unknown}" "${pj_version:-unknown}" "${pj_wheel:-unknown}" "$gpl2" <<'PY'
import sys
src, dst, rev, pj, wheel, gpl2 = sys.argv[1:]
text = open(src).read()
for key, value in {"REVISION": rev, "PJ_VERSION": pj, "PJ_WHEEL_VERSION": wheel, "GPL2_TEXT": gpl2}.items():
    text = text.replace(f"@{key}@", value)
open(dst, "w").write(text)
PY

DEPENDS="$(python3 "$HERE/shlibdeps.py" "$STAGE/opt/softclock")"
INSTALLED_SIZE="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: softclock
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: ${SOFTCLOCK_MAINTAINER:-Softclock packagers <packagers@softclock.invalid>}
Installed-Size: $INSTALLED_SIZE
Depends: $DEPENDS
Recommends: xdg-utils, pulseaudio | pipewire-pulse
Section: comm
Priority: optional
Description: softphone that turns every call into a time entry
 Softclock registers with the firm's SIP server, asks which client or matter a
 call is for while it starts, times the call from the SIP signalling (from the
 answer, never from dialling) and keeps every call and draft time entry in a
 local store that survives crashes. Approved entries sync to the firm's central
 billing store. It dials tel:, sip:, sips: and callto: links.
 .
 This package is a self-contained bundle (Python, Qt and pjsua2 included) in
 /opt/softclock.
CONTROL

chmod -R u+rwX,go+rX,go-w "$STAGE"
mkdir -p dist
dpkg-deb --root-owner-group -Z"${SOFTCLOCK_DEB_COMPRESS:-zstd}" --build "$STAGE" "dist/$NAME.deb" >/dev/null
echo "Package: dist/$NAME.deb ($(du -h "dist/$NAME.deb" | cut -f1))"
