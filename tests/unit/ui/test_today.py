"""The Today list on a real store: a split call's pieces in time order, a merged-away call
saying where its time went."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from softclock.billing import Policy
from softclock.changes import ChangeBus
from softclock.facades import Facades, facades
from softclock.formatting import as_local
from softclock.store.db import Store, open_store
from softclock.ui.today import TodayList
from tests.helpers.entries import NOW, make_call, make_entry, make_matter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def views(store: Store) -> Facades:
    return facades(store, lambda: "alice", Policy, ChangeBus())


def _call(store: Store, sip_call_id: str, answered: datetime, seconds: float, name: str) -> int:
    return make_call(
        store,
        sip_call_id,
        remote_uri=f"sip:{name.lower()}@sip.test",
        display_name=name,
        invited_utc=answered - timedelta(seconds=5),
        answered_utc=answered,
        ended_utc=answered + timedelta(seconds=seconds),
        talk_seconds=seconds,
        disposition="answered",
    )


def _hhmm(utc: datetime) -> str:
    local = as_local(utc)
    assert local is not None
    return local.strftime("%H:%M")


def _shown(qtbot, views: Facades) -> list[list[str]]:  # type: ignore[no-untyped-def]
    today = TodayList()
    qtbot.addWidget(today)
    day = as_local(NOW)
    assert day is not None
    today.show_rows(views.calls.today(day.date()))
    rows = []
    for i in range(today.topLevelItemCount()):
        item = today.topLevelItem(i)
        rows.append([item.text(c) for c in range(today.columnCount())])
    return rows


def test_a_split_calls_pieces_stay_in_time_order_among_the_other_calls(qtbot, store, views) -> None:  # type: ignore[no-untyped-def]
    lease, tax = make_matter(store, "LEASE-1"), make_matter(store, "TAX-9", client="Beta")
    first = _call(store, "c1", NOW, 1200, "Pat")
    later = _call(store, "c2", NOW + timedelta(minutes=40), 300, "Sam")
    long_one = make_entry(store, 1200, lease, started=NOW, call=first)
    make_entry(store, 300, lease, started=NOW + timedelta(minutes=40), call=later)
    views.review.split(long_one, [600, 300, 300], matters=[lease, tax, lease])
    rows = _shown(qtbot, views)
    starts = [NOW + timedelta(minutes=m) for m in (40, 15, 10, 0)]
    assert [r[0] for r in rows] == [_hhmm(t) for t in starts]  # newest first, the pieces too
    assert [(r[1], r[2].split(" ")[0], r[3]) for r in rows] == [
        ("→ Sam", "LEASE-1", "0:05:00"),
        ("→ Pat", "LEASE-1", "0:05:00"),
        ("→ Pat", "TAX-9", "0:05:00"),
        ("→ Pat", "LEASE-1", "0:10:00"),
    ]


def test_a_merged_away_call_says_which_entry_holds_its_time(qtbot, store, views) -> None:  # type: ignore[no-untyped-def]
    lease = make_matter(store, "LEASE-1")
    first = _call(store, "c1", NOW, 300, "Pat")
    second = _call(store, "c2", NOW + timedelta(minutes=30), 200, "Pat")
    third = _call(store, "c3", NOW + timedelta(minutes=60), 100, "Pat")
    kept = make_entry(store, 300, lease, started=NOW, call=first)
    gone = make_entry(store, 200, lease, started=NOW + timedelta(minutes=30), call=second)
    last = make_entry(store, 100, lease, started=NOW + timedelta(minutes=60), call=third)
    views.review.merge([gone, last])  # into the 15:30 entry ...
    views.review.merge([kept, gone])  # ... which is merged on into the first call's
    rows = _shown(qtbot, views)
    into = f"Merged into {_hhmm(NOW)}"
    assert [(r[0], r[2].split(" ")[0], r[3], r[4]) for r in rows] == [
        (_hhmm(NOW + timedelta(minutes=60)), "LEASE-1", "0:01:40", into),
        (_hhmm(NOW + timedelta(minutes=30)), "LEASE-1", "0:03:20", into),
        (_hhmm(NOW), "LEASE-1", "0:10:00", "Draft"),
    ]
    today = views.calls.today(as_local(NOW).date())  # type: ignore[union-attr]
    assert [c.merged_away for c in today] == [True, True, False]
    assert today[0].merged_into[0].id == kept and today[0].merged_into[0].raw_seconds == 600


def test_the_demo_line_keeps_its_name_after_a_restart(qtbot, store, views) -> None:  # type: ignore[no-untyped-def]
    """A call to the demo line made before a restart: the peer then listened on another port,
    which this run's names do not know; it is still "Demo line", not its address."""
    make_call(
        store,
        "d1",
        remote_uri="sip:demo@127.0.0.1:40123",
        invited_utc=NOW,
        answered_utc=NOW,
        ended_utc=NOW + timedelta(seconds=60),
        talk_seconds=60,
        disposition="answered",
    )
    (row,) = _shown(qtbot, views)
    assert row[1] == "→ Demo line"
