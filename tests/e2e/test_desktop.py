"""The real desktop app (in-process, offscreen) against Kamailio and sipp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import select

from softclock import events as ev
from softclock import secrets
from softclock.settings import AccountSettings, Settings, save
from softclock.store import queries
from softclock.store.models import Call, TimeEntry
from softclock.ui.application import DesktopApp
from tests.helpers import sipp
from tests.helpers.qt import answer_when_shown


def _settings(tmp_path: Path, account: AccountSettings | None = None, demo_call_s: int = 30) -> Path:
    settings = Settings()
    settings.sip.bind_address = "127.0.0.1"
    settings.sip.null_audio = True
    settings.demo.call_s = demo_call_s
    if account is not None:
        settings.account = account
    path = tmp_path / "settings.toml"
    save(settings, path)
    return path


def _account(kamailio, **kw: object) -> AccountSettings:  # type: ignore[no-untyped-def]
    return AccountSettings(
        server=f"{kamailio.host}:{kamailio.port}",
        user="alice",
        domain=kamailio.domain,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_app(qtbot, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    apps: list[DesktopApp] = []

    def make(account: AccountSettings | None = None, password: str | None = None, demo_call_s: int = 30) -> DesktopApp:
        if account is not None and password is not None:
            secrets.set_sip_password(account.address, password)
        app = DesktopApp(_settings(tmp_path, account, demo_call_s), tmp_path / "data")
        qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
        app.window.show()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()


def _ended_today_row(qtbot, app: DesktopApp) -> list[str]:  # type: ignore[no-untyped-def]
    """The Today list's one row once it shows the call ended (it is listed in progress first)."""
    today = app.window.today

    def ended() -> bool:
        return today.topLevelItemCount() == 1 and today.topLevelItem(0).text(4) != "In progress"

    qtbot.waitUntil(ended, timeout=5000)
    return [today.topLevelItem(0).text(i) for i in range(5)]


def _wait_registration(qtbot, app: DesktopApp, prefix: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: app.window.reg_label.text().startswith(prefix), timeout=10000)


def test_welcome_offers_setup_and_demo(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    assert app.window.welcome.isVisible()
    assert app.window.setup_button.text() == "Set up an account"
    assert app.window.demo_button.text() == "Start the demo line"


def test_wrong_password_is_shown(qtbot, make_app, kamailio) -> None:  # type: ignore[no-untyped-def]
    app = make_app(_account(kamailio), "wrong-password")
    _wait_registration(qtbot, app, "Wrong username or password")
    assert app.window.reg_label.property("state") == "failed"
    assert "wrong-password" not in app.window.reg_label.text()


def test_unparseable_dial_string_is_explained(qtbot, make_app, kamailio) -> None:  # type: ignore[no-untyped-def]
    app = make_app(_account(kamailio), "alicepass")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    qtbot.keyClicks(app.window.dial_edit, "call my client please")
    qtbot.keyClick(app.window.dial_edit, Qt.Key.Key_Return)
    assert "characters a number or SIP address cannot have" in app.window.dial_error.text()
    assert app.window.dial_edit.text() == "call my client please"


def test_incoming_call_answered_by_click_and_tagged_by_typing(qtbot, make_app, kamailio) -> None:  # type: ignore[no-untyped-def]
    app = make_app(_account(kamailio), "alicepass")
    with app.core.store.session() as s, s.begin():
        queries.add_matter(s, "2024-001", "Contract review", "Acme Corp")
        queries.add_matter(s, "2024-002", "Lease dispute", "Beta LLC")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    with sipp.uac(kamailio, "alice", talk_ms=2500, from_user="+12025550143", display_name="Pat Caller") as far:
        with qtbot.waitSignal(app.window.ringing_shown, timeout=10000) as ringing:
            pass
        call_id = ringing.args[0]
        window = app.window._incoming[app.window._by_call_id[call_id]]
        assert window.isVisible()
        assert window.name_label.text() == "Pat Caller"
        assert "+1 202-555-0143" in window.number_label.text()
        qtbot.mouseClick(window.answer_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: app.window.prompt.isVisible(), timeout=5000)
        view = app.window._views[app.window._by_call_id[call_id]]
        qtbot.waitUntil(lambda: view.widget.timer_label.isVisible(), timeout=5000)
        qtbot.keyClicks(app.window.prompt.filter_edit, "beta")
        qtbot.waitUntil(lambda: not app.window.prompt.searching)  # searched off the UI thread
        assert app.window.prompt.results.count() == 1
        qtbot.keyClick(app.window.prompt.filter_edit, Qt.Key.Key_Return)
        assert not app.window.prompt.isVisible()
        qtbot.waitUntil(lambda: "2024-002" in view.widget.matter_label.text(), timeout=5000)  # read on the worker
        # The call in progress is in the Today list already.
        qtbot.waitUntil(lambda: app.window.today.topLevelItemCount() == 1, timeout=5000)
        assert app.window.today.topLevelItem(0).text(4) == "In progress"
        with qtbot.waitSignal(
            app.bridge.event_arrived, timeout=10000, check_params_cb=lambda e: isinstance(e, ev.CallEnded)
        ):
            pass
        assert far.wait(10) == 0
    with app.core.store.session() as s:
        entry = s.scalars(select(TimeEntry)).one()
        call = s.scalars(select(Call)).one()
        assert entry.matter is not None and entry.matter.code == "2024-002"
    assert call.disposition == "answered"
    assert 1.5 < entry.raw_seconds < 2.7  # answered by a click some time after ringing began
    texts = _ended_today_row(qtbot, app)
    assert texts[1] == "← Pat Caller"
    assert texts[2].startswith("2024-002")


def test_outgoing_call_shows_live_timer_and_lands_in_today(qtbot, make_app, kamailio) -> None:  # type: ignore[no-untyped-def]
    app = make_app(_account(kamailio), "alicepass")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=2200, ring_ms=500) as far:
        qtbot.keyClicks(app.window.dial_edit, "bob")
        qtbot.keyClick(app.window.dial_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: app.window.prompt.isVisible(), timeout=5000)
        (view,) = app.window._views.values()
        qtbot.waitUntil(lambda: view.widget.timer_label.text() == "0:00:01", timeout=5000)
        qtbot.mouseClick(app.window.prompt.later_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.ended, timeout=10000)
        assert far.wait(10) == 0
    assert view.widget.state_label.text().startswith("Call ended")
    texts = _ended_today_row(qtbot, app)
    assert texts[2] == "Unassigned"
    assert texts[3] == "0:00:02"


