#!/usr/bin/env bash
# Build Softclock.app and a DMG for macOS. NOT RUN on this project's machines
# (Linux only): run it on macOS 11+ with Python 3.12 or 3.11 (python.org or
# Homebrew: pjsua2-python has wheels for CPython 3.8-3.12 only) and Xcode's
# command line tools (hdiutil and codesign come with macOS).
#
# Usage: installers/macos/build-dmg.sh
#   SOFTCLOCK_CODESIGN_IDENTITY="Developer ID Application: Firm (TEAMID)"  sign the app
#   SOFTCLOCK_NOTARY_PROFILE=profile   then notarise with `xcrun notarytool` (a keychain
#                                      profile made by `xcrun notarytool store-credentials`)
# Output: dist/Softclock.app and dist/Softclock-VERSION.dmg (the app and a link to
# /Applications). The app declares tel:, sip:, sips: and callto: in its Info.plist
# (installers/pyinstaller/softclock.spec); macOS hands such links to it as an
# Apple Event (a QFileOpenEvent in Qt), not on the command line.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build-dmg.sh runs on macOS only." >&2; exit 1; }

installers/pyinstaller/build.sh
APP=dist/Softclock.app
[ -d "$APP" ] || { echo "PyInstaller made no $APP." >&2; exit 1; }
VERSION="$("$APP/Contents/MacOS/softclock" --version | awk '{print $2}')"

if [ -n "${SOFTCLOCK_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp \
    --entitlements installers/macos/entitlements.plist \
    --sign "$SOFTCLOCK_CODESIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict "$APP"
fi

STAGE=build/dmg
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
cp dist/softclock/_internal/licenses/SOURCE-OFFER.txt "$STAGE/" 2>/dev/null ||
  cp "$APP/Contents/Resources/licenses/SOURCE-OFFER.txt" "$STAGE/" 2>/dev/null || true
DMG="dist/Softclock-$VERSION.dmg"
rm -f "$DMG"
hdiutil create -volname "Softclock $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"

if [ -n "${SOFTCLOCK_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$SOFTCLOCK_CODESIGN_IDENTITY" "$DMG"
  if [ -n "${SOFTCLOCK_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$SOFTCLOCK_NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
  fi
fi
echo "Disk image: $DMG"
