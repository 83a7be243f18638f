"""The audit chain: the whole-chain check (the default, hashed in bulk), the
quick check from the checkpoint, a checkpoint that only moves forward, and
each time entry held to what its trail says (softclock.audit.verify)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update

from softclock import audit, review
from softclock import events as ev
from softclock.billing import Policy
from softclock.capture import Capture
from softclock.store.db import Store, open_memory_store
from softclock.store.models import AuditEvent, AuditHead, Call, TimeEntry
from tests.helpers.entries import make_entry, make_matter

FIRM = Policy()


@pytest.fixture
def store() -> Store:
    return open_memory_store()


def _append(store: Store, n: int, start: int = 0) -> None:
    with store.session() as s, s.begin():
        audit.record_many(
            s, "alice", "time_entry", [(f"e{i}", "narrative", None, f"n{i}", "") for i in range(start, start + n)]
        )


def _verify(store: Store, since_checkpoint: bool = False) -> audit.Verification:
    with store.session() as s, s.begin():
        return audit.verify(s, since_checkpoint=since_checkpoint)


def _checked(store: Store) -> tuple[int | None, int | None]:
    with store.session() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        return head.checked_id, head.checked_count


def _sql(store: Store, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture
def checked(store: Store) -> Store:
    """Ten events, all checked: the checkpoint is event 10."""
    _append(store, 10)
    first = _verify(store)
    assert (first.ok, first.checked, first.since) == (True, 10, None)
    assert _checked(store) == (10, 10)
    return store


# ------------------------------------------------------------------------------------------- the chain


def test_the_default_check_rehashes_every_event_and_catches_an_edit_before_the_checkpoint(checked: Store) -> None:
    _sql(checked, "UPDATE audit_events SET new_value = 'tampered' WHERE id = 4")
    quick = _verify(checked, since_checkpoint=True)
    assert quick.ok and quick.checked == 0  # the quick check trusts what the checkpoint covers
    full = _verify(checked)
    assert (full.ok, full.event_id, full.problem) == (False, 4, "event 4 was edited after it was written")
    assert full.since is None


def test_the_quick_check_starts_at_the_checkpoint(checked: Store) -> None:
    _append(checked, 3, start=10)
    result = _verify(checked, since_checkpoint=True)
    assert (result.ok, result.count, result.checked, result.since) == (True, 13, 3, 10)
    assert _checked(checked) == (13, 13)
    assert _verify(checked, since_checkpoint=True).checked == 0
    assert _verify(checked).checked == 13


def test_full_is_still_accepted_as_the_whole_chain(checked: Store) -> None:
    _sql(checked, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    with checked.session() as s:
        assert audit.verify(s, full=True).event_id == 2
        assert audit.verify(s, full=False).ok  # the old spelling of the quick check


@pytest.mark.parametrize("quick", [True, False])
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
        ("UPDATE audit_events SET actor = 'mallory' WHERE id = 12", "event 12 was edited after it was written"),
        ("DELETE FROM audit_events WHERE id = 12", "event 13 does not follow event 11: one was inserted or deleted"),
    ],
)
def test_both_checks_catch(checked: Store, tamper: str, problem: str, quick: bool) -> None:
    _append(checked, 3, start=10)
    _sql(checked, tamper)
    result = _verify(checked, since_checkpoint=quick)
    assert (result.ok, result.problem) == (False, problem)
    assert _checked(checked) == (10, 10)  # a failed check does not move the checkpoint


def test_a_deleted_tail_with_the_head_pointed_at_the_new_last_event_is_broken(checked: Store) -> None:
    """Issue 9: both checks passed this, and the full one then moved the checkpoint back to event 7."""
    _append(checked, 2, start=10)
    assert _verify(checked).ok and _checked(checked) == (12, 12)
    with checked.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id > 7"))
        conn.execute(
            text(
                "UPDATE audit_head SET last_id = 7, count = 7, last_hash = (SELECT hash FROM audit_events WHERE id = 7)"
            )
        )
    quick = _verify(checked, since_checkpoint=True)
    assert (quick.ok, quick.problem) == (False, "event 12, the last one checked, is missing: events were deleted")
    full = _verify(checked)
    assert (full.ok, full.event_id) == (False, 12)
    assert full.problem == "event 12, the last one checked, is missing: events were deleted"
    assert _checked(checked) == (12, 12)  # never moved back: the evidence stays
    assert not _verify(checked).ok  # and so the next check fails too


def test_a_chain_ending_before_the_checkpoint_is_broken_even_when_the_last_event_is_rebuilt(checked: Store) -> None:
    """Events 9 and 10 deleted and event 10 forged at its old id on top of event 8 (its hash recomputed):
    the chain is consistent and the head agrees, but it is one event shorter than the checkpoint says."""
    with checked.session() as s, s.begin():
        eight = s.get(AuditEvent, 8)
        ten = s.get(AuditEvent, 10)
        forged = dict(
            at=ten.at_utc,
            actor=ten.actor,
            entity=ten.entity,
            entity_id=ten.entity_id,
            field=ten.field,
            old=ten.old_value,
            new=ten.new_value,
            reason=ten.reason,
        )
        s.execute(text("DELETE FROM audit_events WHERE id IN (9, 10)"))
        digest = audit._digest(
            eight.hash,
            forged["at"],
            forged["actor"],
            forged["entity"],
            forged["entity_id"],
            forged["field"],
            forged["old"],
            forged["new"],
            forged["reason"],
        )
        s.execute(
            text(
                "INSERT INTO audit_events (id, at_utc, actor, entity, entity_id, field, old_value, new_value, "
                "reason, prev_hash, hash) VALUES (10, :at, :actor, :entity, :entity_id, :field, :old, :new, "
                ":reason, :prev, :hash)"
            ),
            {**forged, "at": forged["at"], "prev": eight.hash, "hash": digest},
        )
        s.execute(text("UPDATE audit_head SET count = 9, last_hash = :h"), {"h": digest})
    result = _verify(checked)
    assert not result.ok and result.event_id == 10
    assert "the chain up to it was rewritten" in result.problem


def test_a_full_check_after_a_quick_check_found_a_missing_event_never_moves_the_checkpoint_back(checked: Store) -> None:
    _sql(
        checked,
        "DELETE FROM audit_events WHERE id = 10",
        "UPDATE audit_head SET last_id = 9, count = 9, last_hash = (SELECT hash FROM audit_events WHERE id = 9)",
    )
    assert not _verify(checked, since_checkpoint=True).ok
    full = _verify(checked)
    assert not full.ok and full.problem == "event 10, the last one checked, is missing: events were deleted"
    assert _checked(checked) == (10, 10)


def test_the_checkpoint_moves_forward_only_after_a_clean_check(checked: Store) -> None:
    _append(checked, 5, start=10)
    _sql(checked, "UPDATE audit_events SET reason = 'x' WHERE id = 3")
    assert not _verify(checked).ok
    assert _checked(checked) == (10, 10)  # the new events were intact, but the check was not clean


def test_the_full_check_notices_a_chain_rewritten_with_fresh_hashes(checked: Store) -> None:
    """Someone edits event 3 and recomputes every hash after it, and the head:
    each event is consistent, but the checkpointed event's hash has changed."""
    with checked.session() as s, s.begin():
        rows = s.execute(
            text(
                "SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason "
                "FROM audit_events ORDER BY id"
            )
        ).all()
        prev = audit.GENESIS
        for row in rows:
            new = "rewritten" if row.id == 3 else row.new_value
            at = datetime.fromisoformat(row.at_utc)
            digest = audit._digest(
                prev, at, row.actor, row.entity, row.entity_id, row.field, row.old_value, new, row.reason
            )
            s.execute(
                update(AuditEvent).where(AuditEvent.id == row.id).values(new_value=new, prev_hash=prev, hash=digest)
            )
            prev = digest
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev))
    full = _verify(checked)
    assert (full.ok, full.event_id) == (False, 10)
    assert (
        full.problem
        == "event 10 does not have the hash it had when it was last checked: the chain up to it was rewritten"
    )


