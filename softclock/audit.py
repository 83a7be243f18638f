"""An append-only audit trail whose events are chained by hash.

Each event's hash covers its own fields and the previous event's hash, and a
head row remembers the last event and the count, so ``verify`` names any
event that was edited, inserted or deleted — including a deleted tail. The
head row also keeps a checkpoint, the last event a check found intact, so the
everyday check starts there (see :func:`verify` for what that trusts).
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring_ascii as _quote  # what json.dumps uses for a str
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from softclock.store.models import AuditEvent, AuditHead
from softclock.formatting import utc_now

GENESIS = "0" * 64


def _digest(prev: str, at: datetime, actor: str, entity: str, entity_id: str, field: str,
            old: str | None, new: str | None, reason: str) -> str:  # fmt: skip
    return _digest_iso(prev, at.isoformat(), actor, entity, entity_id, field, old, new, reason)


def _digest_iso(prev: str, at: str, actor: str, entity: str, entity_id: str, field: str,
                old: str | None, new: str | None, reason: str) -> str:  # fmt: skip
    payload = _json_list((prev, at, actor, entity, entity_id, field, old, new, reason))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _json_list(values: tuple[object, ...]) -> str:
    """``json.dumps(list(values))``, character for character (the hashes depend
    on it), twice as fast for strings: a full verify encodes a million lists."""
    return "[" + ", ".join(_quote(v) if isinstance(v, str) else json.dumps(v) for v in values) + "]"


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def record(
    session: Session,
    actor: str,
    entity: str,
    entity_id: str,
    field: str,
    old: object,
    new: object,
    reason: str = "",
) -> AuditEvent:
    """Append one event (in the caller's transaction)."""
    head = session.get(AuditHead, 1)
    prev = head.last_hash if head else GENESIS
    at = utc_now()
    old_text, new_text = _text(old), _text(new)
    event = AuditEvent(
        at_utc=at,
        actor=actor,
        entity=entity,
        entity_id=str(entity_id),
        field=field,
        old_value=old_text,
        new_value=new_text,
        reason=reason,
        prev_hash=prev,
        hash=_digest(prev, at, actor, entity, str(entity_id), field, old_text, new_text, reason),
    )
    session.add(event)
    session.flush()
    if head is None:
        session.add(AuditHead(id=1, last_id=event.id, last_hash=event.hash, count=1))
    else:
        head.last_id, head.last_hash, head.count = event.id, event.hash, head.count + 1
    return event


_INSERT = (
    "INSERT INTO audit_events (id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason, "
    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def record_many(
    session: Session, actor: str, entity: str, changes: list[tuple[str, str, object, object, str]]
) -> None:
    """Append many events at once: (entity id, field, old, new, reason) each.

    Same chain as :func:`record`, written with one executemany (approving a
    thousand entries writes two thousand events).
    """
    if not changes:
        return
    head = session.get(AuditHead, 1)
    prev = head.last_hash if head else GENESIS
    next_id = head.last_id + 1 if head else (session.scalar(select(func.max(AuditEvent.id))) or 0) + 1
    at = utc_now()
    at_text = at.isoformat(" ", "microseconds")  # SQLAlchemy's DATETIME format on SQLite
    rows = []
    for entity_id, field_name, old, new, reason in changes:
        old_text, new_text = _text(old), _text(new)
        digest = _digest(prev, at, actor, entity, entity_id, field_name, old_text, new_text, reason)
        rows.append((next_id, at_text, actor, entity, entity_id, field_name, old_text, new_text, reason, prev, digest))
        prev, next_id = digest, next_id + 1
    # Straight to the driver: one executemany without per-row parameter processing
    # (the local store is SQLite; the ORM's bulk insert sent a statement per row).
    session.connection().exec_driver_sql(_INSERT, rows)
    last_id, last_hash = rows[-1][0], rows[-1][-1]
    if head is None:
        session.add(AuditHead(id=1, last_id=last_id, last_hash=last_hash, count=len(rows)))
    else:
        head.last_id, head.last_hash, head.count = last_id, last_hash, head.count + len(rows)


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    problem: str = ""
    event_id: int | None = None
    checked: int = field(default=0, compare=False)  # events whose hash was recomputed by this run
    since: int | None = field(default=None, compare=False)  # the checkpoint the run started after


_SELECT = (
    "SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason, prev_hash, hash "
    "FROM audit_events"
)


def _iso(stored: str) -> str:
    """``datetime.isoformat()`` of a timestamp as SQLAlchemy stores it on SQLite
    (``YYYY-MM-DD HH:MM:SS.ffffff``), without parsing it: a full walk reads a
    million of them. Anything else comes back unchanged (and fails its hash)."""
    if len(stored) == 26 and stored[10] == " ":
        return stored[:10] + "T" + (stored[11:19] if stored.endswith(".000000") else stored[11:])
    return stored


def _recomputed(event: tuple[Any, ...]) -> str:
    """The hash of a row of :data:`_SELECT`, from its own fields."""
    _id, at, actor, entity, entity_id, field_name, old, new, reason, prev, _hash = event
    stamp = _iso(at) if isinstance(at, str) else at.isoformat()
    return _digest_iso(prev, stamp, actor, entity, entity_id, field_name, old, new, reason)


def verify(session: Session, full: bool = False) -> Verification:
    """Check the chain and name the first inconsistency; then move the checkpoint.

    The checkpoint (``audit_head.checked_*``: the last event a run found
    intact, its hash and the chain's length up to it) makes the everyday check
    incremental: only the checkpointed event and the events after it are
    rechecked, so it costs the same on a million events as on a hundred.
    ``full=True`` walks the whole chain from the first event, and compares the
    checkpointed event's hash with the one the checkpoint remembers.

    Trust model: the chain is not keyed. It catches an event edited, inserted
    or deleted by anything that did not also recompute the hashes after it (a
    person with a database browser, a faulty tool, a damaged disk). Whoever
    can write the database file can also recompute every hash, the head and the
    checkpoint; a key kept on the same machine would not stop them, so the
    checkpoint is not signed: only copies kept elsewhere (synced entries, the
    central store) hold against that. What the checkpoint trusts is that events
    it covers have not changed since a run found them intact. An incremental
    run still notices an edit of the checkpointed event itself (its stored hash
    must equal the checkpoint's and must recompute from its fields), an event
    inserted or deleted just before it (its predecessor's hash must be its
    ``prev_hash``), and anything at all after it; an edit further back is for
    ``full=True`` to find, and a full run also notices a chain rewritten with
    fresh hashes before the checkpoint (the checkpointed hash no longer matches).

    The checkpoint is written in the caller's transaction: commit it.
    """
    head = session.get(AuditHead, 1)
    start = None if full or head is None or head.checked_id is None else head.checked_id
    prev, count, last_id = GENESIS, 0, 0
    if start is not None:
        assert head is not None and head.checked_hash is not None and head.checked_count is not None
        problem = _check_checkpoint(session, head.checked_id, head.checked_hash)
        if problem:
            return Verification(False, head.checked_count, problem, head.checked_id, 0, start)
        prev, count, last_id = head.checked_hash, head.checked_count, head.checked_id
    checked = 0
    # The driver's own tuples, timestamps left as stored: a third of the time
    # of SQLAlchemy rows on a million events.
    events = session.connection().exec_driver_sql(_SELECT + " WHERE id > ? ORDER BY id", (start or 0,))
    for event in events:
        event_id, event_prev, event_hash = event[0], event[9], event[10]
        count += 1
        checked += 1
        if event_prev != prev:
            return Verification(False, count, f"event {event_id} does not follow event {last_id}: one was inserted or deleted",
                                event_id, checked, start)  # fmt: skip
        if event_hash != _recomputed(event):
            return Verification(False, count, f"event {event_id} was edited after it was written", event_id, checked, start)
        if full and head is not None and event_id == head.checked_id and event_hash != head.checked_hash:
            return Verification(False, count, f"event {event_id} does not have the hash it had when it was last checked: "
                                "the chain up to it was rewritten", event_id, checked, start)  # fmt: skip
        prev, last_id = event_hash, event_id
    if head is None:
        if count:
            return Verification(False, count, "the chain's head record is missing", None, checked, start)
        return Verification(True, 0, checked=checked, since=start)
    if head.count != count or head.last_hash != prev:
        return Verification(
            False, count, f"the chain ends at event {last_id} but its head says {head.last_id}: events were deleted",
            head.last_id, checked, start,
        )  # fmt: skip
    if count and last_id != head.checked_id:
        session.execute(
            update(AuditHead).where(AuditHead.id == 1)
            .values(checked_id=last_id, checked_hash=prev, checked_count=count, checked_utc=utc_now())
        )  # fmt: skip
        session.expire(head)
    return Verification(True, count, checked=checked, since=start)


def _check_checkpoint(session: Session, event_id: int, expected_hash: str) -> str:
    """The spot checks an incremental run makes of the checkpointed event; ``""`` if they pass."""
    event = session.connection().exec_driver_sql(_SELECT + " WHERE id = ?", (event_id,)).first()
    if event is None:
        return f"event {event_id}, the last one checked, is missing: events were deleted"
    if event[10] != expected_hash or event[10] != _recomputed(tuple(event)):
        return f"event {event_id} was edited after it was written"
    before = session.execute(
        select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id < event_id).order_by(AuditEvent.id.desc()).limit(1)
    ).first()  # fmt: skip
    if (before.hash if before else GENESIS) != event[9]:
        return f"event {event_id} does not follow event {before.id if before else 0}: one was inserted or deleted"
    return ""


def history(session: Session, entity_id: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity_id == entity_id).order_by(AuditEvent.id)))
