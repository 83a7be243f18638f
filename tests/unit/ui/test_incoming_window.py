"""The ringing window is built ahead, at idle, and handed out when a call rings."""

from __future__ import annotations

from softclock.ui.incoming import IncomingCallWindow


def test_the_window_built_ahead_is_the_one_the_next_call_gets(qtbot) -> None:  # type: ignore[no-untyped-def]
    IncomingCallWindow.prepare()
    spare = IncomingCallWindow._spare
    assert spare is not None and not spare.isVisible()
    window = IncomingCallWindow.take(7, "Bob <b>x</b>", "+1 212-555-0100", "")
    qtbot.addWidget(window)
    assert window is spare and IncomingCallWindow._spare is None
    assert window.handle == 7
    assert window.windowTitle() == "Incoming call — Bob <b>x</b>"
    assert window.name_label.text() == "Bob <b>x</b>" and window.number_label.text() == "+1 212-555-0100"
    clicked: list[int] = []
    window.answer_clicked.connect(clicked.append)
    window.answer_button.click()
    assert clicked == [7]
    # Nothing built ahead: the next call gets a window of its own, the same.
    other = IncomingCallWindow.take(8, "", "+1 212-555-0101", "Likely: Acme")
    qtbot.addWidget(other)
    assert other is not window and other.name_label.text() == "+1 212-555-0101"
    assert other.number_label.text() == "" and other.hint_label.text() == "Likely: Acme"
