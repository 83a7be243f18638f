"""An append-only audit trail whose events are chained by hash.

Each event's hash covers its own fields and the previous event's hash, and a
head row remembers the last event and the count, so :func:`verify` names any
event that was edited, inserted or deleted, including a deleted tail. The
head row also keeps a checkpoint: how far the last clean check got (the event,
its hash and the chain's length up to it). The checkpoint only moves forward,
and only after a clean check, so a chain that later ends before it (a tail
deleted and the head pointed at the new last event) is broken.

:func:`verify` also holds each time entry to its trail: the raw seconds it was
born with and the last recorded value of every field the trail has changed.
A row edited in the database file (raw seconds 4.9 -> 3,600) is named, and
:func:`entry_problems` lets approval refuse it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring_ascii as _quote  # what json.dumps uses for a str
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from softclock.formatting import utc_now
from softclock.states import EntryStatus
from softclock.store.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _digest(
    prev: str,
    at: datetime,
    actor: str,
    entity: str,
    entity_id: str,
    field: str,
    old: str | None,
    new: str | None,
    reason: str,
) -> str:
    return _digest_iso(prev, at.isoformat(), actor, entity, entity_id, field, old, new, reason)


def _digest_iso(
    prev: str,
    at: str,
    actor: str,
    entity: str,
    entity_id: str,
    field: str,
    old: str | None,
    new: str | None,
    reason: str,
) -> str:
    payload = _json_list((prev, at, actor, entity, entity_id, field, old, new, reason))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _json_list(values: tuple[object, ...]) -> str:
    """``json.dumps(list(values))``, character for character (the hashes depend
    on it), twice as fast for strings."""
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


def record_many(session: Session, actor: str, entity: str, changes: list[tuple[str, str, object, object, str]]) -> None:
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
    entry_id: str | None = field(default=None, compare=False)  # the entry that disagrees with its trail
    entries: int = field(default=0, compare=False)  # entries held to their trail by this run
    head_hash: str = field(default="", compare=False)  # the chain's last hash (when intact)


# ---------------------------------------------------------------------------------------------- the chain

_SELECT = (
    "SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason, prev_hash, hash "
    "FROM audit_events"
)


def _iso(stored: str) -> str:
    """``datetime.isoformat()`` of a timestamp as SQLAlchemy stores it on SQLite
    (``YYYY-MM-DD HH:MM:SS.ffffff``), without parsing it. Anything else comes
    back unchanged (and fails its hash)."""
    if len(stored) == 26 and stored[10] == " ":
        return stored[:10] + "T" + (stored[11:19] if stored.endswith(".000000") else stored[11:])
    return stored


def _recomputed(event: tuple[Any, ...]) -> str:
    """The hash of a row of :data:`_SELECT`, from its own fields."""
    _id, at, actor, entity, entity_id, field_name, old, new, reason, prev, _hash = event
    stamp = _iso(at) if isinstance(at, str) else at.isoformat()
    return _digest_iso(prev, stamp, actor, entity, entity_id, field_name, old, new, reason)


# The whole-chain check hashes in bulk. SQLite writes each event's hashed text
# the simple way (fields in double quotes, no escaping) and hands a chunk of
# them over as one string, with the chunk's hashes and previous hashes; Python
# hashes each text in a tight loop and compares whole chunks at once. That
# simple text is the real one (json.dumps') only when no field needs escaping:
# printable ASCII, no backslash and no double quote inside a field (the count
# of quotes gives those away). A text that is not plain is never trusted: that
# event is hashed from its fields the exact way, and so is one whose simple
# hash does not match (a whole-second timestamp, stored ``.000000`` and hashed
# without it). Any remaining mismatch sends the chunk through the
# event-by-event check, which names the problem. Each chunk also brings its
# time-entry events (entry, field, new value, reason), from which the entries
# are then held to their trail. (A reader thread building the next chunk while
# Python hashes this one gained nothing on the 2-core machine measured.)
_CHUNK = 2000
_PLAIN = (
    'format(\'["%s", "%s", "%s", "%s", "%s", "%s", %s, %s, "%s"]\', prev_hash, replace(at_utc, \' \', \'T\'), '
    "actor, entity, entity_id, field, iif(old_value IS NULL, 'null', '\"' || old_value || '\"'), "
    "iif(new_value IS NULL, 'null', '\"' || new_value || '\"'), reason)"
)
_SEP, _NULL = "\x1f", "\x1e"  # between the time-entry fields of a chunk; a null new value (never in a plain chunk)
_FAST = (
    "SELECT group_concat(p, char(10)), group_concat(hash, char(10)), group_concat(prev_hash, char(10)), "
    "group_concat(k, ''), count(*), max(id), group_concat(t, char(31)) FROM ("
    f"SELECT id, {_PLAIN} AS p, hash, prev_hash, (old_value IS NULL) + 2 * (new_value IS NULL) AS k, "
    "iif(entity = 'time_entry', entity_id || char(31) || field || char(31) || ifnull(new_value, char(30)) || char(31) "
    "|| iif(field = 'billed_units', reason, ''), NULL) AS t "
    "FROM audit_events WHERE id > ? ORDER BY id LIMIT ?)"
)
# Double quotes of a plain text by its kind (bit 1: old value null, bit 2: new value null).
_QUOTES = {"0": 18, "1": 16, "2": 16, "3": 14}


def _plain(text: str, kind: str) -> bool:
    return text.isascii() and text.isprintable() and "\\" not in text and text.count('"') == _QUOTES.get(kind, -1)


@dataclass
class _Chunk:
    texts: str | None
    hashes: str | None
    prevs: str | None
    kinds: str
    count: int
    max_id: int
    trail: str | None
    plain: bytes | None  # the texts as bytes, when every one of them is plain
    rows: list[tuple[Any, ...]] | None  # every event of the chunk as stored, when they are not


_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"  # what a plain chunk holds: printable ASCII, and its separators


def _read_chunk(dbapi: Any, after_id: int, chunk: int) -> _Chunk | None:
    texts, hashes, prevs, kinds, count, max_id, trail = dbapi.execute(_FAST, (after_id, chunk)).fetchone()
    if not count:
        return None
    kinds = kinds or ""
    plain = None
    if (
        texts is not None
        and texts.isascii()
        and "\\" not in texts
        and texts.count("\n") == count - 1
        and texts.count('"')
        == 18 * kinds.count("0") + 16 * (kinds.count("1") + kinds.count("2")) + 14 * kinds.count("3")
    ):
        data = texts.encode()
        if not data.translate(None, _PRINTABLE):  # no control character
            plain = data
    rows = None if plain is not None else _chunk_rows(dbapi, after_id, chunk)
    return _Chunk(texts, hashes, prevs, kinds, count, max_id, trail, plain, rows)


def _chunk_rows(dbapi: Any, after_id: int, chunk: int) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = dbapi.execute(
        _SELECT + " WHERE id > ? ORDER BY id LIMIT ?", (after_id, chunk)
    ).fetchall()
    return rows


@dataclass
class _Walk:
    """Where a walk along the chain stands: the last event passed, its hash, how many so far."""

    last_id: int = 0
    prev: str = GENESIS
    count: int = 0
    checked: int = 0
    problem: str = ""
    event_id: int | None = None


def _walk(dbapi: Any, walk: _Walk, fold: _Fold | None = None) -> _Walk:
    """Check every event after ``walk.last_id``; stops at the first problem.

    ``fold`` takes the time-entry events of the chunks found intact."""
    sha, chunk = hashlib.sha256, _CHUNK
    while True:
        first = walk.last_id
        item = _read_chunk(dbapi, first, chunk)
        if item is None:
            return walk
        stored = item.hashes.split("\n") if item.hashes is not None else []
        rows = item.rows
        digests: list[str] = []
        if len(stored) == item.count:
            if item.plain is not None:
                digests = [sha(text).hexdigest() for text in item.plain.split(b"\n")]
            else:
                assert rows is not None
                texts = item.texts.split("\n") if item.texts is not None else []
                aligned = len(texts) == len(rows) == len(item.kinds)
                digests = [
                    sha(texts[i].encode()).hexdigest()
                    if aligned and _plain(texts[i], item.kinds[i])
                    else _recomputed(row)
                    for i, row in enumerate(rows)
                ]
            if digests != stored and rows is None:
                # A plain text whose simple hash missed (a whole-second timestamp): hash those exactly.
                rows = _chunk_rows(dbapi, first, chunk)
                if len(rows) == len(digests):
                    digests = [
                        d if d == h else _recomputed(row) for d, h, row in zip(digests, stored, rows, strict=True)
                    ]
        if digests == stored and item.prevs == "\n".join([walk.prev, *stored[:-1]]):
            walk.last_id, walk.prev = item.max_id, stored[-1]
            walk.count += item.count
            walk.checked += item.count
            if fold is not None:
                if rows is not None:
                    fold.add([(r[4], r[5], r[7], r[8]) for r in rows if r[3] == "time_entry"])
                elif item.trail is not None:
                    fold.add_text(item.trail)
            continue
        _walk_slowly(dbapi, walk, item.max_id)  # names the problem (or finds none: on to the next chunk)
        if walk.problem:
            return walk
        if fold is not None:
            fold.add(
                dbapi.execute(
                    "SELECT entity_id, field, new_value, reason FROM audit_events "
                    "WHERE id > ? AND id <= ? AND entity = 'time_entry' ORDER BY id",
                    (first, item.max_id),
                )
            )


_TRAIL = (
    "SELECT group_concat(t, char(31)), count(t), sum(n), max(id) FROM (SELECT id, "
    "iif(entity = 'time_entry', entity_id || char(31) || field || char(31) || ifnull(new_value, char(30)) || char(31) "
    "|| iif(field = 'billed_units', reason, ''), NULL) AS t, entity = 'time_entry' AND new_value IS NULL AS n "
    "FROM audit_events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)"
)


def _fold_up_to(dbapi: Any, fold: _Fold, up_to: int) -> None:
    """The time-entry events up to ``up_to`` into ``fold``, a chunk per query: as one text when no field holds
    the separators (their counts say so), else row by row."""
    after = 0
    while after < up_to:
        text, count, nulls, max_id = dbapi.execute(_TRAIL, (after, up_to, _CHUNK)).fetchone()
        if max_id is None:
            return
        if text is not None and text.count(_SEP) == 4 * count - 1 and text.count(_NULL) == (nulls or 0):
            fold.add_text(text)
        elif count:
            fold.add(
                dbapi.execute(
                    "SELECT entity_id, field, new_value, reason FROM audit_events "
                    "WHERE id > ? AND id <= ? AND entity = 'time_entry' ORDER BY id",
                    (after, max_id),
                )
            )
        after = max_id


def _walk_slowly(dbapi: Any, walk: _Walk, up_to: int) -> None:
    """The event-by-event check of events ``walk.last_id`` < id <= ``up_to``."""
    events = dbapi.execute(_SELECT + " WHERE id > ? AND id <= ? ORDER BY id", (walk.last_id, up_to))
    for event in events:
        event_id, event_prev, event_hash = event[0], event[9], event[10]
        walk.count += 1
        walk.checked += 1
        if event_prev != walk.prev:
            walk.problem = f"event {event_id} does not follow event {walk.last_id}: one was inserted or deleted"
            walk.event_id = event_id
            return
        if event_hash != _recomputed(event):
            walk.problem, walk.event_id = f"event {event_id} was edited after it was written", event_id
            return
        walk.prev, walk.last_id = event_hash, event_id


def verify(
    session: Session, since_checkpoint: bool = False, *, full: bool | None = None, entries: bool = True
) -> Verification:
    """Check the chain and each entry against its trail; name the first problem; then move the checkpoint.

    By default every event is rehashed (in bulk: see :func:`_walk`) and the
    checkpoint of the last clean check must still be there with the hash and
    position it had. ``since_checkpoint=True`` is the quick check: only the
    checkpointed event and the events after it are rehashed (``full`` is the
    old spelling: ``full=False`` means ``since_checkpoint=True``).

    Either way the chain may not end before the checkpoint (a deleted tail with
    the head pointed at the new last event), the head must name the chain's
    last event and length, a chain may not be empty while time entries exist
    (an entry is born in the trail when its call ends), and each entry must
    agree with its trail (``entries=False`` skips that; see
    :func:`entry_problems`). The checkpoint moves forward, never back, and only
    after a check found nothing wrong. Everything is read in one snapshot of
    the store, so calls captured meanwhile do not look like damage.

    Trust model: the chain is not keyed. It catches an event edited, inserted
    or deleted by anything that did not also recompute the hashes after it (a
    person with a database browser, a faulty tool, a damaged disk). Whoever
    can write the database file can also recompute every hash, the head and the
    checkpoint; a key kept on the same machine would not stop them, so only
    copies kept elsewhere hold against that: each push anchors the chain's head
    in the central store (:mod:`softclock.sync.anchor`, ``audit verify
    --central``). The quick check trusts that events the checkpoint covers have
    not changed since a run found them intact; it still notices an edit of the
    checkpointed event itself, an event inserted or deleted just before it, and
    anything at all after it.

    The checkpoint is written in the caller's transaction: commit it.
    """
    if full is not None:
        since_checkpoint = not full
    conn = session.connection()
    dbapi = _driver(session)
    own_snapshot = not dbapi.in_transaction
    if own_snapshot:
        dbapi.execute("BEGIN")  # one read snapshot for every query below
    try:
        result, advance = _verify(dbapi, since_checkpoint, entries)
    finally:
        if own_snapshot:
            dbapi.execute("COMMIT")  # read only: ends the snapshot
    if advance is not None:
        last_id, last_hash, count = advance
        conn.exec_driver_sql(
            "UPDATE audit_head SET checked_id = ?, checked_hash = ?, checked_count = ?, checked_utc = ? "
            "WHERE id = 1 AND (checked_id IS NULL OR checked_id < ?)",
            (last_id, last_hash, count, utc_now().isoformat(" ", "microseconds"), last_id),
        )  # forward only, even if another check moved it meanwhile
        head = session.identity_map.get(session.identity_key(AuditHead, 1))
        if head is not None:
            session.expire(head)
    return result


def _verify(dbapi: Any, since_checkpoint: bool, entries: bool) -> tuple[Verification, tuple[int, str, int] | None]:
    """:func:`verify` inside its snapshot; also the checkpoint to move to, if any."""
    head = dbapi.execute(
        "SELECT last_id, last_hash, count, checked_id, checked_hash, checked_count FROM audit_head WHERE id = 1"
    ).fetchone()
    checkpoint = None
    if head is not None and head[3] is not None and head[4] is not None:
        checkpoint = (head[3], head[4], head[5] or 0)
    walk, start = _Walk(), None
    fold = _Fold() if entries else None
    if since_checkpoint and checkpoint is not None:
        start = checkpoint[0]
        problem = _check_checkpoint(dbapi, checkpoint[0], checkpoint[1])
        if problem:
            return Verification(False, checkpoint[2], problem, checkpoint[0], 0, start), None
        walk = _Walk(last_id=checkpoint[0], prev=checkpoint[1], count=checkpoint[2])
        if fold is not None:  # the events the checkpoint covers are trusted, but the entries are held to them
            _fold_up_to(dbapi, fold, checkpoint[0])
    _walk(dbapi, walk, fold)

    def broken(problem: str, event_id: int | None) -> tuple[Verification, None]:
        return Verification(False, walk.count, problem, event_id, walk.checked, start), None

    if walk.problem:
        return broken(walk.problem, walk.event_id)
    if checkpoint is not None and start is None:
        problem = _checkpoint_still_there(dbapi, *checkpoint)
        if problem:
            return broken(problem, checkpoint[0])
    if checkpoint is not None and (walk.last_id < checkpoint[0] or walk.count < checkpoint[2]):
        return broken(
            f"the chain ends at event {walk.last_id} ({walk.count} events) but the last check found it intact up to "
            f"event {checkpoint[0]} ({checkpoint[2]} events): events were deleted",
            walk.last_id or None,
        )
    if head is None:
        if walk.count:
            return broken("the chain's head record is missing", None)
    elif head[2] != walk.count or head[1] != walk.prev:
        return broken(
            f"the chain ends at event {walk.last_id} but its head says {head[0]}: events were deleted", head[0]
        )
    if walk.count == 0:
        born = _entries_outside_live_calls(dbapi)
        if born:
            return broken(f"the trail is empty but the store holds {born} time entries: the trail was deleted", None)
    held = 0
    if fold is not None:
        found = fold.first_problem(dbapi, trail_checked=start is None)
        held = found.checked
        if found.problem:
            return Verification(
                False, walk.count, found.problem, found.event_id, walk.checked, start, found.entry_id, held
            ), None
    advance = None
    if walk.count and walk.last_id > (checkpoint[0] if checkpoint else 0):
        advance = (walk.last_id, walk.prev, walk.count)
    return Verification(True, walk.count, checked=walk.checked, since=start, entries=held, head_hash=walk.prev), advance


def _driver(session: Session) -> Any:
    """The session's sqlite3 connection: the bulk queries go straight to it."""
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None
    return dbapi


