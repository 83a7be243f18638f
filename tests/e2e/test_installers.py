"""Roll-out: the desktop entries and metainfo, the Python picker, the launcher and
link handler the set-up command installs, and the Debian package built from the
PyInstaller bundle, installed into a clean root and started from there.

Tools: desktop-file-validate (desktop-file-utils), appstreamcli (appstream),
xdg-mime/xdg-open (xdg-utils), dpkg-deb; without them these tests skip, or
fail under CI=true (scripts/test.sh installs them). The package test builds the
bundle (installers/debian/build.sh: ~1.5-2 min on 2 cores, a virtualenv with
PyInstaller under build/ reused between runs).
"""

from __future__ import annotations

import os
import queue
import shutil
import stat
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from tests.helpers import sipp
from tests.helpers.app_process import ROOT, AppProcess
from tests.helpers.procs import missing_tool

LINUX = ROOT / "installers" / "linux"
APP_ID = "org.softclock.Softclock"
MENU = LINUX / f"{APP_ID}.desktop"
HANDLER = LINUX / f"{APP_ID}.Dial.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
SCHEMES = ("tel", "sip", "sips", "callto")
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_tool(f"{name} is not installed (Debian package {package})")
    return path


def _desktop_keys(path: Path) -> dict[str, str]:
    keys = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            keys[k] = v
    return keys


# -- (a) the desktop entries and the AppStream metainfo ---------------------------------


def test_desktop_entries_pass_desktop_file_validate() -> None:
    validate = _tool("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([validate, str(MENU), str(HANDLER)], check=False, capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout + result.stderr
    menu, handler = _desktop_keys(MENU), _desktop_keys(HANDLER)
    assert menu["Exec"] == "softclock" and menu["Icon"] == APP_ID and "NoDisplay" not in menu
    assert handler["Exec"] == "softclock dial %u"
    assert handler["MimeType"] == "".join(f"x-scheme-handler/{s};" for s in SCHEMES)
    assert handler["NoDisplay"] == "true"  # the menu shows one Softclock


def test_metainfo_passes_appstreamcli() -> None:
    appstreamcli = _tool("appstreamcli", "appstream")
    result = subprocess.run(
        [appstreamcli, "validate", "--no-net", str(METAINFO)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = METAINFO.read_text()
    assert f"<id>{APP_ID}</id>" in text and f'<launchable type="desktop-id">{APP_ID}.desktop</launchable>' in text


def test_icon_set_is_complete_and_shipped_as_package_data() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "installers" / "icons.py"), "--check"], check=False, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    icons = ROOT / "softclock" / "resources" / "icons"
    assert (icons / "softclock.svg").read_text().lstrip().startswith("<?xml")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "resources/icons/*" in package_data["softclock"]


# -- (b) the Python picker ----------------------------------------------------------------


def _fake_python(directory: Path, name: str, version: str | None, log: Path | None = None) -> Path:
    """A ``python`` that answers the picker's version question with ``version``
    (None: exits 127, like a pyenv shim for a version that is not selected) and
    records any other use in ``log``."""
    path = directory / name
    if version is None:
        body = f'echo "pyenv: {name}: command not found" >&2\nexit 127\n'
    else:
        record = f'echo "{name} $*" >>"{log}"\n' if log else ""
        body = f'case "$*" in\n  *"sys.version_info[:2]"*) echo {version}; exit 0 ;;\nesac\n{record}exit 1\n'
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _pick(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", ". scripts/python-pick.sh && softclock_pick_python"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": str(bin_dir), "HOME": str(bin_dir), **env},
    )


@pytest.mark.parametrize(
    ("pythons", "chosen"),
    [
        ({"python3": "3.13", "python3.12": "3.12", "python3.11": "3.11"}, "python3.12"),
        ({"python3": "3.13", "python3.11": "3.11"}, "python3.11"),
        ({"python3": "3.14", "python3.12": None, "python3.11": "3.11"}, "python3.11"),  # a shim that does not run
        ({"python3": "3.12"}, "python3"),
        ({"python3": "3.11", "python3.12": "3.12"}, "python3.12"),
    ],
)
def test_picker_prefers_a_python_pjsua2_has_wheels_for(
    tmp_path: Path, pythons: dict[str, str | None], chosen: str
) -> None:
    for name, version in pythons.items():
        _fake_python(tmp_path, name, version)
    result = _pick(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / chosen)