def test_an_empty_chain_while_entries_exist_is_broken(store: Store) -> None:
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: 1000.0)
    _call(capture, "c1", 30.0)
    assert _verify(store).ok
    _sql(store, "DELETE FROM audit_events", "DELETE FROM audit_head")
    result = _verify(store)
    assert not result.ok
    assert result.problem == "the trail is empty but the store holds 1 time entries: the trail was deleted"


def test_an_entry_of_a_call_still_in_progress_is_not_born_yet(store: Store) -> None:
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: 1000.0)
    t0 = datetime.now(UTC) - timedelta(days=1)
    capture.handle(ev.CallStarted(1000.0, t0, "live", 1, "alice@sip.test", "sip:+12025550143@sip.test", ""))
    capture.handle(ev.CallConnected(1001.0, t0 + timedelta(seconds=1), "live", 1))
    with store.session() as s:
        assert s.scalar(select(TimeEntry.id)) is not None
    assert _verify(store).ok


def test_whole_second_timestamps_verify(store: Store) -> None:
    """Stored as ``…:00.000000``, hashed as ``isoformat()`` gives it (no fraction)."""
    with store.session() as s, s.begin():
        event = audit.record(s, "alice", "time_entry", "e1", "narrative", None, "x")
        at = datetime(2026, 11, 26, 9, 30, 0)
        digest = audit._digest(audit.GENESIS, at, "alice", "time_entry", "e1", "narrative", None, "x", "")
        s.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(at_utc=at, hash=digest))
        s.get(AuditHead, 1).last_hash = digest
    assert _verify(store).ok


