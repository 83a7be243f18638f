"""Every call a laptop captured reaches the central store, through the same outbox as entries.

Each ended call gets a stable id (``call`` + 32 hex digits: a UUID5 of the
timekeeper, the SIP Call-ID and the far end's tag, so it can never be taken
for an entry's UUID) and a payload: direction, remote number (E.164), start,
answer and end (UTC), ring, talk and held seconds, disposition, SIP Call-ID,
the recovered flag and the ids and statuses of the entries made from it.

At every push the laptop compares each call's payload hash with the newest
version it queued (:func:`enqueue_changed`): a new call is queued as version
1, a changed one (an entry approved, reopened or invoiced; a recovered call
closed) as the next version. So existing calls are backfilled by the first
sync, and a call is queued again only when it changed. :func:`push_calls` then
sends the newest pending version of each call in one central transaction:
``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE calls.version <
excluded.version``, so a version the store holds (a retry after a lost commit)
or an older one changes nothing: exactly once by call id and version. The
outbox rows are marked only after the central commit.

With ``[central] privacy = true`` the number is replaced, at push time, by
HMAC-SHA256 keyed with the firm's ``number_hash_key`` (central
``firm_settings``): repeat callers can still be counted and matched with the
PBX's records (whose numbers are hashed with the same key), but the number
itself stays on the laptop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from softclock.formatting import utc_now
from softclock.states import Disposition
from softclock.store.db import Store
from softclock.store.models import Call, Outbox, TimeEntry
from softclock.sync.outbox import frozen

PREFIX = "call"
# The ids that start with PREFIX, as a range the outbox's (entry_id, version) index answers (LIKE 'call%' read
# the whole outbox at every push: 100 ms with 1,000,000 entries synced, bench/sync.py).
_PREFIX_END = PREFIX[:-1] + chr(ord(PREFIX[-1]) + 1)
_NAMESPACE = uuid.UUID("6b1f9a52-3f0e-4c55-9a47-0c5a1d7e2b10")
HASH_KEY = "number_hash_key"
_STAMP = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime format
_CHUNK = 500
COLUMNS = (
    "id",
    "version",
    "content_hash",
    "timekeeper_id",
    "direction",
    "remote_number",
    "number_hashed",
    "start_utc",
    "answer_utc",
    "end_utc",
    "ring_seconds",
    "talk_seconds",
    "hold_seconds",
    "disposition",
    "sip_call_id",
    "recovered",
    "entries_json",
    "pushed_utc",
)


def call_uid(timekeeper: str, sip_call_id: str, dialog_tag: str) -> str:
    return PREFIX + uuid.uuid5(_NAMESPACE, f"{timekeeper}\x1f{sip_call_id}\x1f{dialog_tag}").hex


def is_call(outbox_id: str) -> bool:
    return outbox_id.startswith(PREFIX)


def number_hash(key: str, number: str) -> str:
    """The firm-keyed HMAC-SHA256 (hex) of an E.164 number; empty for no number."""
    return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest() if number else ""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def payloads(session: Session, timekeeper: str) -> dict[str, dict[str, object]]:
    """The payload of every ended call in the local store, by call id."""
    entries: dict[int, list[list[str]]] = {}
    for call_id, entry_id, status in session.execute(
        select(TimeEntry.call_id, TimeEntry.id, TimeEntry.status).where(TimeEntry.call_id.is_not(None))
    ):
        if call_id is not None:
            entries.setdefault(call_id, []).append([entry_id, status])
    out: dict[str, dict[str, object]] = {}
    for c in session.execute(select(Call).where(Call.disposition != Disposition.IN_PROGRESS)).scalars():
        uid = call_uid(timekeeper, c.sip_call_id, c.dialog_tag)
        out[uid] = {
            "id": uid,
            "timekeeper": timekeeper,
            "direction": c.direction,
            "remote_number": c.remote_number or "",
            "start_utc": _iso(c.invited_utc),
            "answer_utc": _iso(c.answered_utc),
            "end_utc": _iso(c.ended_utc),
            "ring_seconds": round(c.ring_seconds or 0.0, 3),
            "talk_seconds": round(c.talk_seconds or 0.0, 3),
            "hold_seconds": round(c.hold_seconds or 0.0, 3),
            "disposition": c.disposition,
            "sip_call_id": c.sip_call_id,
            "recovered": bool(c.recovered),
            "entries": sorted(entries.get(c.id, [])),
        }
    return out


def enqueue_changed(session: Session, timekeeper: str) -> int:
    """Queue a new version of every call whose payload changed since its newest queued version (or that
    was never queued); returns how many were queued. Runs inside the caller's transaction."""
    known: dict[str, tuple[int, str]] = {}
    for entry_id, version, digest in session.execute(
        text(
            "SELECT o.entry_id, o.version, o.content_hash FROM outbox o JOIN (SELECT entry_id, max(version) AS v "
            "FROM outbox WHERE entry_id >= :lo AND entry_id < :hi GROUP BY entry_id) n "
            "ON n.entry_id = o.entry_id AND n.v = o.version"
        ),
        {"lo": PREFIX, "hi": _PREFIX_END},
    ):
        known[entry_id] = (int(version), str(digest))
    stamp = utc_now().strftime(_STAMP)
    rows = []
    for uid, payload in payloads(session, timekeeper).items():
        body, digest = frozen(payload)
        have = known.get(uid)
        if have is not None and have[1] == digest:
            continue
        rows.append((uid, (have[0] + 1) if have else 1, body, digest, stamp))
    if rows:
        session.connection().exec_driver_sql(
            "INSERT INTO outbox (entry_id, version, payload_json, content_hash, state, attempts, last_error, "
            "enqueued_utc) VALUES (?, ?, ?, ?, 'pending', 0, '', ?)",
            rows,
        )
    return len(rows)


