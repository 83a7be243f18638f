"""Review rules and the audit chain on a real (in-memory) SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text, update

from softclock import audit, review
from softclock.billing import Policy
from softclock.store.db import Store, open_memory_store
from softclock.store.models import AuditEvent, AuditHead, Matter, TimeEntry
from softclock.store.queries import add_matter

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC).replace(tzinfo=None)
FIRM = Policy()


@pytest.fixture
def store() -> Store:
    return open_memory_store()


def _entry(store: Store, raw: float = 400.0, matter: int | None = None) -> str:
    with store.session() as s, s.begin():
        entry = TimeEntry(timekeeper="alice", matter_id=matter, work_date=date(2026, 11, 26), started_utc=NOW,
                          raw_seconds=raw, created_utc=NOW, updated_utc=NOW)  # fmt: skip
        s.add(entry)
        s.flush()
        return entry.id


def _matter(store: Store, code: str = "M-1", closed: bool = False) -> int:
    with store.session() as s, s.begin():
        matter = add_matter(s, code, "Lease", "Acme")
        if closed:
            matter.status = "closed"
        return matter.id


def test_billable_entry_needs_a_matter_to_be_approved(store: Store) -> None:
    entry_id = _entry(store)
    with store.session() as s, s.begin():
        outcome = review.approve(s, [entry_id], "alice", FIRM)
    assert outcome.done == [] and outcome.refused == {entry_id: "a billable entry needs a matter"}


def test_approve_fixes_billed_units_and_is_audited(store: Store) -> None:
    entry_id = _entry(store, raw=400, matter=_matter(store))
    with store.session() as s, s.begin():
        assert review.approve(s, [entry_id], "alice", FIRM).done == [entry_id]
    with store.session() as s:
        entry = s.get(TimeEntry, entry_id)
        assert (entry.status, entry.billed_units) == ("approved", 2)
        assert [e.field for e in audit.history(s, entry_id)] == ["billed_units", "status"]
        assert audit.verify(s).ok


def test_client_override_applies(store: Store) -> None:
    matter_id = _matter(store)
    with store.session() as s, s.begin():
        s.get(Matter, matter_id).client.policy_json = json.dumps({"increment_min": 15})
    entry_id = _entry(store, raw=400, matter=matter_id)
    with store.session() as s, s.begin():
        review.approve(s, [entry_id], "alice", FIRM)
    with store.session() as s:
        assert s.get(TimeEntry, entry_id).billed_units == 1


def test_closed_matters_are_refused(store: Store) -> None:
    closed = _matter(store, "OLD", closed=True)
    entry_id = _entry(store)
    with store.session() as s, pytest.raises(review.ReviewError, match="matter OLD is closed"):
        review.edit(s, entry_id, "alice", matter_id=closed)


def test_approved_entries_change_only_through_reopen(store: Store) -> None:
    entry_id = _entry(store, matter=_matter(store))
    with store.session() as s, s.begin():
        review.approve(s, [entry_id], "alice", FIRM)
    with store.session() as s, pytest.raises(review.ReviewError, match="reopen it"):
        review.edit(s, entry_id, "alice", narrative="changed")
    with store.session() as s, pytest.raises(review.ReviewError, match="needs a reason"):
        review.reopen(s, entry_id, "alice", "")
    with store.session() as s, s.begin():
        entry = review.reopen(s, entry_id, "alice", "client disputes the call")
        assert (entry.status, entry.version) == ("draft", 2)
        review.edit(s, entry_id, "alice", narrative="Discussed lease terms")


def test_hand_set_units_need_a_reason_and_survive_approval(store: Store) -> None:
    entry_id = _entry(store, raw=400, matter=_matter(store))
    with store.session() as s, pytest.raises(review.ReviewError, match="needs a reason"):
        review.edit(s, entry_id, "alice", billed_units=5)
    with store.session() as s, s.begin():
        review.edit(s, entry_id, "alice", "agreed flat fee", billed_units=5)
        review.approve(s, [entry_id], "alice", FIRM)
    with store.session() as s:
        assert s.get(TimeEntry, entry_id).billed_units == 5


def test_locked_entries_refuse_everything(store: Store) -> None:
    entry_id = _entry(store)
    with store.session() as s, s.begin():
        s.get(TimeEntry, entry_id).status = "invoiced"
    with store.session() as s, pytest.raises(review.ReviewError, match="invoiced and locked"):
        review.edit(s, entry_id, "alice", narrative="x")
    with store.session() as s, pytest.raises(review.ReviewError, match="invoiced and locked"):
        review.reopen(s, entry_id, "alice", "why")


def test_split_allocates_the_rounded_total(store: Store) -> None:
    entry_id = _entry(store, raw=600, matter=_matter(store))
    with store.session() as s, s.begin():
        pieces = review.split(s, entry_id, "alice", [300, 300], Policy(increment_min=15), "two matters")
        assert [p.billed_units for p in pieces] == [1, 0]
    with store.session() as s, pytest.raises(review.ReviewError, match="add up to 500.0 s but entry"):
        review.split(s, entry_id, "alice", [250, 250], FIRM)


def _chain(store: Store, n: int = 5) -> None:
    with store.session() as s, s.begin():
        for i in range(n):
            audit.record(s, "alice", "time_entry", f"e{i}", "narrative", None, f"n{i}", "")


def test_audit_verify_names_an_edited_event(store: Store) -> None:
    _chain(store)
    with store.session() as s, s.begin():
        s.execute(update(AuditEvent).where(AuditEvent.id == 3).values(new_value="tampered"))
    with store.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.event_id == 3 and "edited" in result.problem


def test_audit_verify_names_a_deleted_event_and_a_deleted_tail(store: Store) -> None:
    _chain(store)
    with store.session() as s, s.begin():
        s.execute(text("DELETE FROM audit_events WHERE id = 2"))
    with store.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.event_id == 3 and "inserted or deleted" in result.problem
    other = open_memory_store()
    _chain(other)
    with other.session() as s, s.begin():
        s.execute(text("DELETE FROM audit_events WHERE id = 5"))
    with other.session() as s:
        result = audit.verify(s)
    assert not result.ok and "deleted" in result.problem


def test_audit_verify_names_an_inserted_event(store: Store) -> None:
    _chain(store, 3)
    with store.session() as s, s.begin():
        first = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).first()
        s.add(AuditEvent(at_utc=first.at_utc, actor="mallory", entity="time_entry", entity_id="x", field="f",
                         old_value=None, new_value="y", reason="", prev_hash=first.hash, hash=first.hash))  # fmt: skip
        s.get(AuditHead, 1).count += 1
    with store.session() as s:
        assert not audit.verify(s).ok


def test_intact_chain_verifies(store: Store) -> None:
    _chain(store, 10)
    with store.session() as s:
        assert audit.verify(s) == audit.Verification(True, 10)


def test_held_time_bills_only_if_policy_says_so(store: Store) -> None:
    entry_id = _entry(store, raw=720, matter=_matter(store))
    with store.session() as s, s.begin():
        s.get(TimeEntry, entry_id).hold_seconds = 400
        assert review.billed_units_for(s, s.get(TimeEntry, entry_id), Policy(bill_hold=True)) == 2
        assert review.billed_units_for(s, s.get(TimeEntry, entry_id), Policy(bill_hold=False)) == 1


def test_pieces_of_one_call_are_rounded_once(store: Store) -> None:
    from softclock.store.models import Call

    matter = _matter(store)
    with store.session() as s, s.begin():
        call = Call(sip_call_id="c", direction="outgoing", account="a", remote_uri="sip:x@y", invited_utc=NOW)
        s.add(call)
        s.flush()
        ids = []
        for raw in (300.0, 300.0):
            e = TimeEntry(call_id=call.id, timekeeper="alice", matter_id=matter, work_date=date(2026, 11, 26),
                          started_utc=NOW, raw_seconds=raw, created_utc=NOW, updated_utc=NOW)  # fmt: skip
            s.add(e)
            s.flush()
            ids.append(e.id)
    quarter = Policy(increment_min=15)
    with store.session() as s, s.begin():
        review.approve(s, ids, "alice", quarter)
    with store.session() as s:
        assert sorted(s.get(TimeEntry, i).billed_units for i in ids) == [0, 1]


def test_batched_events_continue_the_same_chain(store: Store) -> None:
    _chain(store, 3)
    with store.session() as s, s.begin():
        audit.record_many(s, "alice", "time_entry", [("e9", "status", "draft", "approved", ""), ("e9", "x", 1, 2, "")])
        audit.record(s, "alice", "time_entry", "e10", "narrative", None, "after", "")
    with store.session() as s:
        assert audit.verify(s) == audit.Verification(True, 6)
        s.execute(update(AuditEvent).where(AuditEvent.id == 4).values(actor="mallory"))
        assert audit.verify(s).event_id == 4