def test_picker_says_what_to_install_when_only_3_13_is_there(tmp_path: Path) -> None:
    _fake_python(tmp_path, "python3", "3.13")
    _fake_python(tmp_path, "python3.13", "3.13")
    result = _pick(tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "install python3.12" in message and "PYTHON" in message


def test_picker_takes_PYTHON_when_set(tmp_path: Path) -> None:
    _fake_python(tmp_path, "python3.12", "3.12")
    own = _fake_python(tmp_path, "mypython", "3.11")
    assert _pick(tmp_path, PYTHON=str(own)).stdout.strip() == str(own)
    broken = _fake_python(tmp_path, "broken", None)
    refused = _pick(tmp_path, PYTHON=str(broken))
    assert refused.returncode == 1 and "PYTHON=" in refused.stderr


def test_both_scripts_use_the_picker() -> None:
    for script in ("scripts/install-and-run.sh", "scripts/test.sh"):
        text = (ROOT / script).read_text()
        assert ". scripts/python-pick.sh" in text and 'PY="$(softclock_pick_python)"' in text, script


# -- (c) the launcher, the menu entry and the link handler ------------------------------


def _pip_env() -> dict[str, str]:
    """pip's cache and the user's pip configuration (the package index), kept for a
    child whose HOME and XDG_CONFIG_HOME point into a temporary directory."""
    real_home = Path(os.path.expanduser("~"))
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or real_home / ".config")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or real_home / ".cache")
    env = {"PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(cache_home / "pip")}
    for conf in (os.environ.get("PIP_CONFIG_FILE"), config_home / "pip" / "pip.conf", real_home / ".pip" / "pip.conf"):
        if conf and Path(conf).is_file():
            env["PIP_CONFIG_FILE"] = str(conf)
            break
    return env


def _xdg_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_DIRS": "/usr/local/share:/usr/share",
        "DISPLAY": ":99",  # xdg-open follows x-scheme-handler defaults only with a display set
    }


def _recording_launcher(path: Path, record: Path) -> Path:
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >"{record}"\n')
    path.chmod(0o755)
    return path


