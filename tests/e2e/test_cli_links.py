"""Links clicked in a browser or a mail client reach the running app through ``softclock dial``:
real subprocesses, a real registrar (Kamailio) and a real far end (sipp)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from softclock import secrets
from softclock.settings import AccountSettings, Settings, save
from softclock.ui.application import DesktopApp
from tests.helpers import sipp
from tests.helpers.app_process import AppProcess, add_alice, cli_env, softclock
from tests.helpers.sipfixtures import DEFAULT_USERS

NUMBER = "+12025550143"


def test_callto_and_tel_links_reach_the_running_app(tmp_path: Path, kamailio_factory) -> None:  # type: ignore[no-untyped-def]
    kamailio = kamailio_factory({**DEFAULT_USERS, NUMBER: "numberpass"})
    env = cli_env(tmp_path)
    add_alice(tmp_path, env, kamailio.port)
    app = AppProcess(env)
    try:
        app.wait_for_line("registration shown: Registered as alice@sip.test")
        with sipp.uas(kamailio, NUMBER, "numberpass", talk_ms=1000) as far:
            handed = softclock(["dial", "callto://+1%20(202)%20555-0143"], env)
            assert handed.returncode == 0, handed.stderr
            assert handed.stdout == "Dialling callto://+1%20(202)%20555-0143 in the running Softclock.\n"
            assert far.wait(15) == 0
        app.wait_for_line("ended: answered")
        app.lines.clear()  # from here on, only the second call's log counts
        # An extension cannot go in the user part a PBX reads as digits: the number is dialled, the extension said.
        with sipp.uas(kamailio, NUMBER, "numberpass", talk_ms=1000) as far:
            handed = softclock(["dial", "tel:%2B1-202-555-0143;ext=12"], env)
            assert handed.returncode == 0, handed.stderr
            assert handed.stdout.splitlines() == [
                "Dialling tel:%2B1-202-555-0143;ext=12 in the running Softclock.",
                "Extension 12: type it on the keypad once the call is answered.",
            ]
            assert far.wait(15) == 0
        app.wait_for_line("ended: answered")
    finally:
        code = app.stop()
    assert code == 0, "\n".join(app.lines[-20:])
    calls = json.loads(softclock(["calls", "--json"], env).stdout)
    assert [(c["remote_uri"], c["disposition"]) for c in calls] == [(f"sip:{NUMBER}@sip.test", "answered")] * 2


def test_a_bad_link_is_explained_on_the_command_line_and_in_the_running_app(
    qtbot,
    tmp_path: Path,
    kamailio,  # type: ignore[no-untyped-def]
) -> None:
    settings = Settings()
    settings.sip.bind_address, settings.sip.null_audio = "127.0.0.1", True
    settings.account = AccountSettings(server=f"{kamailio.host}:{kamailio.port}", user="alice", domain="sip.test")
    save(settings, tmp_path / "settings.toml")
    secrets.set_sip_password(settings.account.address, "alicepass")
    app = DesktopApp(tmp_path / "settings.toml", tmp_path / "data")  # listens for later launches, as the real one
    qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))
    try:
        app.window.show()
        qtbot.waitUntil(lambda: app.window.reg_label.text().startswith("Registered as alice@sip.test"), timeout=10000)
        results = []
        link = "tel:1-800-FLOWERS"
        worker = threading.Thread(target=lambda: results.append(softclock(["dial", link], cli_env(tmp_path))))
        worker.start()
        qtbot.waitUntil(lambda: bool(results), timeout=30000)  # the app's event loop answers meanwhile
        worker.join()
        (result,) = results
        sentence = f"Cannot dial {link!r}: a tel: link holds a phone number (digits, a leading + and - . ( ) only)."
        assert (result.returncode, result.stderr, result.stdout) == (2, f"softclock: {sentence}\n", "")
        qtbot.waitUntil(lambda: app.window.dial_error.text() == sentence, timeout=5000)
        assert app.window.dial_edit.text() == link  # left for the person to correct
        assert not app.window.live_calls()
    finally:
        app.shutdown()