def _check_checkpoint(dbapi: Any, event_id: int, expected_hash: str) -> str:
    """The spot checks a quick run makes of the checkpointed event; ``""`` if they pass."""
    event = dbapi.execute(_SELECT + " WHERE id = ?", (event_id,)).fetchone()
    if event is None:
        return f"event {event_id}, the last one checked, is missing: events were deleted"
    if event[10] != expected_hash or event[10] != _recomputed(tuple(event)):
        return f"event {event_id} was edited after it was written"
    before = dbapi.execute(
        "SELECT id, hash FROM audit_events WHERE id < ? ORDER BY id DESC LIMIT 1", (event_id,)
    ).fetchone()
    if (before[1] if before else GENESIS) != event[9]:
        return f"event {event_id} does not follow event {before[0] if before else 0}: one was inserted or deleted"
    return ""


def _checkpoint_still_there(dbapi: Any, event_id: int, expected_hash: str, expected_count: int) -> str:
    """After a whole walk found every event intact: the checkpointed event is where the last check left it."""
    found = dbapi.execute("SELECT hash FROM audit_events WHERE id = ?", (event_id,)).fetchone()
    if found is None:
        return f"event {event_id}, the last one checked, is missing: events were deleted"
    if found[0] != expected_hash:
        return (
            f"event {event_id} does not have the hash it had when it was last checked: the chain up to it was rewritten"
        )
    position = dbapi.execute("SELECT count(*) FROM audit_events WHERE id <= ?", (event_id,)).fetchone()[0]
    if position != expected_count:
        return (
            f"event {event_id} is event number {position} of the chain but was number {expected_count} when it "
            "was last checked: the chain up to it was rewritten"
        )
    return ""


