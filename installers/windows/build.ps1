# Build Softclock's Windows installer: the PyInstaller bundle, then NSIS.
# NOT RUN on this project's machines (Linux only); run it on Windows 10/11 x64 with
# Python 3.12 or 3.11 from python.org (the "py" launcher) and NSIS 3 (makensis on PATH):
#
#   powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
#
# Output: dist\softclock\ (the bundle) and dist\softclock-VERSION-setup.exe.
# SOFTCLOCK_DISTRIBUTOR / SOFTCLOCK_SOURCE_CONTACT name who makes the written
# source offer in the bundle's licenses\SOURCE-OFFER.txt.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

$venv = "build\bundle-venv"
if (-not (Test-Path "$venv\Scripts\python.exe")) {
    $made = $false
    foreach ($v in @("3.12", "3.11")) {  # pjsua2-python has wheels for CPython 3.8-3.12 only
        & py "-$v" -c "import sys" 2>$null
        if ($LASTEXITCODE -eq 0) { & py "-$v" -m venv $venv; $made = $true; break }
    }
    if (-not $made) { throw "Install Python 3.12 (or 3.11) from python.org with the py launcher." }
}
$py = "$venv\Scripts\python.exe"
& $py -m pip install -q --upgrade --force-reinstall --no-deps .
if ($LASTEXITCODE -ne 0) { throw "pip install failed" }
& $py -m pip install -q ".[bundle]"
if ($LASTEXITCODE -ne 0) { throw "pip install failed" }
& $py -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller installers\pyinstaller\softclock.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

$version = ((& dist\softclock\softclock.exe --version) -split " ")[1]
& makensis "/DVERSION=$version" installers\windows\softclock.nsi
if ($LASTEXITCODE -ne 0) { throw "makensis failed" }
Write-Host "Installer: dist\softclock-$version-setup.exe"