@dataclass(frozen=True)
class CallPush:
    queued: int = 0
    sent: int = 0


def _hash_key(conn: Connection) -> str:
    key = conn.execute(text("SELECT value FROM firm_settings WHERE key = :k"), {"k": HASH_KEY}).scalar()
    if not key:
        raise RuntimeError("the central store has no number_hash_key: run `softclock admin init-store` to migrate it")
    return str(key)


def central_row(payload: dict[str, Any], version: int, identity: str, key: str | None, now: datetime) -> dict[str, Any]:
    number = str(payload["remote_number"] or "")
    hashed = key is not None
    row = {
        "id": payload["id"],
        "version": version,
        "timekeeper_id": identity,
        "direction": payload["direction"],
        "remote_number": number_hash(key, number) if key is not None else number,
        "number_hashed": hashed,
        "start_utc": datetime.fromisoformat(payload["start_utc"]),
        "answer_utc": datetime.fromisoformat(payload["answer_utc"]) if payload["answer_utc"] else None,
        "end_utc": datetime.fromisoformat(payload["end_utc"]) if payload["end_utc"] else None,
        "ring_seconds": float(payload["ring_seconds"]),
        "talk_seconds": float(payload["talk_seconds"]),
        "hold_seconds": float(payload["hold_seconds"]),
        "disposition": payload["disposition"],
        "sip_call_id": payload["sip_call_id"],
        "recovered": bool(payload["recovered"]),
        "entries_json": json.dumps(payload["entries"], separators=(",", ":")),
        "pushed_utc": now,
    }
    row["content_hash"] = hashlib.sha256(
        json.dumps({k: v for k, v in row.items() if k != "pushed_utc"}, sort_keys=True, default=str).encode()
    ).hexdigest()
    return row


def _upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    cols = ", ".join(COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
    sql = (
        f"INSERT INTO calls ({cols}) VALUES ({', '.join(':' + c for c in COLUMNS)}) "
        f"ON CONFLICT (id) DO UPDATE SET {sets} WHERE calls.version < excluded.version"
    )
    conn.execute(text(sql), list(rows))


def push_calls(store: Store, central: Engine, identity: str | None, privacy: bool = False) -> CallPush:
    """Queue changed calls, then push the newest pending version of each; the outbox is marked after the
    central commit. Without an identity (the timekeeper) calls are not pushed."""
    if not identity:
        return CallPush()
    # Reach the central store first: while it is unreachable nothing is queued (the outbox's waiting count is
    # the entries').
    with central.connect() as conn:
        with store.session() as s, s.begin():
            queued = enqueue_changed(s, identity)
        with store.session() as s:
            pending = s.execute(
                select(Outbox.id, Outbox.entry_id, Outbox.version, Outbox.payload_json)
                .where(Outbox.state == "pending", Outbox.entry_id >= PREFIX, Outbox.entry_id < _PREFIX_END)
                .order_by(Outbox.id)
            ).all()
        if not pending:
            return CallPush(queued, 0)
        newest: dict[str, Any] = {}
        for row in pending:
            if row.entry_id not in newest or newest[row.entry_id].version < row.version:
                newest[row.entry_id] = row
        now = utc_now()
        with conn.begin():
            key = _hash_key(conn) if privacy else None
            rows = [central_row(json.loads(r.payload_json), r.version, identity, key, now) for r in newest.values()]
            for i in range(0, len(rows), _CHUNK):
                _upsert(conn, rows[i : i + _CHUNK])
    stamp = now.strftime(_STAMP)
    sent = {r.id for r in newest.values()}
    with store.session() as s, s.begin():
        local = s.connection()
        local.exec_driver_sql(
            "UPDATE outbox SET state = 'sent', sent_utc = ?, attempts = attempts + 1, last_error = '' WHERE id = ?",
            [(stamp, i) for i in sent],
        )
        superseded = [(r.id,) for r in pending if r.id not in sent]
        if superseded:
            local.exec_driver_sql("UPDATE outbox SET state = 'withdrawn' WHERE id = ?", superseded)
    return CallPush(queued, len(newest))
