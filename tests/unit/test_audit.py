"""The audit chain's checkpoint: what an incremental check still catches, and
what is left to ``--full`` (softclock.audit.verify explains the trust model)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text, update

from softclock import audit
from softclock.store.db import Store, open_memory_store
from softclock.store.models import AuditEvent, AuditHead


@pytest.fixture
def store() -> Store:
    return open_memory_store()


def _append(store: Store, n: int, start: int = 0) -> None:
    with store.session() as s, s.begin():
        audit.record_many(s, "alice", "time_entry", [(f"e{i}", "narrative", None, f"n{i}", "") for i in range(start, start + n)])


def _verify(store: Store, full: bool = False) -> audit.Verification:
    with store.session() as s, s.begin():
        return audit.verify(s, full=full)


def _checked(store: Store) -> tuple[int | None, int | None]:
    with store.session() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        return head.checked_id, head.checked_count


@pytest.fixture
def checked(store: Store) -> Store:
    """Ten events, all checked: the checkpoint is event 10."""
    _append(store, 10)
    first = _verify(store)
    assert (first.ok, first.checked, first.since) == (True, 10, None)
    assert _checked(store) == (10, 10)
    return store


def test_the_everyday_check_starts_at_the_checkpoint(checked: Store) -> None:
    _append(checked, 3, start=10)
    result = _verify(checked)
    assert (result.ok, result.count, result.checked, result.since) == (True, 13, 3, 10)
    assert _checked(checked) == (13, 13)
    assert _verify(checked).checked == 0


def test_an_edit_before_the_checkpoint_is_left_to_the_full_check(checked: Store) -> None:
    with checked.session() as s, s.begin():
        s.execute(update(AuditEvent).where(AuditEvent.id == 4).values(new_value="tampered"))
    assert _verify(checked).ok
    full = _verify(checked, full=True)
    assert (full.ok, full.event_id, full.problem) == (False, 4, "event 4 was edited after it was written")


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE audit_events SET new_value = 'x' WHERE id = 10", "event 10 was edited after it was written"),
        (
            "UPDATE audit_events SET hash = (CASE substr(hash, 1, 1) WHEN 'f' THEN 'e' ELSE 'f' END) || substr(hash, 2) "
            "WHERE id = 10",
            "event 10 was edited after it was written",
        ),
        ("DELETE FROM audit_events WHERE id = 9", "event 10 does not follow event 8: one was inserted or deleted"),
        ("DELETE FROM audit_events WHERE id = 10", "event 10, the last one checked, is missing: events were deleted"),
        ("UPDATE audit_events SET actor = 'mallory' WHERE id = 12", "event 12 was edited after it was written"),
        ("DELETE FROM audit_events WHERE id = 12", "event 13 does not follow event 11: one was inserted or deleted"),
    ],
)
def test_the_incremental_check_still_catches(checked: Store, tamper: str, problem: str) -> None:
    _append(checked, 3, start=10)
    with checked.engine.begin() as conn:
        conn.execute(text(tamper))
    result = _verify(checked)
    assert (result.ok, result.problem) == (False, problem)
    assert _checked(checked) == (10, 10)  # a failed check does not move the checkpoint


def test_the_full_check_notices_a_chain_rewritten_with_fresh_hashes(checked: Store) -> None:
    """Someone edits event 3 and recomputes every hash after it, and the head:
    each event is consistent, but the checkpointed event's hash has changed."""
    with checked.session() as s, s.begin():
        rows = s.execute(text("SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason "
                              "FROM audit_events ORDER BY id")).all()  # fmt: skip
        prev = audit.GENESIS
        for row in rows:
            new = "rewritten" if row.id == 3 else row.new_value
            at = datetime.fromisoformat(row.at_utc)
            digest = audit._digest(prev, at, row.actor, row.entity, row.entity_id, row.field, row.old_value, new, row.reason)
            s.execute(update(AuditEvent).where(AuditEvent.id == row.id).values(new_value=new, prev_hash=prev, hash=digest))
            prev = digest
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev))
    full = _verify(checked, full=True)
    assert (full.ok, full.event_id) == (False, 10)
    assert full.problem == "event 10 does not have the hash it had when it was last checked: the chain up to it was rewritten"


def test_whole_second_timestamps_verify(store: Store) -> None:
    """Stored as ``…:00.000000``, hashed as ``isoformat()`` gives it (no fraction)."""
    with store.session() as s, s.begin():
        event = audit.record(s, "alice", "time_entry", "e1", "narrative", None, "x")
        at = datetime(2026, 11, 26, 9, 30, 0)
        digest = audit._digest(audit.GENESIS, at, "alice", "time_entry", "e1", "narrative", None, "x", "")
        s.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(at_utc=at, hash=digest))
        s.get(AuditHead, 1).last_hash = digest
    assert _verify(store, full=True).ok


@given(st.lists(st.one_of(st.none(), st.text(), st.integers()), max_size=9))
def test_the_hashed_text_is_what_json_dumps_gives(values: list[object]) -> None:
    """Existing chains were hashed over json.dumps; the faster encoding must not change a byte."""
    import json

    assert audit._json_list(tuple(values)) == json.dumps(values)