def _entries_outside_live_calls(dbapi: Any) -> int:
    """Time entries that should have been born in the trail (every one not on a call still in progress)."""
    return int(
        dbapi.execute(
            "SELECT count(*) FROM time_entries t LEFT JOIN calls c ON c.id = t.call_id "
            "WHERE c.id IS NULL OR c.disposition <> 'in_progress'"
        ).fetchone()[0]
    )


# ------------------------------------------------------------------------------ entries against their trail

_FLOATS = ("raw_seconds", "hold_seconds")
_INTS = ("billed_units", "matter_id", "version")
_TEXTS = ("status", "narrative", "activity_code", "task_code", "flag")
_BOOLS = ("billable",)
_FIELDS = frozenset((*_FLOATS, *_INTS, *_TEXTS, *_BOOLS))
_COLUMNS = (
    "raw_seconds",
    "hold_seconds",
    "billed_units",
    "matter_id",
    "version",
    "status",
    "narrative",
    "activity_code",
    "task_code",
    "flag",
    "billable",
)
_SPLIT_BIRTH = re.compile(r"split from \S+: (-?[0-9.]+) s on matter (\S+)\Z")
_ROW = f"SELECT id, {', '.join(_COLUMNS)}, billed_by_hand FROM time_entries"
_EVENT = "\x00"  # where a message names the event (values in messages are repr()-ed: never a NUL)
# What an entry captured at the end of its call holds, until the trail says otherwise.
_CAPTURED = {
    "billed_units": None,
    "flag": "",
    "billable": "True",
    "narrative": "",
    "status": EntryStatus.DRAFT,
    "version": "1",
}