@given(st.lists(st.one_of(st.none(), st.text(), st.integers()), max_size=9))
def test_the_hashed_text_is_what_json_dumps_gives(values: list[object]) -> None:
    """Existing chains were hashed over json.dumps; the faster encoding must not change a byte."""
    import json

    assert audit._json_list(tuple(values)) == json.dumps(values)


# ------------------------------------------- hashing in bulk: a text SQLite writes is trusted only when plain

_AWKWARD = [
    'say "hi"',
    "back\\slash",
    "two\nlines",
    "tab\there",
    "Müller",
    "\u202eevil",
    "ctl\x01",
    "del\x7f",
    "😀",
    "",
    "null",
    '", "',
    "a], [b",
]


def test_awkward_text_in_any_field_verifies_and_an_edit_of_it_is_named(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(audit, "_CHUNK", 4)  # many chunks, awkward ones among plain ones
    with store.session() as s, s.begin():
        for i, value in enumerate(_AWKWARD):
            audit.record(
                s, f"actor {value}", "time_entry", f"e{i}", "narrative", value if i % 3 else None, value, value
            )
            audit.record(s, "alice", "time_entry", f"p{i}", "narrative", None, f"plain {i}", "")
    assert _verify(store).ok
    for event_id in (1, 5, 9, 13, 17):
        other = open_memory_store()
        with other.session() as s, s.begin():
            for i, value in enumerate(_AWKWARD):
                audit.record(
                    s, f"actor {value}", "time_entry", f"e{i}", "narrative", value if i % 3 else None, value, value
                )
                audit.record(s, "alice", "time_entry", f"p{i}", "narrative", None, f"plain {i}", "")
        _sql(other, f"UPDATE audit_events SET new_value = new_value || '.' WHERE id = {event_id}")
        result = _verify(other)
        assert (result.ok, result.event_id) == (False, event_id)


@pytest.mark.parametrize(
    ("original", "forged"),
    [
        ('say "hi"', 'say \\"hi\\"'),  # the forged value's plain text is the original's escaped text
        ("a\nb", "a\\nb"),
        ("Müller", "M\\u00fcller"),
    ],
)
def test_a_forgery_whose_plain_text_equals_the_real_text_is_caught(store: Store, original: str, forged: str) -> None:
    """Without escaping, ``say \\"hi\\"`` reads exactly like the JSON of ``say "hi"``: its hash would match.
    A text with a backslash, a quote or anything not printable ASCII is never trusted; it is hashed exactly."""
    with store.session() as s, s.begin():
        audit.record(s, "alice", "time_entry", "e1", "narrative", None, original)
    assert _verify(store).ok
    with store.session() as s, s.begin():
        s.execute(update(AuditEvent).where(AuditEvent.id == 1).values(new_value=forged))
    assert (_verify(store).ok, _verify(store).event_id) == (False, 1)


def test_a_quote_that_moves_a_field_boundary_is_caught(store: Store) -> None:
    """``entity_id = 'e1", "narrative'`` and ``field = ''``... would read as the same list without escaping."""
    with store.session() as s, s.begin():
        audit.record(s, "alice", "time_entry", "e1", "narrative", None, "x")
    with store.session() as s, s.begin():
        s.execute(update(AuditEvent).where(AuditEvent.id == 1).values(entity_id='e1", "narrative', field="x"))
    assert _verify(store).event_id == 1


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_TEXT, _TEXT, st.one_of(st.none(), _TEXT), st.one_of(st.none(), _TEXT), _TEXT),
        min_size=1,
        max_size=12,
    ),
    st.data(),
)
def test_any_text_verifies_and_any_edit_is_named(events: list[tuple], data) -> None:  # type: ignore[no-untyped-def,type-arg]
    store = open_memory_store()
    original = audit._CHUNK
    audit._CHUNK = 5
    try:
        with store.session() as s, s.begin():
            for actor, entity_id, old, new, reason in events:
                audit.record(s, actor, "time_entry", entity_id, "narrative", old, new, reason)
        assert _verify(store).ok
        victim = data.draw(st.integers(1, len(events)))
        column = data.draw(st.sampled_from(["actor", "entity_id", "old_value", "new_value", "reason"]))
        with store.session() as s:
            before = s.execute(text(f"SELECT {column} FROM audit_events WHERE id = {victim}")).scalar()
        after = data.draw(_TEXT.filter(lambda v: v != before))
        with store.engine.begin() as conn:
            conn.execute(text(f"UPDATE audit_events SET {column} = :v WHERE id = :i"), {"v": after, "i": victim})
        result = _verify(store)
        assert (result.ok, result.event_id) == (False, victim)
    finally:
        audit._CHUNK = original


