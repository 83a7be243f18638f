"""What the window does with a link handed over by ``softclock dial`` (the IPC message reaches
``MainWindow.dial``). The window and the phone are real; the engine records the calls asked of it.

"""

from __future__ import annotations

import pytest

from softclock.phone import Phone
from softclock.ui.main_window import MainWindow

BAD = "tel:1-800-FLOWERS"
BAD_SAYS = f"Cannot dial {BAD!r}: a tel: link holds a phone number (digits, a leading + and - . ( ) only)."


class _Controller:
    account_configured = True
    demo_running = False
    region = "US"
    recording_policy = "off"


class _Engine:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def make_call(self, uri: str) -> int:
        self.calls.append(uri)
        return len(self.calls)


@pytest.fixture
def window(qtbot):  # type: ignore[no-untyped-def]
    window = MainWindow(_Controller())  # type: ignore[arg-type]
    qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "quitting", True))
    engine = _Engine()
    phone = Phone(engine, "sip.test")  # type: ignore[arg-type]
    phone.ready = True
    window._phone = phone
    window.engine = engine  # type: ignore[attr-defined]
    window.show()
    return window


def test_a_bad_link_is_explained_under_the_dial_box(window: MainWindow) -> None:
    window.dial(BAD)
    assert window.dial_error.text() == BAD_SAYS
    assert window.dial_edit.text() == BAD  # left to correct
    assert window.engine.calls == []  # type: ignore[attr-defined]


def test_a_good_link_is_dialled(window: MainWindow) -> None:
    window.dial("callto://+1%20(202)%20555-0143")
    assert window.engine.calls == ["sip:+12025550143@sip.test"]  # type: ignore[attr-defined]
    assert window.dial_error.text() == ""


def test_a_bad_link_is_shown_whatever_tab_is_open(window: MainWindow) -> None:
    window.tabs.setCurrentIndex(1)
    window.dial(BAD)
    assert window.dial_error.text() == BAD_SAYS
    assert window.dial_error.isVisible()


def test_a_bad_link_is_explained_before_an_account_is_ready(window: MainWindow) -> None:
    window._phone.ready = False  # type: ignore[union-attr]
    window.dial(BAD)
    assert window.dial_error.text() == BAD_SAYS


def test_a_links_extension_is_said_in_the_window(window: MainWindow) -> None:
    window.dial("tel:+12025550143;ext=12")
    assert window.engine.calls == ["sip:+12025550143@sip.test"]  # type: ignore[attr-defined]
    assert "Extension 12" in window.statusBar().currentMessage()
