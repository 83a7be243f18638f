"""A caller's display name and user part, and the far end's reason phrases,
are shown inert: controls and bidi overrides as visible escapes, never as
line breaks, direction changes or HTML."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from softclock import events as ev
from softclock.store.db import Store, open_store
from softclock.store.models import Call, Client, Matter, TimeEntry
from softclock.textsafe import printable
from softclock.ui.call_widget import CallWidget
from softclock.ui.incoming import IncomingCallWindow
from softclock.ui.main_window import MainWindow
from softclock.ui.review_view import ReviewView
from softclock.ui.today import TodayList
from tests.helpers.entries import make_entry, make_matter

HOSTILE = "Bob\x1b[2J\x07\t|\r\n\x00\x7f\x9b\u202eevil\u2066x\u2069\u200e\u200f\u061c"
SHOWN = "Bob\\x1b[2J\\x07\\t|\\r\\n\\x00\\x7f\\x9b\\u202eevil\\u2066x\\u2069\\u200e\\u200f\\u061c"
HTML = "<h1>Big</h1><img src='x.png'>"
NOW = datetime.now(UTC).replace(tzinfo=None)


def _inert(label: QLabel, text: str) -> None:
    assert label.text() == text
    assert label.textFormat() == Qt.TextFormat.PlainText


def test_call_widget(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = CallWidget(1, "c", HOSTILE, HTML)
    qtbot.addWidget(widget)
    _inert(widget.who_label, SHOWN)
    _inert(widget.detail_label, HTML)
    widget.set_state(f"The call failed: {HOSTILE} (486).")
    _inert(widget.state_label, f"The call failed: {SHOWN} (486).")
    widget.set_matter(HOSTILE)
    _inert(widget.matter_label, f"Matter: {SHOWN}")


def test_ringing_window(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = IncomingCallWindow(1, HOSTILE, HTML, f"Likely: {HOSTILE}")
    qtbot.addWidget(window)
    assert window.windowTitle() == f"Incoming call — {SHOWN}"
    _inert(window.name_label, SHOWN)
    _inert(window.number_label, HTML)
    _inert(window.hint_label, f"Likely: {SHOWN}")


def test_today_list(qtbot) -> None:  # type: ignore[no-untyped-def]
    today = TodayList()
    qtbot.addWidget(today)
    call = Call(
        display_name=HOSTILE,
        remote_uri="sip:x@y",
        remote_number=None,
        direction="incoming",
        disposition="answered",
        recovered=False,
        invited_utc=NOW,
    )
    nameless = Call(
        display_name="",
        remote_uri=f"sip:{HOSTILE}@evil",
        remote_number=None,
        direction="incoming",
        disposition="missed",
        recovered=False,
        invited_utc=NOW,
    )
    matter = Matter(code="M-1", name=HOSTILE, client=Client(name="Acme"))
    entry = TimeEntry(started_utc=NOW, raw_seconds=60.0, status="draft", matter=matter)
    from softclock.facades import call_row

    today.show_rows([call_row(call, [entry]), call_row(nameless)])
    first, second = today.topLevelItem(0), today.topLevelItem(1)
    assert first.text(1) == f"← {SHOWN}" and first.text(2) == f"M-1 — Acme: {SHOWN}"
    assert second.text(1) == f"← {SHOWN}@evil"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "data")
    yield store
    store.close()


def test_review_view(qtbot, store: Store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from softclock.store.models import AuditEvent

    make_entry(store, 400, make_matter(store, "M-1", client=HOSTILE), narrative=HOSTILE)
    from tests.unit.ui.test_review_view import attach

    view = ReviewView()
    qtbot.addWidget(view)
    attach(qtbot, view, store)
    assert view.table.item(0, 2).text() == f"M-1 — {SHOWN}"
    assert view.table.item(0, 6).text() == SHOWN
    view.table.item(0, 6).setText(SHOWN)  # the editor committed as shown: no change, nothing written
    with store.session() as s:
        assert s.scalar(select(TimeEntry.narrative)) == HOSTILE
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.field == "narrative")) == 0


class _Controller:
    account_configured = True
    demo_running = False
    region = "US"
    recording_policy = "off"


def test_main_window_ringing_registration_and_failure(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(_Controller())  # type: ignore[arg-type]
    qtbot.addWidget(window)
    stamp = SimpleNamespace(mono=0.0, utc=NOW)
    uri = f'"{HOSTILE}" <sip:{HOSTILE}@evil>'
    window.on_sip_event(ev.CallRinging(stamp.mono, stamp.utc, "c1", 7, ev.Direction.INCOMING, "alice@x", uri, HOSTILE))
    ringing = window._incoming[7]
    qtbot.addWidget(ringing)
    view = window._views[7]
    assert view.who == SHOWN
    _inert(view.widget.who_label, SHOWN)
    _inert(view.widget.detail_label, f"{SHOWN}@evil")
    _inert(ringing.name_label, SHOWN)
    assert printable(ringing.windowTitle()) == ringing.windowTitle()
    window.on_sip_event(
        ev.RegistrationChanged(
            stamp.mono, stamp.utc, ev.RegState.FAILED, "alice@x", 403, HOSTILE, f"Registration failed: {HOSTILE} (403)"
        )
    )
    assert window.reg_label.text() == f"Registration failed: {SHOWN} (403)"
    window.on_sip_event(ev.CallFailed(stamp.mono, stamp.utc, 7, uri, f"The call failed: {HOSTILE}."))
    assert window.dial_error.text() == f"The call failed: {SHOWN}."
    _inert(view.widget.state_label, f"The call failed: {SHOWN}.")