def test_desktop_install_into_a_home_registers_the_tel_handler(tmp_path: Path) -> None:
    xdg_mime = _tool("xdg-mime", "xdg-utils")
    _tool("xdg-open", "xdg-utils")
    home = tmp_path / "home"
    home.mkdir()
    env = _xdg_env(home)
    record = tmp_path / "argv.txt"
    target = _recording_launcher(tmp_path / "venv-softclock", record)

    installed = subprocess.run(
        [str(LINUX / "install-desktop.sh"), "--user", str(target)], check=False, capture_output=True, text=True, env=env
    )
    assert installed.returncode == 0, installed.stderr
    launcher = home / ".local" / "bin" / "softclock"
    assert launcher.is_symlink() and launcher.resolve() == target
    apps = home / "data" / "applications"
    assert _desktop_keys(apps / f"{APP_ID}.Dial.desktop")["Exec"] == f"{launcher} dial %u"
    for size in ICON_SIZES:
        assert (home / "data" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (home / "data" / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (home / "data" / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    assert "is not on your PATH" in installed.stdout  # ~/.local/bin of a new home is not

    for scheme in SCHEMES:
        query = subprocess.run(
            [xdg_mime, "query", "default", f"x-scheme-handler/{scheme}"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        assert query.stdout.strip() == f"{APP_ID}.Dial.desktop", (scheme, query.stdout, query.stderr)
    assert (home / "config" / "mimeapps.list").is_file()

    # a tel: link, opened as a browser or mail client would, reaches `softclock dial`
    opened = subprocess.run(
        ["xdg-open", "tel:+1-202-555-0143"], check=False, capture_output=True, text=True, env=env, timeout=30
    )
    assert opened.returncode == 0, opened.stderr
    assert record.read_text().splitlines() == ["dial", "tel:+1-202-555-0143"]

    removed = subprocess.run(
        [str(LINUX / "install-desktop.sh"), "--user", "--uninstall"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert removed.returncode == 0, removed.stderr
    assert not launcher.exists() and not (apps / f"{APP_ID}.Dial.desktop").exists()
    query = subprocess.run(
        [xdg_mime, "query", "default", "x-scheme-handler/tel"], check=False, capture_output=True, text=True, env=env
    )
    assert query.stdout.strip() != f"{APP_ID}.Dial.desktop"  # (another program's handler may remain)


@pytest.mark.timeout(600)
def test_setup_command_on_a_machine_whose_python3_is_3_13(tmp_path: Path) -> None:
    """scripts/install-and-run.sh with python3 a 3.13 (which it must not use) and a
    python3.12 on PATH: the virtualenv, the launcher and the tel: handler."""
    _tool("xdg-mime", "xdg-utils")
    home = tmp_path / "home"
    home.mkdir()
    fakes = tmp_path / "bin"
    fakes.mkdir()
    used = tmp_path / "python3-used.txt"
    _fake_python(fakes, "python3", "3.13", log=used)
    # python3.12: this test's own interpreter's base Python (3.11 or 3.12 here) under that name
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (fakes / "python3.12").symlink_to(base)
    # apt-get: the packages are the machine's business, not this test's
    (fakes / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >>"{tmp_path / "apt.txt"}"\n')
    (fakes / "apt-get").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(_xdg_env(home))
    env.update(_pip_env())
    env.update(
        PATH=f"{fakes}:/usr/bin:/bin",
        SOFTCLOCK_VENV=str(tmp_path / "venv"),
        SOFTCLOCK_DESKTOP_MODE="user",  # as root it would write to /usr/local
        QT_QPA_PLATFORM="offscreen",
    )
    result = subprocess.run(
        [str(ROOT / "scripts" / "install-and-run.sh"), "--version"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=540,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("softclock ")
    assert not used.exists(), used.read_text()  # the 3.13 python3 was only asked its version
    cfg = (tmp_path / "venv" / "pyvenv.cfg").read_text()
    assert str(base.parent) in cfg or f"{sys.version_info[0]}.{sys.version_info[1]}" in cfg
    launcher = home / ".local" / "bin" / "softclock"
    assert launcher.resolve() == (tmp_path / "venv" / "bin" / "softclock").resolve()
    version = subprocess.run([str(launcher), "--version"], check=False, capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("softclock "), version.stderr
    query = subprocess.run(
        ["xdg-mime", "query", "default", "x-scheme-handler/tel"], check=False, capture_output=True, text=True, env=env
    )
    assert query.stdout.strip() == f"{APP_ID}.Dial.desktop"


# -- the Windows installer script (built for real on Windows only) ----------------------


def test_nsis_script_compiles_against_a_placeholder_bundle(tmp_path: Path) -> None:
    """Only that installers/windows/softclock.nsi compiles (makensis runs on Linux):
    the bundle here is three placeholder files, so nothing of the installer's
    behaviour on Windows is tested."""
    makensis = _tool("makensis", "nsis")
    tree = tmp_path / "tree"
    for rel in (
        "installers/windows/softclock.nsi",
        "installers/licenses/GPL-2.0.txt",
        "softclock/resources/icons/softclock.ico",
    ):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tree / rel)
    bundle = tree / "dist" / "softclock"
    (bundle / "_internal").mkdir(parents=True)
    for rel in ("softclock.exe", "softclockw.exe", "_internal/placeholder.dll"):
        (bundle / rel).write_text("placeholder\n")
    built = subprocess.run(
        [makensis, "-V2", "-DVERSION=0.1.0", "softclock.nsi"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tree / "installers" / "windows",
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert (tree / "dist" / "softclock-0.1.0-setup.exe").stat().st_size > 0
    script = (ROOT / "installers" / "windows" / "softclock.nsi").read_text()
    for scheme in SCHEMES:
        assert f'!insertmacro ClaimScheme "{scheme}"' in script
    assert 'dial "%1"' in script


# -- the Debian package, built from the bundle, installed into a clean root -------------


class InstalledApp(AppProcess):
    """:class:`AppProcess` for a command other than ``python -m softclock.cli``."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env, SOFTCLOCK_LOG_LEVEL="INFO"),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


@pytest.fixture(scope="module")
def deb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built by installers/debian/build.sh, unpacked with ``dpkg -x``
    into an empty directory (a clean root: nothing of the source tree or its
    virtualenvs is on the package's paths)."""
    _tool("dpkg-deb", "dpkg")
    _tool("ldd", "libc-bin")
    if not any(shutil.which(p) for p in ("python3.12", "python3.11", "python3")):
        missing_tool("no python3 to build the bundle with")
    dist = ROOT / "dist"
    for old in dist.glob("softclock_*.deb"):
        old.unlink()
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHON_KEYRING_BACKEND", "VIRTUAL_ENV"):
        env.pop(var, None)
    built = subprocess.run(
        [str(ROOT / "installers" / "debian" / "build.sh")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (deb,) = dist.glob("softclock_*.deb")
    root = tmp_path_factory.mktemp("clean-root")
    unpacked = subprocess.run(["dpkg", "-x", str(deb), str(root)], check=False, capture_output=True, text=True)
    assert unpacked.returncode == 0, unpacked.stderr
    info = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Package", "Depends"], check=False, capture_output=True, text=True
    )
    (root / "DEBIAN-fields").write_text(info.stdout)
    return root


def _installed_env(tmp_path: Path, root: Path) -> dict[str, str]:
    """A person's environment for the installed package: nothing from the source tree.
    A frozen app ignores PYTHONPATH, so the test keyring is named in keyring's own
    config file, with keyring-path pointing at the source tree for that one module."""
    config = tmp_path / "config"
    (config / "python_keyring").mkdir(parents=True)
    (config / "python_keyring" / "keyringrc.cfg").write_text(
        f"[backend]\ndefault-keyring = tests.helpers.keyring_backend.MemoryKeyring\nkeyring-path = {ROOT}\n"
    )
    bin_dir = tmp_path / "bin"  # /usr/bin/softclock -> /opt/softclock/softclock, inside the root
    bin_dir.mkdir()
    (bin_dir / "softclock").symlink_to(root / "opt" / "softclock" / "softclock")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHON_KEYRING_BACKEND", "VIRTUAL_ENV")}
    env.update(
        {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(config),
            "XDG_DATA_HOME": str(tmp_path / "data-home"),
            "XDG_DATA_DIRS": str(root / "usr" / "share"),
            "SOFTCLOCK_TEST_KEYRING": str(tmp_path / "keyring.json"),
            "SOFTCLOCK_DATA_DIR": str(tmp_path / "data"),
            "SOFTCLOCK_CONFIG": str(tmp_path / "settings.toml"),
            "QT_QPA_PLATFORM": "offscreen",
            "DISPLAY": ":99",
        }
    )
    return env


@pytest.mark.timeout(1500)
def test_debian_package_lays_out_bundle_entries_icons_and_licences(deb_root: Path) -> None:
    root = deb_root
    fields = (root / "DEBIAN-fields").read_text()
    assert "Package: softclock" in fields and "libc6 (>= " in fields
    link = root / "usr" / "bin" / "softclock"
    assert link.is_symlink() and os.readlink(link) == "/opt/softclock/softclock"
    exe = root / "opt" / "softclock" / "softclock"
    assert exe.stat().st_mode & stat.S_IXOTH
    apps = root / "usr" / "share" / "applications"
    validate = _tool("desktop-file-validate", "desktop-file-utils")
    checked = subprocess.run(
        [validate, str(apps / f"{APP_ID}.desktop"), str(apps / f"{APP_ID}.Dial.desktop")], check=False
    )
    assert checked.returncode == 0
    assert _desktop_keys(apps / f"{APP_ID}.Dial.desktop")["Exec"] == "softclock dial %u"
    for size in ICON_SIZES:
        assert (root / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()
    assert (root / "usr" / "share" / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    internal = root / "opt" / "softclock" / "_internal"
    assert (internal / "softclock" / "resources" / "icons" / "softclock.svg").is_file()
    assert (internal / "softclock" / "resources" / "style.qss").is_file()
    assert list((internal / "softclock" / "store" / "migrations" / "versions").glob("*.py"))
    assert list((internal / "pjsua2").glob("_pjsua2*.so")) and list(
        (internal / "pjsua2_python.libs").glob("libcrypto*")
    )
    # licences: pjsua2's GPL-2.0-or-later text in the copyright file, the written source offer
    doc = root / "usr" / "share" / "doc" / "softclock"
    copyright_text = (doc / "copyright").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in copyright_text and "Version 2, June 1991" in copyright_text
    assert "Files: opt/softclock/_internal/pjsua2/*" in copyright_text and "pjproject 2." in copyright_text
    offer = (doc / "SOURCE-OFFER.txt").read_text()
    assert "WRITTEN OFFER FOR SOURCE CODE" in offer and "pjproject 2." in offer and "@" not in offer.split("Ask:")[0]
    licenses = internal / "licenses"
    assert (licenses / "GPL-2.0.txt").read_text() == (ROOT / "installers" / "licenses" / "GPL-2.0.txt").read_text()
    assert "pjsua2-python" in (licenses / "README.txt").read_text()


@pytest.mark.timeout(1500)
def test_installed_package_starts_and_shows_its_window(deb_root: Path, tmp_path: Path) -> None:
    env = _installed_env(tmp_path, deb_root)
    exe = str(deb_root / "opt" / "softclock" / "softclock")
    version = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("softclock "), version.stderr
    app = InstalledApp([exe], env)
    try:
        app.wait_for_line("main window shown", timeout=60)
    finally:
        code = app.stop()
    assert code == 0, "\n".join(app.lines[-30:])


@pytest.mark.timeout(1500)
def test_installed_package_provisions_the_account_and_dials_a_sip_link(
    deb_root: Path, tmp_path: Path, kamailio
) -> None:  # type: ignore[no-untyped-def]
    """IT's silent provisioning (password on stdin) and a sip: link opened with
    xdg-open, both through the installed package's `softclock`, with the app
    (also the installed one) registered at Kamailio: the call is made and recorded."""
    env = _installed_env(tmp_path, deb_root)
    exe = str(deb_root / "opt" / "softclock" / "softclock")
    (tmp_path / "settings.toml").write_text('[sip]\nbind_address = "127.0.0.1"\nnull_audio = true\n')
    added = subprocess.run(
        [
            "softclock",
            "account",
            "add",
            "--server",
            f"127.0.0.1:{kamailio.port}",
            "--user",
            "alice",
            "--domain",
            "sip.test",
        ],
        check=False,
        input="alicepass\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    assert "alicepass" not in (tmp_path / "settings.toml").read_text()
    xdg_mime = _tool("xdg-mime", "xdg-utils")
    for scheme in SCHEMES:
        subprocess.run(
            [xdg_mime, "default", f"{APP_ID}.Dial.desktop", f"x-scheme-handler/{scheme}"], env=env, check=True
        )
    app = InstalledApp([exe], env)
    try:
        app.wait_for_line("registration shown: Registered as alice@sip.test", timeout=60)
        with sipp.uas(kamailio, "bob", "bobpass", talk_ms=1000) as far:
            opened = subprocess.run(
                ["xdg-open", "sip:bob@sip.test"], check=False, capture_output=True, text=True, env=env, timeout=60
            )
            assert opened.returncode == 0, opened.stderr
            assert far.wait(20) == 0
        app.wait_for_line("ended: answered", timeout=30)
    finally:
        code = app.stop()
    assert code == 0, "\n".join(app.lines[-30:])
    calls = subprocess.run(
        ["softclock", "calls", "--json"], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert '"sip:bob@sip.test"' in calls.stdout, calls.stdout + calls.stderr