# --------------------------------------------------------------------------- entries against their trail

_T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def _call(capture: Capture, call_id: str, talk: float, handle: int = 1) -> str:
    """A real answered call of ``talk`` seconds through capture: its entry is born in the trail."""
    capture.handle(ev.CallStarted(1000.0, _T0, call_id, handle, "alice@sip.test", "sip:+12025550143@sip.test", ""))
    capture.handle(ev.CallConnected(1001.0, _T0 + timedelta(seconds=1), call_id, handle))
    capture.handle(
        ev.CallEnded(1001.0 + talk, _T0 + timedelta(seconds=1 + talk), call_id, handle, 200, "OK", talk, False)
    )
    with capture._store.session() as s:
        return s.scalars(select(TimeEntry.id).join(Call).where(Call.sip_call_id == call_id)).one()


@pytest.fixture
def capture(store: Store) -> Capture:
    return Capture(store, timekeeper=lambda: "alice", mono=lambda: 1000.0)


def test_raw_seconds_edited_in_the_file_is_named_and_approval_refuses_the_entry(store: Store, capture: Capture) -> None:
    """Issue 9: 4.9 s edited to 3,600 s in SQLite passed --full, and approval then billed 10 units."""
    entry = _call(capture, "c1", 4.9)
    matter = make_matter(store, "M-1")
    with store.session() as s, s.begin():
        review.edit(s, entry, "alice", matter_id=matter, narrative="Lease terms")
    assert _verify(store).ok
    _sql(store, f"UPDATE time_entries SET raw_seconds = 3600 WHERE id = '{entry}'")
    result = _verify(store)
    assert (result.ok, result.entry_id) == (False, entry)
    assert result.problem.startswith(f"entry {entry}: raw_seconds is 3600.0 but its trail says '4.900' (event ")
    assert result.problem.endswith("the entry was changed outside the app")
    with store.session() as s, s.begin():
        outcome = review.approve(s, [entry], "alice", FIRM)
    assert outcome.done == [] and outcome.refused[entry].startswith("raw_seconds is 3600.0 but its trail says '4.900'")
    with store.session() as s:
        assert s.get(TimeEntry, entry).status == "draft"


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [
        ("narrative", "'Drafted the whole lease'", "narrative"),
        ("matter_id", "NULL", "matter_id"),
        ("billed_units", "40", "billed_units"),
        ("billable", "0", "billable"),
        ("flag", "''", "flag"),
        ("status", "'approved'", "status"),
        ("version", "7", "version"),
        ("activity_code", "'A101'", "activity_code"),
    ],
)
def test_every_recorded_change_is_held_against_the_row(store: Store, column: str, value: str, field: str) -> None:
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: 1000.0, short_call_s=lambda: 5.0)
    entry = _call(capture, "c1", 4.0)  # short: flagged and not billable, both in the trail
    matter = make_matter(store, "M-1")
    with store.session() as s, s.begin():
        review.edit(
            s,
            entry,
            "alice",
            "client asked",
            matter_id=matter,
            narrative="Lease",
            billable=True,
            activity_code="A106",
            billed_units=1,
        )
        review.approve(s, [entry], "alice", FIRM)
    with store.session() as s, s.begin():
        review.reopen(s, entry, "alice", "wrong units")
    with store.session() as s:
        assert audit.verify(s).ok
    _sql(store, f"UPDATE time_entries SET {column} = {value} WHERE id = '{entry}'")
    result = _verify(store)
    assert (result.ok, result.entry_id) == (False, entry)
    assert result.problem.startswith(f"entry {entry}: {field} is ")


