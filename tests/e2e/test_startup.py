"""Start-up order: the window is painted before the store, SQLAlchemy, the keyring
and pjsua2 are imported, and the core is built after it (issue 13).

The timings themselves are measured by bench/startup.py and bench/desktop.py
(from outside the process, X server map events); these tests only hold the
order, which is what makes them possible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers.app_process import ROOT, cli_env

HEAVY = (
    "sqlalchemy",
    "pjsua2",
    "keyring",
    "alembic",
    "PySide6.QtNetwork",
    "softclock.store",
    "softclock.sip.demo",
    "softclock.ui.account_dialog",
    "softclock.notify",
)

_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import softclock.ui.application as application

    HEAVY = {heavy!r}
    seen = {{}}
    start = application.DesktopApp.start_background

    def probe(self, then=None):
        seen["at_first_paint"] = sorted(m for m in HEAVY if m in sys.modules)
        seen["window_visible"] = self.window.isVisible()
        start(self, then)

    def attached(self):
        seen["core_built"] = True
        seen["after_core"] = sorted(m for m in HEAVY if m in sys.modules)
        QTimer.singleShot(0, QApplication.instance().quit)

    application.DesktopApp.start_background = probe
    password = application.DesktopApp._password

    def at_engine(account):  # asked on the start-up thread once the SIP engine is up
        seen["at_engine"] = sorted(m for m in HEAVY if m in sys.modules)
        return password(account)

    application.DesktopApp._password = staticmethod(at_engine)
    original_attach = application.DesktopApp._attach

    def attach(self, *args):
        original_attach(self, *args)
        attached(self)

    application.DesktopApp._attach = attach
    code = application.run_gui(Path(sys.argv[1]), Path(sys.argv[2]))
    print("PROBE " + json.dumps(seen))
    sys.exit(code)
    """
)


def test_the_window_is_painted_before_the_heavy_imports_and_the_core_follows(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('[sip]\nbind_address = "127.0.0.1"\nnull_audio = true\n')
    env = cli_env(tmp_path, SOFTCLOCK_QUIT_AFTER_MS="60000")
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), str(tmp_path / "settings.toml"), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=90,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, out.stderr[-3000:]
    seen = json.loads(line[len("PROBE ") :])
    assert seen["window_visible"] is True
    assert seen["at_first_paint"] == []
    # The account registers before SQLAlchemy and the store are imported.
    assert "pjsua2" in seen["at_engine"] and not {"sqlalchemy", "softclock.store"} & set(seen["at_engine"])
    assert seen.get("core_built") is True, out.stderr[-3000:]
    assert {"sqlalchemy", "pjsua2", "softclock.store"} <= set(seen["after_core"])


def test_importing_the_shell_loads_none_of_the_later_modules() -> None:
    code = f"import sys, softclock.ui.application; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=cli_env(Path("/nonexistent")),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_running_app_is_found_without_qtnetwork(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from softclock.paths import runtime_socket_name
    from softclock.ui.application import _may_be_running
    from softclock.ui.ipc import InstanceServer

    name = runtime_socket_name(tmp_path / "data")
    assert not _may_be_running(name)
    server = InstanceServer(name)
    try:
        assert _may_be_running(name)
    finally:
        server.close()
    assert not _may_be_running(name)


def test_the_cheaper_pyside_check_answers_as_pysides_own() -> None:
    import importlib
    import sys

    from PySide6.support import feature

    import softclock.ui.qtstart  # noqa: F401 - installs it

    check = feature._mod_uses_pyside
    assert getattr(check, "_softclock", False), "PySide6 changed: softclock.ui.qtstart no longer applies"
    for name in (
        "softclock.ui.main_window",
        "softclock.ui.bridge",
        "softclock.events",
        "json",
        "sys",
        "PySide6.QtCore",
    ):
        module = importlib.import_module(name)
        assert check(module) == check.original(module), name
    samples = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None)][:300]
    assert [check(m) for m in samples] == [check.original(m) for m in samples]
    assert check(importlib.import_module("softclock.ui.main_window")) is True
    assert check(importlib.import_module("json")) is False