@dataclass
class _EntryCheck:
    problem: str = ""
    entry_id: str | None = None
    event_id: int | None = None
    checked: int = 0


class _Fold:
    """What each entry's trail says its row holds, folded from its events in order.

    ``said[entry][field]`` is the value last written (as text); a captured
    entry starts as capture writes it, a piece of a split with the time and the
    matter its ``created`` event names (the rest was copied from the entry)."""

    def __init__(self) -> None:
        self.said: dict[str, dict[str, str | None]] = {}
        self.by_hand: set[str] = set()  # entries whose last billed-units change was a person's
        self.merged: dict[str, str | None] = {}  # entry -> the entry it was merged into

    def add_text(self, text: str) -> None:
        """Events as a plain chunk carries them: entry, field, new value (``_NULL``: none), reason."""
        tokens = text.split(_SEP)
        self.add(zip(tokens[0::4], tokens[1::4], tokens[2::4], tokens[3::4], strict=False), _NULL)

    def add(self, events: Iterable[tuple[str, str, str | None, str]], null: str | None = None) -> None:
        said, by_hand, fields = self.say, self.by_hand, _FIELDS
        for entity_id, field_name, value, reason in events:
            if value == null:
                value = None
            if field_name in fields:
                said(entity_id)[field_name] = value
                if field_name == "billed_units":
                    if reason == "policy":
                        by_hand.discard(entity_id)
                    else:
                        by_hand.add(entity_id)
            elif field_name == "created":
                self._born(entity_id, value or "")
            elif field_name == "merged_into":
                self.merged[entity_id] = value

    def say(self, entity_id: str) -> dict[str, str | None]:
        values = self.said.get(entity_id)
        if values is None:
            values = self.said[entity_id] = {}
        return values

    def _born(self, entity_id: str, value: str) -> None:
        values = self.say(entity_id)
        split = _SPLIT_BIRTH.match(value)
        if split is not None:  # a piece of a split: its time and its matter (the rest was copied)
            matter = split.group(2)
            values["raw_seconds"], values["matter_id"] = split.group(1), None if matter == "None" else matter
            values.setdefault("status", EntryStatus.DRAFT)
            values.setdefault("version", "1")
        else:  # captured: as capture writes an entry when its call ends
            values["raw_seconds"] = value
            for name, first in _CAPTURED.items():
                values.setdefault(name, first)

    def first_problem(self, dbapi: Any, trail_checked: bool) -> _EntryCheck:
        sent = _sent(dbapi)
        check = _EntryCheck()
        for row in dbapi.execute(_ROW + " ORDER BY id"):
            if row[0] not in self.said and row[0] not in self.merged:
                continue
            check.checked += 1
            problem, field_name = self.disagreement(row, sent, trail_checked)
            if problem:
                event_id = _event_of(dbapi, row[0], field_name)
                said = f"entry {row[0]}: " + problem.replace(_EVENT, str(event_id))
                return _EntryCheck(said, row[0], event_id, check.checked)
        return check

    def disagreement(self, row: Any, sent: set[tuple[str, int]], trail_checked: bool) -> tuple[str, str]:
        """Why ``row`` is not what its trail says, and the field; or ``("", "")``.

        Said of the entry without naming it (approval refuses it by its id; a check puts
        ``entry <id>:`` in front), with ``_EVENT`` where the event's id goes."""
        entry_id = row[0]
        if entry_id in self.merged:
            into = str(self.merged[entry_id]).replace(_EVENT, "")
            return (
                f"it was merged into entry {into} (event {_EVENT}) but is still in the store",
                "merged_into",
            )
        for name, written in self.said.get(entry_id, {}).items():
            stored = row[_AT[name]]
            if _SAME[name](stored, written):
                continue
            if (
                name == "status"
                and written == EntryStatus.APPROVED
                and stored in (EntryStatus.SYNCED, EntryStatus.INVOICED)
            ):
                # Sync moves an approved entry on; "synced" only for a version the outbox sent.
                version = row[_AT["version"]]
                if stored == EntryStatus.INVOICED or (entry_id, version) in sent:
                    continue
                return (
                    f"it is marked synced but its version {version} was never sent "
                    f"(its trail says approved, event {_EVENT})",
                    name,
                )
            return (
                f"{name} is {_shown(stored)} but its trail says {_shown(written)} "
                f"(event {_EVENT}): {_culprit(trail_checked)}",
                name,
            )
        if row[12] and entry_id not in self.by_hand:
            return (
                "billed units are marked as set by hand but its trail records no such change: "
                f"{_culprit(trail_checked)}",
                "billed_units",
            )
        return "", ""