def test_units_marked_by_hand_without_a_change_in_the_trail_are_named(store: Store, capture: Capture) -> None:
    entry = _call(capture, "c1", 30.0)
    matter = make_matter(store, "M-1")
    with store.session() as s, s.begin():
        review.edit(s, entry, "alice", matter_id=matter)
    _sql(store, f"UPDATE time_entries SET billed_by_hand = 1, billed_units = NULL WHERE id = '{entry}'")
    result = _verify(store)
    assert not result.ok and "marked as set by hand but its trail records no such change" in result.problem
    with store.session() as s, s.begin():
        assert review.approve(s, [entry], "alice", FIRM).done == []


def test_an_entry_merged_away_and_put_back_is_named(store: Store, capture: Capture) -> None:
    first, second = _call(capture, "c1", 100.0, 1), _call(capture, "c2", 50.0, 2)
    matter = make_matter(store, "M-1")
    with store.session() as s, s.begin():
        for entry in (first, second):
            review.edit(s, entry, "alice", matter_id=matter)
    with store.session() as s:
        row = {c.name: getattr(s.get(TimeEntry, second), c.name) for c in TimeEntry.__table__.columns}
    with store.session() as s, s.begin():
        survivor = review.merge(s, [first, second], "alice", FIRM, "one conversation")
    assert _verify(store).ok
    gone = second if survivor.id == first else first
    with store.session() as s, s.begin():
        s.add(TimeEntry(**{**row, "id": gone, "segment_id": None}))
    result = _verify(store)
    assert not result.ok and result.entry_id == gone
    with store.session() as s:
        merged = s.scalar(select(AuditEvent.id).where(AuditEvent.entity_id == gone, AuditEvent.field == "merged_into"))
    assert (
        result.problem
        == f"entry {gone}: it was merged into entry {survivor.id} (event {merged}) but is still in the store"
    )


