; Softclock's Windows installer (NSIS 3). NOT BUILT OR TESTED on this project's
; machines (Linux only): build it on Windows with installers/windows/build.ps1,
; which makes the PyInstaller bundle (dist\softclock\) first and then runs
;   makensis /DVERSION=0.1.0 installers\windows\softclock.nsi
;
; Installs for all users into "C:\Program Files\Softclock": softclockw.exe (the
; desktop app, no console: Start menu entry and link handler) and softclock.exe
; (the command line, for IT scripts), an uninstaller, and registers Softclock
; for tel:, sip:, sips: and callto: links (Settings > Apps > Default apps lists
; it; a scheme no other program has claimed opens in Softclock straight away).
;
; Unattended:  softclock-0.1.0-setup.exe /S [/D=C:\Path\Without\Quotes]
;              "C:\Program Files\Softclock\uninstall.exe" /S

Unicode true
!ifndef VERSION
  !error "Pass the version: makensis /DVERSION=0.1.0 softclock.nsi"
!endif
!define APP "Softclock"
!define PROGID "Softclock.Url"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Softclock"
!define CAPS_KEY "Software\Softclock\Capabilities"
!define BUNDLE "..\..\dist\softclock"

Name "${APP}"
OutFile "..\..\dist\softclock-${VERSION}-setup.exe"
InstallDir "$PROGRAMFILES64\${APP}"
InstallDirRegKey HKLM "Software\Softclock" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma
ManifestDPIAware true

!include "MUI2.nsh"
!include "x64.nsh"
!define MUI_ICON "..\..\softclock\resources\icons\softclock.ico"
!define MUI_UNICON "..\..\softclock\resources\icons\softclock.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\softclockw.exe"
!insertmacro MUI_PAGE_LICENSE "..\licenses\GPL-2.0.txt"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "GPL-2.0-or-later"

; A scheme no program has claimed yet points straight at Softclock; one that
; another program owns is left alone (the user picks in Default apps).
!macro ClaimScheme SCHEME
  ReadRegStr $0 HKLM "Software\Classes\${SCHEME}\shell\open\command" ""
  StrCmp $0 "" 0 +6
    WriteRegStr HKLM "Software\Classes\${SCHEME}" "" "URL:${SCHEME}"
    WriteRegStr HKLM "Software\Classes\${SCHEME}" "URL Protocol" ""
    WriteRegStr HKLM "Software\Classes\${SCHEME}\DefaultIcon" "" "$INSTDIR\softclockw.exe,0"
    WriteRegStr HKLM "Software\Classes\${SCHEME}\shell\open\command" "" '"$INSTDIR\softclockw.exe" dial "%1"'
    WriteRegStr HKLM "Software\Classes\${SCHEME}" "SoftclockClaimed" "1"
  WriteRegStr HKLM "${CAPS_KEY}\URLAssociations" "${SCHEME}" "${PROGID}"
!macroend

!macro ReleaseScheme SCHEME
  ReadRegStr $0 HKLM "Software\Classes\${SCHEME}" "SoftclockClaimed"
  StrCmp $0 "1" 0 +2
    DeleteRegKey HKLM "Software\Classes\${SCHEME}"
!macroend

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "Softclock needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Softclock" SecMain
  SectionIn RO
  SetShellVarContext all
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\softclockw.exe" "" "$INSTDIR\softclockw.exe" 0

  WriteRegStr HKLM "Software\Softclock" "InstallDir" "$INSTDIR"
  ; the link handler: one ProgID for all four schemes
  WriteRegStr HKLM "Software\Classes\${PROGID}" "" "Softclock link"
  WriteRegStr HKLM "Software\Classes\${PROGID}" "URL Protocol" ""
  WriteRegStr HKLM "Software\Classes\${PROGID}\DefaultIcon" "" "$INSTDIR\softclockw.exe,0"
  WriteRegStr HKLM "Software\Classes\${PROGID}\shell\open\command" "" '"$INSTDIR\softclockw.exe" dial "%1"'
  WriteRegStr HKLM "${CAPS_KEY}" "ApplicationName" "${APP}"
  WriteRegStr HKLM "${CAPS_KEY}" "ApplicationDescription" "Softphone that turns every call into a time entry"
  WriteRegStr HKLM "${CAPS_KEY}" "ApplicationIcon" "$INSTDIR\softclockw.exe,0"
  !insertmacro ClaimScheme "tel"
  !insertmacro ClaimScheme "sip"
  !insertmacro ClaimScheme "sips"
  !insertmacro ClaimScheme "callto"
  WriteRegStr HKLM "Software\RegisteredApplications" "${APP}" "${CAPS_KEY}"

  ; Apps & features
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\softclockw.exe,0"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  Delete "$SMPROGRAMS\${APP}.lnk"
  !insertmacro ReleaseScheme "tel"
  !insertmacro ReleaseScheme "sip"
  !insertmacro ReleaseScheme "sips"
  !insertmacro ReleaseScheme "callto"
  DeleteRegValue HKLM "Software\RegisteredApplications" "${APP}"
  DeleteRegKey HKLM "Software\Classes\${PROGID}"
  DeleteRegKey HKLM "Software\Softclock"
  DeleteRegKey HKLM "${UNINST_KEY}"
  ; the bundle only: each person's settings, store and keyring entries stay
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\softclock.exe"
  Delete "$INSTDIR\softclockw.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
SectionEnd