def test_missed_call_shows_in_today_without_time(qtbot, make_app, kamailio) -> None:  # type: ignore[no-untyped-def]
    app = make_app(_account(kamailio), "alicepass")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    with sipp.uac(kamailio, "alice", cancel_after_ms=600) as far:
        with qtbot.waitSignal(app.window.ringing_shown, timeout=10000):
            pass
        qtbot.waitUntil(lambda: not app.window._incoming, timeout=10000)
        assert far.wait(10) == 0
    texts = _ended_today_row(qtbot, app)
    assert texts[3] == "no billable time"
    assert texts[4] == "Missed"


def test_demo_line_rings_and_answers(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    with qtbot.waitSignal(app.demo_ready, timeout=15000):
        qtbot.mouseClick(app.window.demo_button, Qt.MouseButton.LeftButton)
    assert not app.window.welcome.isVisible()
    assert app.window.statusBar().currentMessage().startswith("Demo line ready")
    qtbot.mouseClick(app.window.call_button, Qt.MouseButton.LeftButton)
    (view,) = app.window._views.values()
    assert app.window.statusBar().currentMessage() == ""  # "press Call" is stale once the call is up
    qtbot.waitUntil(lambda: view.connected, timeout=10000)
    qtbot.mouseClick(view.widget.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.ended, timeout=10000)
    # And the demo client calls us: it rings here.
    with qtbot.waitSignal(app.window.ringing_shown, timeout=10000):
        qtbot.mouseClick(app.window.demo_call_me_button, Qt.MouseButton.LeftButton)
    (handle,) = app.window._incoming
    qtbot.mouseClick(app.window._incoming[handle].decline_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.window._views[handle].ended, timeout=10000)
    with app.core.store.session() as s:
        dispositions = sorted(c.disposition for c in s.scalars(select(Call)))
    assert dispositions == ["answered", "declined"]


def test_the_demo_lines_buttons_go_once_an_account_exists(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    with qtbot.waitSignal(app.demo_ready, timeout=15000):
        qtbot.mouseClick(app.window.demo_button, Qt.MouseButton.LeftButton)
    assert app.window.demo_call_me_button.isVisible()
    # A registrar that is not there: the account exists all the same.
    app.apply_account(AccountSettings(server="127.0.0.1:9", user="alice", domain="sip.test"), "alicepass")
    assert not app.demo_running
    assert not app.window.demo_call_me_button.isVisible()
    assert not app.window.demo_button.isVisible() and not app.window.welcome.isVisible()


def test_the_demo_client_hangs_up_after_its_call_length(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    """[demo] call_s: the demo client's call to us ends by itself (it used to talk until we hung up)."""
    app = make_app(demo_call_s=1)
    with qtbot.waitSignal(app.demo_ready, timeout=15000):
        qtbot.mouseClick(app.window.demo_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(app.window.ringing_shown, timeout=10000):
        qtbot.mouseClick(app.window.demo_call_me_button, Qt.MouseButton.LeftButton)
    (handle,) = app.window._incoming
    qtbot.mouseClick(app.window._incoming[handle].answer_button, Qt.MouseButton.LeftButton)
    view = app.window._views[handle]
    qtbot.waitUntil(lambda: view.connected, timeout=10000)
    qtbot.waitUntil(lambda: view.ended, timeout=10000)  # nobody here pressed Hang up


def test_quitting_mid_call_keeps_the_call(qtbot, make_app, kamailio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from softclock.store.db import open_store

    app = make_app(_account(kamailio), "alicepass")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=30000, hangup="remote") as far:
        app.window.dial("bob")
        (view,) = app.window._views.values()
        qtbot.waitUntil(lambda: view.connected, timeout=5000)
        qtbot.waitUntil(lambda: view.widget.timer_label.text() == "0:00:01", timeout=5000)
        app.shutdown()
        assert far.wait(10) == 0
    store = open_store(tmp_path / "data")
    with store.session() as s:
        call = s.scalars(select(Call)).one()
        entry = s.scalars(select(TimeEntry)).one()
    store.close()
    assert call.disposition == "answered" and not call.recovered
    assert entry.raw_seconds >= 1.0


def test_account_setup_without_a_keyring_says_so_and_saves_nothing(qtbot, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import keyring
    import keyring.backends.fail
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from softclock.ui.account_dialog import AccountDialog

    app = make_app()
    seen: list[str] = []

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, AccountDialog)
        dialog.server_edit.setText("pbx.example.org")
        dialog.user_edit.setText("alice")
        dialog.password_edit.setText("Sup3r-Secret")
        QTimer.singleShot(0, read_error)
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton)

    def read_error() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, AccountDialog)
        seen.append(dialog.error_label.text())
        dialog.reject()

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        QTimer.singleShot(0, fill)
        app.open_account_setup(app.window)
    finally:
        keyring.set_keyring(previous)
    assert seen and seen[0].startswith("No usable keyring backend")
    assert "Sup3r-Secret" not in (tmp_path / "settings.toml").read_text()
    assert 'server = ""' in (tmp_path / "settings.toml").read_text()
    assert not app.account_configured


def test_hold_and_mute_buttons_follow_the_call(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    with qtbot.waitSignal(app.demo_ready, timeout=15000):
        qtbot.mouseClick(app.window.demo_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(app.window.call_button, Qt.MouseButton.LeftButton)
    (view,) = app.window._views.values()
    qtbot.waitUntil(lambda: view.connected, timeout=10000)
    widget = view.widget
    assert widget.controls.isVisible()
    qtbot.mouseClick(widget.hold_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.state_label.text() == "On hold", timeout=5000)
    assert widget.hold_button.text() == "Resume"
    qtbot.mouseClick(widget.hold_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.state_label.text() == "Connected", timeout=5000)
    qtbot.mouseClick(widget.mute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.mute_button.text() == "Unmute", timeout=5000)
    qtbot.mouseClick(widget.keypad_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(widget.keypad_edit, "5x")
    assert "not a keypad key" in app.window.statusBar().currentMessage()
    qtbot.mouseClick(widget.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.ended, timeout=10000)
    assert not widget.controls.isVisible()
    # Redial calls the demo line again.
    qtbot.mouseClick(app.window.redial_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(v.connected and not v.ended for v in app.window._views.values()), timeout=10000)


def _wav_rms(path: Path) -> tuple[float, float]:
    """(seconds, RMS of 16-bit samples) of a finished WAV file."""
    import array
    import math
    import wave

    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    samples = array.array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return seconds, rms


def test_always_record_policy_records_after_the_notice(qtbot, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time as _time
    import wave

    app = make_app()
    app.core.settings.recording.policy = "always"
    with qtbot.waitSignal(app.demo_ready, timeout=15000):
        qtbot.mouseClick(app.window.demo_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(app.window.call_button, Qt.MouseButton.LeftButton)
    (view,) = app.window._views.values()
    qtbot.waitUntil(lambda: view.connected, timeout=10000)
    assert not view.widget.recording_label.isVisible()  # the notice plays first
    qtbot.waitUntil(lambda: view.widget.recording_label.isVisible(), timeout=5000)
    qtbot.wait(2500)  # let the demo line's 440 Hz beeps (every 2 s) reach the recording
    qtbot.mouseClick(view.widget.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.ended and not view.widget.recording_label.isVisible(), timeout=10000)
    with app.core.store.session() as s:
        call = s.scalars(select(Call)).one()
    assert call.recording_path is not None
    path = Path(call.recording_path)
    assert path.parent == tmp_path / "data" / "recordings"
    assert path.stat().st_mode & 0o777 == 0o600
    deadline = _time.monotonic() + 5
    while True:  # pjmedia finishes the WAV header shortly after the recorder is deleted
        try:
            seconds, rms = _wav_rms(path)
            if seconds > 0:
                break
        except (wave.Error, EOFError):
            pass
        assert _time.monotonic() < deadline, "the recording never became a complete WAV"
        qtbot.wait(100)
    assert 2.0 < seconds < 6.0
    assert rms > 100  # the beeps, not silence


def test_review_tab_edits_and_approves(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, date, datetime

    from softclock.store.models import TimeEntry

    app = make_app()
    now = datetime.now(UTC).replace(tzinfo=None)
    with app.core.store.session() as s, s.begin():
        matter = queries.add_matter(s, "2024-001", "Lease", "Acme")
        for matter_id, raw in ((matter.id, 400.0), (None, 90.0)):
            s.add(
                TimeEntry(
                    timekeeper="me",
                    matter_id=matter_id,
                    work_date=date.today(),
                    started_utc=now,
                    raw_seconds=raw,
                    created_utc=now,
                    updated_utc=now,
                )
            )
    review = app.window.review
    with qtbot.waitSignal(review.drafts_shown, timeout=5000):  # read on the database worker
        review.refresh()
    assert review.table.rowCount() == 2
    rows = {review.table.item(r, 2).text(): r for r in range(2)}
    assert review.table.item(rows["2024-001 — Acme"], 4).text() == "2 × 6 min"
    assert review.table.item(rows["Unassigned"], 5).text() == "unassigned"
    review.table.item(rows["2024-001 — Acme"], 6).setText("Lease terms")
    review.table.selectAll()
    said: list[str] = []
    answer_when_shown(lambda: review.confirm_box, QMessageBox.StandardButton.Ok, said)
    qtbot.mouseClick(review.approve_button, Qt.MouseButton.LeftButton)
    assert said == ["1 entry has no matter: a billable entry needs one, so they stay drafts (Edit… chooses a matter)."]
    qtbot.waitUntil(lambda: "Approved 1." in review.message.text())  # approved off the UI thread
    assert "a billable entry needs a matter" in review.message.text()
    qtbot.waitUntil(lambda: review.table.rowCount() == 1, timeout=5000)  # shown again once read
    with app.core.store.session() as s:
        approved = s.scalars(select(TimeEntry).where(TimeEntry.status == "approved")).one()
        assert (approved.narrative, approved.billed_units) == ("Lease terms", 2)


def test_a_restart_keeps_the_sip_port(qtbot, make_app) -> None:  # type: ignore[no-untyped-def]
    first = make_app()
    port = first.core.engine.local_port
    first.shutdown()
    second = make_app()
    assert second.core.engine.local_port == port


def test_a_call_while_the_store_is_locked_is_kept_shown_and_written_later(qtbot, make_app, kamailio) -> None:  # type: ignore[no-untyped-def]
    """Another program holds the store's write lock (a long import) for the whole call: the window
    says at once that calls are not being recorded and why, and once the lock is gone the call is
    in the store with its right duration."""
    import sqlite3

    from softclock.store.db import DB_NAME

    app = make_app(_account(kamailio), "alicepass")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    other = sqlite3.connect(app.core.store.path, isolation_level=None)
    assert app.core.store.path.name == DB_NAME
    other.execute("BEGIN IMMEDIATE")
    try:
        with sipp.uac(kamailio, "alice", talk_ms=2000, from_user="+12025550143") as far:
            with qtbot.waitSignal(app.window.ringing_shown, timeout=10000) as ringing:
                pass
            handle = app.window._by_call_id[ringing.args[0]]
            qtbot.waitUntil(lambda: app.window.store_banner.isVisible(), timeout=5000)
            assert "locked" in app.window.store_banner.text()
            qtbot.mouseClick(app.window._incoming[handle].answer_button, Qt.MouseButton.LeftButton)
            with qtbot.waitSignal(
                app.bridge.event_arrived, timeout=10000, check_params_cb=lambda e: isinstance(e, ev.CallEnded)
            ):
                pass
            assert far.wait(10) == 0
        assert app.window.store_banner.isVisible()
        assert "Call ended" in app.window._views[handle].widget.state_label.text()
    finally:
        other.execute("ROLLBACK")
        other.close()
    qtbot.waitUntil(lambda: not app.window.store_banner.isVisible(), timeout=10000)
    with app.core.store.session() as s:
        call = s.scalars(select(Call)).one()
        entry = s.scalars(select(TimeEntry)).one()
    assert call.disposition == "answered"
    assert 1.5 < call.talk_seconds < 2.5 and entry.raw_seconds == pytest.approx(call.talk_seconds)


def test_a_read_only_data_directory_at_start_is_said_and_the_call_kept(qtbot, tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    """Started on a read-only data directory: no traceback, the window says calls are not being
    recorded and why, a call is held; once the directory is writable the call is in the store."""
    import subprocess

    from softclock.store.db import open_store
    from tests.unit.test_capture_faults import _mount_tmpfs

    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "8m")
    app = None
    try:
        open_store(disk / "data").close()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        secrets.set_sip_password("alice@sip.test", "alicepass")
        app = DesktopApp(_settings(tmp_path, _account(kamailio)), disk / "data")
        qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
        app.window.show()
        qtbot.waitUntil(app.window.store_banner.isVisible, timeout=5000)  # said on the event loop's first turns
        assert "cannot write the data directory" in app.window.store_banner.text()
        _wait_registration(qtbot, app, "Registered as alice@sip.test")
        with sipp.uac(kamailio, "alice", talk_ms=1500, from_user="+12025550143") as far:
            with qtbot.waitSignal(app.window.ringing_shown, timeout=10000) as ringing:
                pass
            qtbot.mouseClick(
                app.window._incoming[app.window._by_call_id[ringing.args[0]]].answer_button, Qt.MouseButton.LeftButton
            )
            with qtbot.waitSignal(
                app.bridge.event_arrived, timeout=10000, check_params_cb=lambda e: isinstance(e, ev.CallEnded)
            ):
                pass
            assert far.wait(10) == 0
        assert app.window.store_banner.isVisible()
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        qtbot.waitUntil(lambda: not app.window.store_banner.isVisible(), timeout=10000)
        with app.core.store.session() as s:
            call = s.scalars(select(Call)).one()
        assert app.core.store.path == disk / "data" / "softclock.db"
        assert call.disposition == "answered" and 0.8 < call.talk_seconds < 2.0
    finally:
        if app is not None:
            app.shutdown()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_bug_in_capture_is_reported_once_and_the_call_goes_on(qtbot, make_app, kamailio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(_account(kamailio), "alicepass")
    _wait_registration(qtbot, app, "Registered as alice@sip.test")
    real = app.core.capture.handle

    def buggy(event: ev.Event) -> None:
        if isinstance(event, ev.CallHoldChanged | ev.CallConnected):
            raise AttributeError("'NoneType' object has no attribute 'matter_id'")
        real(event)

    app.core.capture.handle = buggy
    with sipp.uac(kamailio, "alice", talk_ms=1000, from_user="+12025550143") as far:
        with qtbot.waitSignal(app.window.ringing_shown, timeout=10000) as ringing:
            pass
        qtbot.mouseClick(
            app.window._incoming[app.window._by_call_id[ringing.args[0]]].answer_button, Qt.MouseButton.LeftButton
        )
        with qtbot.waitSignal(
            app.bridge.event_arrived, timeout=10000, check_params_cb=lambda e: isinstance(e, ev.CallEnded)
        ):
            pass
        assert far.wait(10) == 0
    qtbot.waitUntil(lambda: app.window.bug_box is not None and app.window.bug_box.isVisible())
    assert "Something went wrong" in app.window.bug_box.text()
    reports = list((tmp_path / "data" / "crash-reports").glob("bug-*.txt"))
    assert reports and "AttributeError" in reports[0].read_text()
    assert str(reports[0]) in app.window.bug_box.text()
    with app.core.store.session() as s:  # the call is recorded all the same (ended without an answer)
        assert s.scalars(select(Call.disposition)).one() in ("answered", "missed")


def test_one_person_owns_the_entry_and_signs_every_change_in_the_trail(qtbot, tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    """[billing] timekeeper differs from the SIP user and the OS login: the entry, a matter chosen
    after the call and the approval in the Review tab all name that one person."""
    from softclock.store.models import AuditEvent

    settings = Settings()
    settings.sip.bind_address = "127.0.0.1"
    settings.sip.null_audio = True
    settings.account = _account(kamailio)
    settings.billing.timekeeper = "atty-jones"
    path = tmp_path / "settings.toml"
    save(settings, path)
    secrets.set_sip_password("alice@sip.test", "alicepass")
    app = DesktopApp(path, tmp_path / "data")
    qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
    try:
        with app.core.store.session() as s, s.begin():
            matter = queries.add_matter(s, "2024-009", "Estate", "Gamma").id
        _wait_registration(qtbot, app, "Registered as alice@sip.test")
        with sipp.uac(kamailio, "alice", talk_ms=1000, from_user="+12025550143") as far:
            with qtbot.waitSignal(app.window.ringing_shown, timeout=10000) as ringing:
                pass
            handle = app.window._by_call_id[ringing.args[0]]
            qtbot.mouseClick(app.window._incoming[handle].answer_button, Qt.MouseButton.LeftButton)
            with qtbot.waitSignal(
                app.bridge.event_arrived, timeout=10000, check_params_cb=lambda e: isinstance(e, ev.CallEnded)
            ):
                pass
            assert far.wait(10) == 0
        app.window._on_prompt_matter_chosen(str(handle), matter)  # chosen after the call ended
        with qtbot.waitSignal(app.window.review.drafts_shown, timeout=5000):  # read on the database worker
            app.window.review.refresh()
        app.window.review.table.selectAll()
        answer_when_shown(lambda: app.window.review.confirm_box, QMessageBox.StandardButton.Ok)  # a short call
        qtbot.mouseClick(app.window.review.approve_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: app.window.review.message.text().startswith("Approved 1"), timeout=10000)
        with app.core.store.session() as s:
            owners = set(s.scalars(select(TimeEntry.timekeeper)))
            actors = {a for a in s.scalars(select(AuditEvent.actor)) if a != "capture"}
            fields = {f for f in s.scalars(select(AuditEvent.field).where(AuditEvent.actor == "atty-jones"))}
        assert owners == {"atty-jones"}
        assert actors == {"atty-jones"}
        assert {"matter_id", "status"} <= fields
    finally:
        app.shutdown()


def test_an_incoming_call_is_answered_from_its_desktop_notification(qtbot, make_app, kamailio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real call through Kamailio raises a notification (on a private dbus-daemon) naming the
    caller with Answer and Decline; clicking Answer answers it, and the notification goes away."""
    from tests.helpers.notifications import notification_bus

    with notification_bus(tmp_path) as server:
        app = make_app(_account(kamailio), "alicepass")
        app.start_notifications(server.address)
        assert app.notifier is not None and app.notifier.available.wait(5), app.notifier and app.notifier.failed
        _wait_registration(qtbot, app, "Registered as alice@sip.test")
        with sipp.uac(kamailio, "alice", talk_ms=1500, from_user="+12025550143", display_name="Pat Caller") as far:
            qtbot.waitUntil(lambda: len(server.shown) >= 1, timeout=10000)  # the event loop runs meanwhile
            shown = server.shown[0]
            assert shown["summary"] == "Incoming call: Pat Caller"
            assert "+1 202-555-0143" in str(shown["body"]) and shown["actions"][::2] == ["answer", "decline"]  # type: ignore[index]
            server.click(int(shown["id"]), "answer")  # type: ignore[call-overload]
            (view,) = app.window._views.values()
            qtbot.waitUntil(lambda: view.connected, timeout=5000)
            qtbot.waitUntil(lambda: shown["id"] in server.closed, timeout=5000)
            assert far.wait(10) == 0
