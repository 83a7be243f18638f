"""Merging and splitting drafts on a real (in-memory) SQLite store."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from softclock import audit, review
from softclock.billing import Policy
from softclock.store.db import Store, open_memory_store
from softclock.store.models import AuditEvent, TimeEntry
from tests.helpers.entries import NOW, make_call, make_entry, make_matter

FIRM = Policy()


@pytest.fixture
def store() -> Store:
    return open_memory_store()


def _events(store: Store, entry_id: str) -> list[tuple[str, str | None, str | None, str]]:
    with store.session() as s:
        return [(e.field, e.old_value, e.new_value, e.reason) for e in audit.history(s, entry_id)]


def test_merge_keeps_the_earliest_entry_adds_the_time_and_explains_it(store: Store) -> None:
    matter = make_matter(store)
    later = make_entry(store, 200, matter, started=NOW + timedelta(hours=1), narrative="Follow-up", hold=30)
    first = make_entry(store, 250, matter, narrative="Lease terms", hold=10)
    same = make_entry(store, 100, matter, started=NOW + timedelta(hours=2), narrative="Lease terms")
    with store.session() as s, s.begin():
        merged = review.merge(s, [later, first, same], "alice", FIRM, "one conversation")
        assert merged.id == first
    with store.session() as s:
        (entry,) = s.scalars(select(TimeEntry)).all()  # time counted once: the others are gone
        assert (entry.id, entry.raw_seconds, entry.hold_seconds) == (first, 550, 40)
        assert entry.narrative == "Lease terms; Follow-up"
        assert entry.billed_units == 2  # 550 s at 6 minutes, rounded up
        assert audit.verify(s, full=True).ok
    assert _events(store, later) == [("merged_into", "200.0", first, "one conversation")]
    assert _events(store, same) == [("merged_into", "100.0", first, "one conversation")]
    fields = [(f, old, new) for f, old, new, _ in _events(store, first)]
    assert fields == [
        ("raw_seconds", "250.0", "550.0"),
        ("hold_seconds", "10.0", "40.0"),
        ("narrative", "Lease terms", "Lease terms; Follow-up"),
        ("billed_units", None, "2"),
        ("merged", None, f"{later},{same}"),
    ]


@pytest.mark.parametrize(
    ("other", "reason"),
    [
        ({"matter": "OTHER"}, "is on matter OTHER, not on matter M-1 like entry {first}: only entries of one matter"),
        ({"matter": None}, "is on no matter, not on matter M-1 like entry {first}"),
        (
            {"day": date(2026, 11, 27)},
            "is of 2026-11-27, not of 2026-11-26 like entry {first}: only entries of one day",
        ),
        ({"billable": False}, "is not billable and entry {first} is billable: make them alike before merging"),
    ],
)
def test_merge_refuses_entries_that_do_not_belong_together(store: Store, other: dict, reason: str) -> None:  # type: ignore[type-arg]
    matter = make_matter(store)
    other_matter = make_matter(store, "OTHER")
    first = make_entry(store, 100, matter)
    kwargs = {k: v for k, v in other.items() if k != "matter"}
    code = other.get("matter", "M-1")
    second = make_entry(
        store,
        100,
        {"M-1": matter, "OTHER": other_matter, None: None}[code],
        started=NOW + timedelta(minutes=5),
        **kwargs,
    )
    with store.session() as s, pytest.raises(review.ReviewError) as refused:
        review.merge(s, [first, second], "alice", FIRM)
    assert str(refused.value).startswith(f"entry {second[:8]} " + reason.format(first=first[:8]))
    with store.session() as s:
        assert len(s.scalars(select(TimeEntry)).all()) == 2
        assert s.scalars(select(AuditEvent)).all() == []


def test_merge_refuses_fewer_than_two_and_non_drafts(store: Store) -> None:
    matter = make_matter(store)
    first, second = make_entry(store, 100, matter), make_entry(store, 100, matter, started=NOW + timedelta(minutes=1))
    with store.session() as s, pytest.raises(review.ReviewError, match="at least two different entries"):
        review.merge(s, [first, first[:8]], "alice", FIRM)
    with store.session() as s, s.begin():
        review.approve(s, [second], "alice", FIRM)
    with store.session() as s, pytest.raises(review.ReviewError, match=f"entry {second[:8]} is approved: only drafts"):
        review.merge(s, [first, second], "alice", FIRM)


def test_merge_of_hand_set_units_needs_a_reason_and_goes_back_to_the_policy(store: Store) -> None:
    matter = make_matter(store)
    first, second = make_entry(store, 100, matter), make_entry(store, 500, matter, started=NOW + timedelta(minutes=9))
    with store.session() as s, s.begin():
        review.edit(s, second, "alice", "flat fee", billed_units=5)
    with (
        store.session() as s,
        pytest.raises(
            review.ReviewError, match=f"entry {second[:8]} has billed units set by hand \\(5\\): a merge puts it back"
        ),
    ):
        review.merge(s, [first, second], "alice", FIRM)
    with store.session() as s, s.begin():
        merged = review.merge(s, [first, second], "alice", FIRM, "one call, the fee no longer applies")
        assert (merged.billed_units, merged.billed_by_hand) == (2, False)


def test_merging_the_pieces_of_a_split_call_gives_back_the_whole(store: Store) -> None:
    matter, call = make_matter(store), make_call(store)
    entry_id = make_entry(store, 700.5, matter, call=call)
    with store.session() as s, s.begin():
        pieces = [p.id for p in review.split(s, entry_id, "alice", [300, 400], FIRM)]
    with store.session() as s, s.begin():
        merged = review.merge(s, pieces, "alice", FIRM)
        assert (merged.id, merged.raw_seconds, merged.billed_units) == (entry_id, 700.5, 2)


def test_split_moves_pieces_to_other_matters_with_their_own_policies(store: Store) -> None:
    import json

    from softclock.store.models import Matter

    lease, tax, closed = make_matter(store), make_matter(store, "TAX", client="Beta"), make_matter(store, "OLD", True)
    with store.session() as s, s.begin():
        s.get(Matter, tax).policy_json = json.dumps({"increment_min": 15})
    entry_id = make_entry(store, 1000.4, lease)
    with store.session() as s, pytest.raises(review.ReviewError, match=f"entry {entry_id[:8]}: matter OLD is closed"):
        review.split(s, entry_id, "alice", [500, 500], FIRM, matters=[lease, closed])
    with store.session() as s, pytest.raises(review.ReviewError, match="2 pieces but 1 matters"):
        review.split(s, entry_id, "alice", [500, 500], FIRM, matters=[lease])
    with store.session() as s, s.begin():
        pieces = review.split(s, entry_id, "alice", [400, 600], FIRM, "two matters", matters=[lease, tax])
        got = [(p.matter_id, p.raw_seconds, p.billed_units) for p in pieces]
    # The call is rounded once under each piece's policy: of 3 units of 6 min the lease piece gets 1;
    # of 2 units of 15 min the tax piece gets 1.
    assert got == [(lease, 400, 1), (tax, pytest.approx(600.4), 1)]
    created = _events(store, pieces[1].id)
    assert created == [("created", None, f"split from {entry_id}: 600.400 s on matter {tax}", "two matters")]


def test_split_of_hand_set_units_needs_a_reason_and_is_audited(store: Store) -> None:
    entry_id = make_entry(store, 720, make_matter(store))
    with store.session() as s, s.begin():
        review.edit(s, entry_id, "alice", "flat fee", billed_units=9)
    with store.session() as s, pytest.raises(review.ReviewError, match="set by hand \\(9\\): a split puts it back"):
        review.split(s, entry_id, "alice", [360, 360], FIRM)
    with store.session() as s, s.begin():
        first, second = review.split(s, entry_id, "alice", [360, 360], FIRM, "two matters after all")
        assert [(p.billed_units, p.billed_by_hand) for p in (first, second)] == [(1, False), (1, False)]
    assert ("billed_units", "9", "1", "two matters after all") in _events(store, entry_id)


def test_a_piece_moved_to_another_matter_does_not_copy_the_entrys_narrative(store: Store) -> None:
    lease, tax = make_matter(store), make_matter(store, "TAX", client="Beta")
    entry_id = make_entry(store, 900, lease, narrative="Lease terms with the landlord")
    with store.session() as s, s.begin():
        pieces = review.split(s, entry_id, "alice", [300, 300, 300], FIRM, matters=[lease, tax, lease])
        assert [(p.matter_id, p.narrative) for p in pieces] == [
            (lease, "Lease terms with the landlord"),
            (tax, ""),
            (lease, "Lease terms with the landlord"),
        ]
    # The first piece moved: its narrative is cleared, and the trail says so; a piece left on the lease keeps it.
    moved = make_entry(store, 600, lease, started=NOW + timedelta(hours=1), narrative="Rent review")
    with store.session() as s, s.begin():
        first, second = review.split(s, moved, "alice", [200, 400], FIRM, "tax part first", matters=[tax, lease])
        assert (first.narrative, second.narrative) == ("", "Rent review")
    assert ("narrative", "Rent review", "", "tax part first") in _events(store, moved)
    # An unassigned entry's narrative is no matter's: every piece keeps it.
    loose = make_entry(store, 600, None, started=NOW + timedelta(hours=2), narrative="Call about both")
    with store.session() as s, s.begin():
        pieces = review.split(s, loose, "alice", [300, 300], FIRM, matters=[lease, tax])
        assert [p.narrative for p in pieces] == ["Call about both", "Call about both"]
    with store.session() as s:
        assert audit.verify(s, full=True).ok
