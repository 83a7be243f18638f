"""The History tab against a real SQLite store, through the facades on the database worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QDate
from sqlalchemy import insert, select

from softclock.billing import Policy
from softclock.changes import ChangeBus
from softclock.facades import facades
from softclock.store.db import Store, open_store
from softclock.store.models import AuditEvent, TimeEntry
from softclock.ui.background import BackgroundRunner
from softclock.ui.history_view import PAGE, HistoryView
from tests.helpers.entries import NOW, make_call, make_entry, make_matter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "data")
    yield store
    store.close()


def _view(qtbot, store: Store) -> HistoryView:  # type: ignore[no-untyped-def]
    views = facades(store, lambda: "atty-jones", Policy, ChangeBus())
    view = HistoryView()
    qtbot.addWidget(view)
    day = NOW.date()
    view.from_edit.setDate(QDate(day.year, day.month, day.day).addDays(-400))
    view.to_edit.setDate(QDate(day.year, day.month, day.day).addDays(1))
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.attach(views.review, BackgroundRunner.shared())
    return view


def _bulk(store: Store, count: int) -> None:
    """``count`` approved entries on days going back from NOW, one insert."""
    rows = [
        {
            "id": f"bulk-{i:07d}",
            "timekeeper": "atty-jones",
            "work_date": (NOW - timedelta(hours=i)).date(),
            "started_utc": NOW - timedelta(hours=i),
            "raw_seconds": 60.0,
            "status": "approved",
            "billed_units": 1,
            "created_utc": NOW,
            "updated_utc": NOW,
            "narrative": f"bulk {i}",
            "version": 1,
        }
        for i in range(count)
    ]
    with store.session() as s, s.begin():
        s.execute(insert(TimeEntry), rows)


def test_pages_arrive_as_the_table_scrolls_newest_first_without_gaps(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    _bulk(store, PAGE * 2 + 30)
    view = _view(qtbot, store)
    assert view.model.rowCount() == PAGE
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.table.scrollToBottom()  # the view asks the model for more
    qtbot.waitUntil(lambda: view.model.rowCount() == PAGE * 2 + 30 or view.model.canFetchMore(), timeout=5000)
    while view.model.canFetchMore():
        with qtbot.waitSignal(view.model.page_shown, timeout=5000):
            view.model.fetchMore()
    ids = [view.model.row(i).entry.id for i in range(view.model.rowCount())]
    assert ids == [f"bulk-{i:07d}" for i in range(PAGE * 2 + 30)]  # every row once, in order


def test_filters_by_words_status_and_dates(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    lease = make_matter(store, "LEASE-1", client="Acme")
    make_entry(store, 300, lease, narrative="Lease terms", day=NOW.date())
    make_entry(store, 200, make_matter(store, "TAX-9", client="Beta"), narrative="Tax call", day=NOW.date())
    make_entry(
        store, 100, lease, started=NOW - timedelta(days=90), day=(NOW - timedelta(days=90)).date(), narrative="Old call"
    )
    view = _view(qtbot, store)
    assert view.model.rowCount() == 3
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.search_edit.setText("acme lease")  # every word must match (searched once typing pauses)
    assert {view.model.row(i).entry.narrative for i in range(view.model.rowCount())} == {"Lease terms", "Old call"}
    since = NOW.date() - timedelta(days=30)
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.from_edit.setDate(QDate(since.year, since.month, since.day))
    assert [view.model.row(i).entry.narrative for i in range(view.model.rowCount())] == ["Lease terms"]
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.status_box.setCurrentText("Approved")
    assert view.model.rowCount() == 0


def test_an_approved_entry_is_reopened_with_its_reason_in_the_trail(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    from softclock import review

    entry_id = make_entry(store, 400, make_matter(store, "M-1"))
    with store.session() as s, s.begin():
        review.approve(s, [entry_id], "atty-jones", Policy())
    view = _view(qtbot, store)
    view.table.selectRow(0)
    view.reopen_button.click()
    assert view.message.text().startswith("Say why") and view.message.property("kind") == "error"
    view.reason_edit.setText("client disputes the length")
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.reopen_button.click()
    assert view.message.text() == "Reopened as a draft: it is back in the Review tab."
    assert view.model.row(0).entry.status == "draft" and view.model.row(0).entry.version == 2
    with store.session() as s:
        reasons = list(
            s.scalars(
                select(AuditEvent.reason).where(AuditEvent.entity_id == entry_id, AuditEvent.actor == "atty-jones")
            )
        )
    assert "client disputes the length" in reasons


def test_a_day_range_of_one_day_keeps_only_that_day(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    make_entry(store, 60, None, started=NOW, day=NOW.date())
    make_entry(store, 60, None, started=NOW - timedelta(days=2), day=(NOW - timedelta(days=2)).date())
    view = _view(qtbot, store)
    day: date = (NOW - timedelta(days=2)).date()
    with qtbot.waitSignal(view.model.page_shown, timeout=5000):
        view.to_edit.setDate(QDate(day.year, day.month, day.day))
    assert view.model.rowCount() == 1 and view.model.row(0).entry.work_date == day


def test_a_caller_without_a_name_is_shown_by_the_number_as_the_today_list_writes_it(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    call = make_call(store, direction="incoming", remote_uri="sip:+442079460958@x", remote_number="+442079460958")
    make_entry(store, 300, call=call, day=NOW.date())
    view = _view(qtbot, store)
    assert view.model.index(0, 2).data() == "← +44 20 7946 0958"