def _culprit(trail_checked: bool) -> str:
    return (
        "the entry was changed outside the app"
        if trail_checked
        else "the entry or its trail was changed outside the app"
    )


def _same_float(stored: Any, written: str | None) -> bool:
    # Born with three decimals; later changes written as Python prints a float.
    try:
        return stored is not None and written is not None and abs(float(stored) - float(written)) <= 0.0005 + 1e-9
    except (TypeError, ValueError):
        return False


def _same_int(stored: Any, written: str | None) -> bool:
    if written is None or stored is None:
        return written is None and stored is None
    try:
        return int(stored) == int(written)
    except (TypeError, ValueError):
        return False


def _same_bool(stored: Any, written: str | None) -> bool:
    return written in ("True", "False", "1", "0") and bool(stored) == (written in ("True", "1"))


def _same_text(stored: Any, written: str | None) -> bool:
    return (stored or "") == (written or "")


_SAME = {
    **dict.fromkeys(_FLOATS, _same_float),
    **dict.fromkeys(_INTS, _same_int),
    **dict.fromkeys(_BOOLS, _same_bool),
    **dict.fromkeys(_TEXTS, _same_text),
}
_AT = {name: i for i, name in enumerate(_COLUMNS, start=1)}  # a column's place in a row of _ROW


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value) if isinstance(value, str) else str(value)


