"""Push: the outbox's approved entry versions to the central store, exactly once.

Each batch is one central transaction. An entry id not there yet is inserted;
an older version there is replaced by a newer one (never the reverse: a
trigger refuses it too); the same version with the same content is already
done (a retry after a crash or a lost connection); anything else is a
conflict, kept whole in ``entry_conflicts`` centrally and marked locally, so
nothing is silently lost. The local outbox is updated only after the central
commit, so a crash in between means a harmless retry.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session

from softclock.store.db import Store
from softclock.store.models import Outbox
from softclock.sync import state
from softclock.sync.central import CentralEntry, EntryConflict, SyncLog
from softclock.sync.outbox import PRIVATE_FIELDS
from softclock.formatting import utc_now

log = logging.getLogger("softclock.sync")

BATCH = 1000
_CHUNK = 1000  # ids per IN (...) lookup
_ENTRY_COLUMNS = (
    "matter_code", "client_name", "raw_seconds", "hold_seconds", "billed_units", "unit_minutes",
    "activity_code", "task_code", "narrative", "billable", "remote_number", "direction",
)  # fmt: skip


@dataclass(frozen=True)
class PushResult:
    sent: int = 0  # new or newer versions written
    already: int = 0  # the store had them (a retry)
    conflicts: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.already


def central_row(payload: dict, identity: str, content_hash: str, privacy: bool, now: datetime) -> dict:  # type: ignore[type-arg]
    row = {k: payload[k] for k in _ENTRY_COLUMNS}
    if privacy:
        for k in PRIVATE_FIELDS:
            row[k] = ""
    row.update(
        id=payload["id"], version=payload["version"], content_hash=content_hash, timekeeper_id=identity,
        work_date=date.fromisoformat(payload["work_date"]),
        started_utc=datetime.fromisoformat(payload["started_utc"]),
        status="approved", pushed_utc=now, invoiced_utc=None, change_seq=0,
    )  # fmt: skip
    return row


def pending(session: Session, limit: int = BATCH) -> Sequence:  # type: ignore[type-arg]
    return session.execute(
        select(Outbox.id, Outbox.entry_id, Outbox.version, Outbox.payload_json, Outbox.content_hash)
        .where(Outbox.state == "pending").order_by(Outbox.id).limit(limit)
    ).all()  # fmt: skip


def push_batch(store: Store, central: Engine, identity: str | None, privacy: bool = False,
               limit: int = BATCH) -> PushResult:  # fmt: skip
    """Push up to ``limit`` pending versions; raises what the central store raised (nothing is marked then)."""
    with store.session() as s:
        rows = pending(s, limit)
    if not rows:
        return PushResult()
    now = utc_now()
    # The newest pending version of each entry goes; older ones in the same batch are superseded.
    newest: dict[str, tuple] = {}  # type: ignore[type-arg]
    superseded: list[int] = []
    for row in rows:
        if row.entry_id in newest and newest[row.entry_id].version > row.version:
            superseded.append(row.id)
            continue
        if row.entry_id in newest:
            superseded.append(newest[row.entry_id].id)
        newest[row.entry_id] = row
    payloads = {eid: {**json.loads(r.payload_json), "version": r.version} for eid, r in newest.items()}

    t_central = time.perf_counter()
    inserts, updates, conflicts = [], [], []
    sent_ids, already_ids, conflict_reasons = [], [], {}
    with central.begin() as conn:
        t = CentralEntry.__table__
        ids = list(newest)
        existing: dict[str, tuple] = {}  # type: ignore[type-arg]
        for i in range(0, len(ids), _CHUNK):
            for rid, version, chash, st in conn.execute(
                select(t.c.id, t.c.version, t.c.content_hash, t.c.status).where(t.c.id.in_(ids[i : i + _CHUNK]))
            ):
                existing[rid] = (version, chash, st)
        for eid, r in newest.items():
            payload = payloads[eid]
            who = identity or payload["timekeeper"]
            have = existing.get(eid)
            if have is None:
                inserts.append(central_row(payload, who, r.content_hash, privacy, now))
                sent_ids.append(r.id)
            elif have[2] == "invoiced":
                conflict_reasons[r.id] = f"the central store has version {have[0]} invoiced; it cannot change"
            elif have[0] < r.version:
                row = central_row(payload, who, r.content_hash, privacy, now)
                row["b_id"], row["b_version"] = row.pop("id"), row["version"]
                updates.append(row)
                sent_ids.append(r.id)
            elif have[0] == r.version and have[1] == r.content_hash:
                already_ids.append(r.id)
            elif have[0] == r.version:
                conflict_reasons[r.id] = (
                    f"the central store has version {r.version} of this entry with other content "
                    "(edited on another computer)"
                )
            else:
                conflict_reasons[r.id] = f"the central store has a newer version ({have[0]}) of this entry"
        if inserts:
            _insert_many(conn, inserts)
        if updates:
            for row in updates:
                del row["change_seq"]
            # SET takes every column named in the rows; the b_ keys are the WHERE's.
            conn.execute(t.update().where(t.c.id == bindparam("b_id"), t.c.version < bindparam("b_version")), updates)
        for r in newest.values():
            if r.id in conflict_reasons:
                conflicts.append({
                    "entry_id": r.entry_id, "version": r.version,
                    "timekeeper_id": identity or payloads[r.entry_id]["timekeeper"],
                    "content_hash": r.content_hash, "payload_json": r.payload_json,
                    "reason": conflict_reasons[r.id], "at_utc": now,
                })  # fmt: skip
        if conflicts:
            conn.execute(EntryConflict.__table__.insert(), conflicts)
        conn.execute(SyncLog.__table__.insert(), [{
            "timekeeper_id": identity or next(iter(payloads.values()))["timekeeper"], "at_utc": now,
            "direction": "push", "rows": len(sent_ids),
            "detail": f"{len(already_ids)} already there, {len(conflicts)} conflicts",
        }])  # fmt: skip

    t_local = time.perf_counter()
    with store.session() as s, s.begin():
        o = Outbox.__table__
        local = s.connection()
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime format
        done = [(stamp, i) for i in sent_ids + already_ids]
        if done:  # plain executemany: the hot path of a big push (bench/sync.py)
            local.exec_driver_sql(
                "UPDATE outbox SET state = 'sent', sent_utc = ?, attempts = attempts + 1, last_error = '' WHERE id = ?",
                done,
            )
        if superseded:
            s.execute(o.update().where(o.c.id == bindparam("b")).values(state="withdrawn"),
                      [{"b": i} for i in superseded])  # fmt: skip
        if conflict_reasons:
            s.execute(o.update().where(o.c.id == bindparam("b"))
                      .values(state="conflict", attempts=o.c.attempts + 1, last_error=bindparam("why")),
                      [{"b": i, "why": why} for i, why in conflict_reasons.items()])  # fmt: skip
        by_id = {r.id: r for r in newest.values()}
        synced = [(by_id[i].entry_id, by_id[i].version) for i in sent_ids + already_ids]
        if synced:
            local.exec_driver_sql(
                "UPDATE time_entries SET status = 'synced' WHERE id = ? AND version = ? AND status = 'approved'", synced
            )
        state.put(s, state.LAST_OK, now.isoformat())
        state.drop(s, state.DOWN_SINCE)
        state.drop(s, state.LAST_ERROR)
    log.debug("pushed a batch of %d: central %.0f ms, local %.0f ms", len(rows),
              (t_local - t_central) * 1000, (time.perf_counter() - t_local) * 1000)  # fmt: skip
    return PushResult(sent=len(sent_ids), already=len(already_ids), conflicts=len(conflict_reasons))


_ENTRY_TABLE_COLUMNS = [c.name for c in CentralEntry.__table__.columns]


def _insert_many(conn: Connection, rows: list[dict]) -> None:  # type: ignore[type-arg]
    """One executemany of plain tuples (SQLAlchemy's per-row parameter processing cost as much as the insert)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = _ENTRY_TABLE_COLUMNS
    sql = f"INSERT INTO entries ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
    if conn.dialect.name == "sqlite":
        rows = [{**r, "work_date": r["work_date"].isoformat(), "started_utc": str(r["started_utc"]),
                 "pushed_utc": str(r["pushed_utc"])} for r in rows]  # fmt: skip
    conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows])


def note_failure(store: Store, message: str) -> None:
    """Record why the central store could not be reached: attempts, the error, since when."""
    now = utc_now()
    with store.session() as s, s.begin():
        ids = [r.id for r in pending(s)]
        if ids:
            s.execute(update(Outbox).where(Outbox.id.in_(ids))
                      .values(attempts=Outbox.attempts + 1, last_error=message))  # fmt: skip
        if state.get(s, state.DOWN_SINCE) is None:
            state.put(s, state.DOWN_SINCE, now.isoformat())
        state.put(s, state.LAST_ERROR, message)
