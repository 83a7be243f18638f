"""Review rules and the audit chain on a real (in-memory) SQLite store."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text, update

from softclock import audit, review
from softclock.billing import Policy
from softclock.store.db import Store, open_memory_store
from softclock.store.models import AuditEvent, AuditHead, Matter, TimeEntry
from tests.helpers.entries import make_call, make_entry, make_matter

FIRM = Policy()


@pytest.fixture
def store() -> Store:
    return open_memory_store()


def _entry(store: Store, raw: float = 400.0, matter: int | None = None) -> str:
    return make_entry(store, raw, matter)


def _matter(store: Store, code: str = "M-1", closed: bool = False, client: str = "Acme") -> int:
    return make_matter(store, code, closed, client)


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
        s.add(
            AuditEvent(
                at_utc=first.at_utc,
                actor="mallory",
                entity="time_entry",
                entity_id="x",
                field="f",
                old_value=None,
                new_value="y",
                reason="",
                prev_hash=first.hash,
                hash=first.hash,
            )
        )
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
    matter, call = _matter(store), make_call(store)
    ids = [make_entry(store, raw, matter, call=call) for raw in (300.0, 300.0)]
    quarter = Policy(increment_min=15)
    with store.session() as s, s.begin():
        review.approve(s, ids, "alice", quarter)
    with store.session() as s:
        assert sorted(s.get(TimeEntry, i).billed_units for i in ids) == [0, 1]


def test_bulk_approval_gives_each_entry_its_own_reason_and_versions(store: Store) -> None:
    matter, closed = _matter(store), _matter(store, "OLD", closed=True)
    good = [_entry(store, raw=400 + i, matter=matter) for i in range(3)]
    on_closed = _entry(store, matter=closed)
    unassigned = _entry(store)
    with store.session() as s, s.begin():
        s.get(TimeEntry, good[2]).version = 3
    with store.session() as s, s.begin():
        outcome = review.approve(s, [good[0], on_closed, good[1][:8], "nope", unassigned, good[2], good[0]], "al", FIRM)
    assert outcome.done == good
    assert outcome.versions == [(good[0], 1), (good[1], 1), (good[2], 3)]
    assert outcome.refused == {
        on_closed: "matter OLD is closed",
        "nope": "no entry 'nope'",
        unassigned: "a billable entry needs a matter",
    }
    with store.session() as s:
        assert [s.get(TimeEntry, i).status for i in (*good, on_closed)] == ["approved"] * 3 + ["draft"]
        events = s.execute(select(AuditEvent.entity_id, AuditEvent.field).order_by(AuditEvent.id)).all()
        assert events == [(i, f) for i in good for f in ("billed_units", "status")]
        assert audit.verify(s, full=True).ok


def test_approve_refuses_an_entry_whose_override_is_invalid_and_approves_the_rest(store: Store) -> None:
    bad, fine = _matter(store, "BAD"), _matter(store, "OK", client="Beta")
    with store.session() as s, s.begin():
        s.get(Matter, bad).policy_json = json.dumps({"increment_min": 7})
    ids = [_entry(store, matter=bad), _entry(store, matter=fine)]
    with store.session() as s, s.begin():
        outcome = review.approve(s, ids, "alice", FIRM)
    assert outcome.done == [ids[1]]
    assert outcome.refused[ids[0]].startswith("the billing policy override of matter BAD is invalid")


def test_approve_updates_entries_already_loaded_in_the_session(store: Store) -> None:
    entry_id = _entry(store, raw=400, matter=_matter(store))
    with store.session() as s, s.begin():
        entry = s.get(TimeEntry, entry_id)
        entry.narrative = "pending edit, flushed before approval"
        review.approve(s, [entry_id], "alice", Policy(narrative_required=True))
        assert (entry.status, entry.billed_units) == ("approved", 2)


def test_approve_with_narrative_required_names_the_entry(store: Store) -> None:
    entry_id = _entry(store, raw=400, matter=_matter(store))
    with store.session() as s, s.begin():
        outcome = review.approve(s, [entry_id], "alice", Policy(narrative_required=True))
    assert outcome.refused == {entry_id: "the firm requires a narrative"}


def test_batched_events_continue_the_same_chain(store: Store) -> None:
    _chain(store, 3)
    with store.session() as s, s.begin():
        audit.record_many(s, "alice", "time_entry", [("e9", "status", "draft", "approved", ""), ("e9", "x", 1, 2, "")])
        audit.record(s, "alice", "time_entry", "e10", "narrative", None, "after", "")
    with store.session() as s:
        assert audit.verify(s) == audit.Verification(True, 6)
        s.execute(update(AuditEvent).where(AuditEvent.id == 4).values(actor="mallory"))
        assert audit.verify(s, since_checkpoint=True).ok  # the quick check: the edit is before the checkpoint
        assert audit.verify(s, full=True).event_id == 4