def _event_of(dbapi: Any, entry_id: str, field_name: str) -> int | None:
    """The event that says what ``field_name`` of the entry holds: its last change, else its birth."""
    for name in (field_name, "created"):
        found = dbapi.execute(
            "SELECT max(id) FROM audit_events WHERE entity = 'time_entry' AND entity_id = ? AND field = ?",
            (entry_id, name),
        ).fetchone()[0]
        if found is not None:
            return int(found)
    return None


def _sent(dbapi: Any) -> set[tuple[str, int]]:
    return set(dbapi.execute("SELECT entry_id, version FROM outbox WHERE state = 'sent'").fetchall())


def entry_problems(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """Entries among ``ids`` whose row disagrees with their trail: entry id -> why (for approval to refuse)."""
    dbapi = _driver(session)
    wanted = list(dict.fromkeys(ids))
    problems: dict[str, str] = {}
    sent: set[tuple[str, int]] | None = None
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" * len(part))
        fold = _Fold()
        fold.add(
            dbapi.execute(
                "SELECT entity_id, field, new_value, reason FROM audit_events "
                f"WHERE entity = 'time_entry' AND entity_id IN ({marks}) ORDER BY id",
                tuple(part),
            )
        )
        if not fold.said and not fold.merged:
            continue
        if sent is None:
            sent = _sent(dbapi)
        for row in dbapi.execute(f"{_ROW} WHERE id IN ({marks})", tuple(part)):
            problem, field_name = fold.disagreement(row, sent, trail_checked=False)
            if problem:
                problems[row[0]] = problem.replace(_EVENT, str(_event_of(dbapi, row[0], field_name)))
    return problems


def history(session: Session, entity_id: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity_id == entity_id).order_by(AuditEvent.id)))