def test_synced_without_a_sent_version_is_named(store: Store, capture: Capture) -> None:
    entry = _call(capture, "c1", 30.0)
    matter = make_matter(store, "M-1")
    with store.session() as s, s.begin():
        review.edit(s, entry, "alice", matter_id=matter)
        review.approve(s, [entry], "alice", FIRM)
    _sql(store, f"UPDATE time_entries SET status = 'synced' WHERE id = '{entry}'")
    result = _verify(store)
    assert not result.ok and "is marked synced but its version 1 was never sent" in result.problem
    with store.session() as s:
        approval = s.scalar(select(AuditEvent.id).where(AuditEvent.entity_id == entry, AuditEvent.field == "status"))
    assert result.problem.endswith(f"(its trail says approved, event {approval})")


def test_the_whole_life_of_entries_verifies(store: Store, tmp_path: Path) -> None:
    """Captured, recovered, edited, split, merged, approved, reopened, approved again, pushed, invoiced."""
    from softclock.settings import CentralSettings
    from softclock.sync import admin
    from softclock.sync.service import Sync

    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: 1000.0, short_call_s=lambda: 5.0)
    ids = [_call(capture, f"c{i}", 60.0 + i * 0.001, i) for i in range(1, 6)]
    short = _call(capture, "short", 2.5, 9)
    matter, other = make_matter(store, "M-1"), make_matter(store, "M-2", client="Beta")
    with store.session() as s, s.begin():
        for entry in ids:
            review.edit(s, entry, "alice", matter_id=matter, narrative=f"Call {entry[:4]} «über»")
        review.edit(s, short, "alice", "it mattered", matter_id=matter, billable=True)
        pieces = review.split(s, ids[0], "alice", [20.0, 40.001], FIRM, matters=[matter, other])
        merged = review.merge(s, [ids[1], ids[2]], "alice", FIRM, "one conversation").id
        review.edit(s, ids[3], "alice", "agreed with the client", billed_units=3)
        outcome = review.approve(s, [p.id for p in pieces] + [merged, ids[3], ids[4], short], "alice", FIRM)
        assert len(outcome.done) == 6, outcome.refused
        review.reopen(s, ids[4], "alice", "narrative")
        review.edit(s, ids[4], "alice", narrative="Call, corrected")
        assert review.approve(s, [ids[4]], "alice", FIRM).done == [ids[4]]
    assert _verify(store).ok
    url = f"sqlite:///{tmp_path / 'central.db'}"
    sync = Sync(store, CentralSettings(url=url), "alice")
    admin.init_store(sync.engine)
    assert sync.once().push.sent == 6
    assert admin.mark_invoiced(sync.engine, [ids[3]]) == 1
    assert sync.once().pull.invoiced == 1  # type: ignore[union-attr]
    sync.close()
    with store.session() as s:
        statuses = sorted(s.scalars(select(TimeEntry.status)))
    assert statuses == ["invoiced"] + ["synced"] * 5
    result = _verify(store)
    assert result.ok and result.entries == 6  # five calls and a short one; a split added one, a merge took one


def test_entries_without_a_trail_are_left_alone(store: Store) -> None:
    """Entries written straight into the store (as some tests do) have nothing to disagree with."""
    entry = make_entry(store, 300, make_matter(store))
    with store.session() as s, s.begin():
        assert review.approve(s, [entry], "alice", FIRM).done == [entry]
    assert _verify(store).ok


@pytest.mark.parametrize("narrative", ["plain words", "Müller «über»", "sep\x1fnull\x1e", 'quote " and \\ slash'])
def test_the_quick_check_holds_entries_to_their_trail_too(store: Store, capture: Capture, narrative: str) -> None:
    entry = _call(capture, "c1", 30.0)
    with store.session() as s, s.begin():
        review.edit(s, entry, "alice", narrative=narrative)
    assert _verify(store).ok
    _call(capture, "c2", 40.0, handle=2)  # events after the checkpoint too
    assert _verify(store, since_checkpoint=True).ok
    _sql(store, f"UPDATE time_entries SET narrative = 'other words' WHERE id = '{entry}'")
    quick = _verify(store, since_checkpoint=True)
    assert (quick.ok, quick.entry_id) == (False, entry)
    assert quick.problem.startswith(f"entry {entry}: narrative is 'other words' but its trail says {narrative!r}")
