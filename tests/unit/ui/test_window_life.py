"""Living beside the calls: closing and quitting during a call, the tray, the call keys,
do-not-disturb, bringing the window up on answer, Help > About. The window is real;
the phone is a recorder (the e2e desktop tests drive real calls)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QMessageBox

from softclock import events as ev
from softclock.ui.main_window import MainWindow

NOW = datetime.now(UTC).replace(tzinfo=None)


class _Controller:
    account_configured = True
    demo_running = False
    region = "US"
    recording_policy = "off"


class _Phone:
    """Records what the window asks of the phone."""

    ready = True
    last_dialled = ""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def answer(self, handle: int) -> None:
        self.asked.append(("answer", handle))

    def decline(self, handle: int, busy: bool = True) -> None:
        self.asked.append(("decline", handle))

    def hangup(self, handle: int) -> None:
        self.asked.append(("hangup", handle))

    def hold(self, handle: int) -> None:
        self.asked.append(("hold", handle))

    def resume(self, handle: int) -> None:
        self.asked.append(("resume", handle))

    def mute(self, handle: int, on: bool) -> None:
        self.asked.append(("mute" if on else "unmute", handle))


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    window = MainWindow(_Controller())  # type: ignore[arg-type]
    qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
    window._phone = _Phone()  # type: ignore[assignment]
    window.show()
    return window


def _ring(window: MainWindow, handle: int = 7) -> None:
    window.on_sip_event(
        ev.CallRinging(0.0, NOW, f"c{handle}", handle, ev.Direction.INCOMING, "alice@x", "sip:+12025550143@x", "Pat")
    )


def _answer_box(window: MainWindow, button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Click ``button`` of the window's question once it is up (it runs its own event loop)."""

    def click() -> None:
        box = window.confirm_box
        if not isinstance(box, QMessageBox) or not box.isVisible():
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, click)


def test_a_ringing_call_offers_answer_and_decline_but_not_hang_up(window: MainWindow) -> None:
    _ring(window)
    widget = window._views[7].widget
    assert not widget.answer_button.isHidden() and not widget.decline_button.isHidden()
    assert widget.hangup_button.isHidden()
    ringing = window._incoming[7]
    assert ringing.width() >= 360  # not a 183 px sliver with its title cut


def test_closing_during_a_call_without_a_tray_asks_and_keeping_the_call_keeps_the_window(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    _ring(window)
    window.on_sip_event(ev.CallConnected(1.0, NOW, "c7", 7))
    seen: list[str] = []
    _answer_box(window, QMessageBox.StandardButton.No, seen)
    window.close()
    assert seen == ["A call is in progress. Quitting hangs up; the time so far is kept."]
    assert window.isVisible() and window._phone.asked == []
    _answer_box(window, QMessageBox.StandardButton.Yes, seen)
    window.close()
    assert not window.isVisible() and len(seen) == 2


def test_closing_with_no_call_and_no_tray_just_closes(window: MainWindow) -> None:
    window.close()
    assert not window.isVisible()


def test_with_a_tray_closing_hides_the_window_and_quit_is_explicit(qtbot, window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from softclock.ui.tray import Tray

    tray = Tray(window)
    tray.quit_requested.connect(window.quit)  # as DesktopApp.show_tray wires it
    tray.show()
    window.tray = tray
    window.close()
    assert not window.isVisible()  # hidden, the phone keeps running
    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", lambda: quits.append(True))
    tray.quit_action.trigger()
    assert quits == [True]


def test_the_tray_follows_registration_and_the_call(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from softclock.ui.tray import Tray

    tray = Tray(window)
    window.tray = tray
    window.on_sip_event(
        ev.RegistrationChanged(0.0, NOW, ev.RegState.REGISTERED, "alice@x", 200, "OK", "Registered as alice@x")
    )
    assert tray.tooltip == "Softclock: Registered as alice@x"

    class _Capture:  # what the window reads of capture's memory
        def talk_seconds(self, handle: int) -> float:
            return 65.0

        def matter_of(self, handle: int) -> None:
            return None

    window._capture = _Capture()  # type: ignore[assignment]
    _ring(window)
    window.on_sip_event(ev.CallConnected(1.0, NOW, "c7", 7))
    assert tray.tooltip.startswith("On a call with Pat") and tray.tooltip.endswith("0:01:05")


def test_the_call_keys_answer_hang_up_hold_and_mute(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    _ring(window)
    window.answer_action.trigger()
    assert window._phone.asked[-1] == ("answer", 7)
    window.on_sip_event(ev.CallConnected(1.0, NOW, "c7", 7))
    window.hold_action.trigger()
    window.mute_action.trigger()
    window.hangup_action.trigger()
    assert window._phone.asked[1:] == [("hold", 7), ("mute", 7), ("hangup", 7)]
    assert window.answer_action.shortcut().toString() == "Ctrl+Shift+A"
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"


def test_do_not_disturb_declines_a_call_as_busy_and_says_so(window: MainWindow) -> None:
    window.dnd_action.setChecked(True)
    _ring(window)
    assert window._phone.asked == [("decline", 7)]
    assert 7 not in window._incoming
    assert window.statusBar().currentMessage().startswith("Declined a call from Pat")


def test_answering_brings_the_window_up_on_the_phone_tab(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    window.tabs.setCurrentIndex(1)
    window.showMinimized()
    _ring(window)
    qtbot.mouseClick(window._incoming[7].answer_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentIndex() == 0 and not window.isMinimized()


def test_every_control_has_a_name_a_screen_reader_can_say(window: MainWindow) -> None:
    _ring(window)
    nameless = [
        w.objectName() or type(w).__name__
        for root in (window, window._incoming[7])
        for w in root.findChildren(QAbstractButton) + root.findChildren(QLineEdit)
        if not (w.accessibleName() or (isinstance(w, QAbstractButton) and w.text().strip())) and w.isVisibleTo(root)
    ]
    assert nameless == []


def test_help_about_shows_the_version_licence_and_log(window: MainWindow) -> None:
    from softclock import __version__

    window.log_path = "/tmp/x/softclock.log"
    window.about_action.trigger()
    text = window.about_box.text()  # type: ignore[union-attr]
    assert f"Softclock {__version__}" in text and "GPL-2.0-or-later" in text and "/tmp/x/softclock.log" in text
