"""Push: the outbox's approved entry versions to the central store, exactly once.

Each batch is one central transaction. An entry id not there yet is inserted;
an older version there is replaced by a newer one (never the reverse: a
trigger refuses it too); the same version with the same content is already
done (a retry after a crash or a lost connection); anything else is a
conflict, kept whole in ``entry_conflicts`` centrally and marked locally, so
nothing is silently lost. An id that already belongs to another timekeeper's
entry (a store copied to a second laptop) is such a conflict too, not a
failure of the batch: the rest goes through. The central store holds each
entry with the hash of its content as it holds it (``central.content_hash``),
which its triggers check. The batch also carries the head of the laptop's
audit chain (``softclock.sync.anchor``). The local outbox is updated only
after the central commit, so a crash in between means a harmless retry.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Engine, bindparam, func, select, update
from sqlalchemy.orm import Session

from softclock.formatting import utc_now
from softclock.states import EntryStatus
from softclock.store.db import Store
from softclock.store.models import Outbox, table_of
from softclock.sync import anchor, calls, state
from softclock.sync.central import CentralEntry, EntryConflict, SyncLog, content_hash
from softclock.sync.outbox import PRIVATE_FIELDS

log = logging.getLogger("softclock.sync")

BATCH = 1000
_CHUNK = 1000  # ids per IN (...) lookup
_ENTRY_COLUMNS = (
    "matter_code",
    "client_name",
    "raw_seconds",
    "hold_seconds",
    "billed_units",
    "unit_minutes",
    "activity_code",
    "task_code",
    "narrative",
    "billable",
    "remote_number",
    "direction",
)


@dataclass(frozen=True)
class PushResult:
    sent: int = 0  # new or newer versions written
    already: int = 0  # the store had them (a retry)
    conflicts: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.already


def central_row(payload: dict[str, Any], identity: str, privacy: bool, now: datetime) -> dict[str, Any]:
    """The central row of an approved version, with the hash of its content as the central store holds it."""
    row = {k: payload[k] for k in _ENTRY_COLUMNS}
    if privacy:
        for k in PRIVATE_FIELDS:
            row[k] = ""
    row.update(
        id=payload["id"],
        version=payload["version"],
        timekeeper_id=identity,
        work_date=date.fromisoformat(payload["work_date"]),
        started_utc=datetime.fromisoformat(payload["started_utc"]),
        status=EntryStatus.APPROVED,
        pushed_utc=now,
        invoiced_utc=None,
        change_seq=0,
    )
    row["content_hash"] = content_hash(row)
    return row


def pending(session: Session, limit: int = BATCH) -> Sequence[Any]:
    return session.execute(
        select(Outbox.id, Outbox.entry_id, Outbox.version, Outbox.payload_json, Outbox.content_hash)
        .where(Outbox.state == "pending", ~Outbox.entry_id.like(calls.PREFIX + "%"))  # calls: softclock.sync.calls
        .order_by(Outbox.id)
        .limit(limit)
    ).all()


def push_batch(
    store: Store,
    central: Engine,
    identity: str | None,
    privacy: bool = False,
    limit: int = BATCH,
    device: anchor.Device | None = None,
) -> PushResult:
    """Push up to ``limit`` pending versions; raises what the central store raised (nothing is marked then).

    With ``device``, the batch also anchors the audit chain's head when it moved since the last anchor."""
    with store.session() as s:
        rows = pending(s, limit)
        head = anchor.local_head(s) if device is not None else None
        if head is not None and anchor.anchored(s) == head.key:
            head = None
    if not rows:
        # Entries done: the calls follow (queued when they changed, then pushed by call id and version).
        calls.push_calls(store, central, identity, privacy)
        return PushResult()
    now = utc_now()
    # The newest pending version of each entry goes; older ones in the same batch are superseded.
    newest: dict[str, Any] = {}
    superseded: list[int] = []
    for row in rows:
        if row.entry_id in newest and newest[row.entry_id].version > row.version:
            superseded.append(row.id)
            continue
        if row.entry_id in newest:
            superseded.append(newest[row.entry_id].id)
        newest[row.entry_id] = row
    payloads = {eid: {**json.loads(r.payload_json), "version": r.version} for eid, r in newest.items()}
    owners = {eid: identity or payloads[eid]["timekeeper"] for eid in newest}

    t_central = time.perf_counter()
    inserts, updates, conflicts = [], [], []
    sent_ids, already_ids, conflict_reasons = [], [], {}
    with central.begin() as conn:
        t = table_of(CentralEntry)
        ids = list(newest)
        existing = {rid: (version, chash, st, owner) for rid, version, chash, st, owner in _existing(conn, ids)}
        rows_by_id = {}
        for eid, r in newest.items():
            payload = payloads[eid]
            who = owners[eid]
            row = rows_by_id[eid] = central_row(payload, who, privacy, now)
            have = existing.get(eid)
            if have is None:
                inserts.append(row)
            elif have[3] != who:
                conflict_reasons[r.id] = _TAKEN
            elif have[2] == EntryStatus.INVOICED:
                conflict_reasons[r.id] = f"the central store has version {have[0]} invoiced; it cannot change"
            elif have[0] < r.version:
                update_row = dict(row)
                update_row["b_id"], update_row["b_version"] = update_row.pop("id"), update_row["version"]
                update_row["b_owner"] = who
                updates.append(update_row)
                sent_ids.append(r.id)
            elif have[0] == r.version and have[1] == row["content_hash"]:
                already_ids.append(r.id)
            elif have[0] == r.version:
                conflict_reasons[r.id] = (
                    f"the central store has version {r.version} of this entry with other content "
                    "(edited on another computer)"
                )
            else:
                conflict_reasons[r.id] = f"the central store has a newer version ({have[0]}) of this entry"
        if inserts:
            # An id that another timekeeper's entry holds is not visible here (row-level security):
            # the insert skips it, and it becomes a conflict instead of failing the batch.
            taken = _insert_many(conn, inserts)
            by_entry = {r.entry_id: r.id for r in newest.values()}
            for row in inserts:
                if row["id"] in taken:
                    conflict_reasons[by_entry[row["id"]]] = taken[row["id"]]
                else:
                    sent_ids.append(by_entry[row["id"]])
        if updates:
            for row in updates:
                del row["change_seq"]
            # SET takes every column named in the rows; the b_ keys are the WHERE's.
            conn.execute(
                t.update().where(
                    t.c.id == bindparam("b_id"),
                    t.c.version < bindparam("b_version"),
                    t.c.timekeeper_id == bindparam("b_owner"),
                ),
                updates,
            )
        for r in newest.values():
            if r.id in conflict_reasons:
                conflicts.append(
                    {
                        "entry_id": r.entry_id,
                        "version": r.version,
                        "timekeeper_id": owners[r.entry_id],
                        "content_hash": r.content_hash,
                        "payload_json": r.payload_json,
                        "reason": conflict_reasons[r.id],
                        "at_utc": now,
                    }
                )
        if conflicts:
            conn.execute(table_of(EntryConflict).insert(), conflicts)
        conn.execute(
            table_of(SyncLog).insert(),
            [
                {
                    "timekeeper_id": identity or next(iter(payloads.values()))["timekeeper"],
                    "at_utc": now,
                    "direction": "push",
                    "rows": len(sent_ids),
                    "detail": f"{len(already_ids)} already there, {len(conflicts)} conflicts",
                }
            ],
        )
        if head is not None and device is not None:
            anchor.write(conn, identity or next(iter(owners.values())), device, head, now)

    t_local = time.perf_counter()
    with store.session() as s, s.begin():
        o = table_of(Outbox)
        local = s.connection()
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime format
        done = [(stamp, i) for i in sent_ids + already_ids]
        if done:  # plain executemany: the hot path of a big push (bench/sync.py)
            local.exec_driver_sql(
                "UPDATE outbox SET state = 'sent', sent_utc = ?, attempts = attempts + 1, last_error = '' WHERE id = ?",
                done,
            )
        if superseded:
            s.execute(
                o.update().where(o.c.id == bindparam("b")).values(state="withdrawn"), [{"b": i} for i in superseded]
            )
        if conflict_reasons:
            s.execute(
                o.update()
                .where(o.c.id == bindparam("b"))
                .values(state="conflict", attempts=o.c.attempts + 1, last_error=bindparam("why")),
                [{"b": i, "why": why} for i, why in conflict_reasons.items()],
            )
        by_id = {r.id: r for r in newest.values()}
        synced = [(by_id[i].entry_id, by_id[i].version) for i in sent_ids + already_ids]
        if synced:
            local.exec_driver_sql(
                "UPDATE time_entries SET status = 'synced' WHERE id = ? AND version = ? AND status = 'approved'", synced
            )
        if head is not None:
            anchor.remember(s, head)
        state.put(s, state.LAST_OK, now.isoformat())
        state.drop(s, state.DOWN_SINCE)
        state.drop(s, state.LAST_ERROR)
    log.debug(
        "pushed a batch of %d: central %.0f ms, local %.0f ms",
        len(rows),
        (t_local - t_central) * 1000,
        (time.perf_counter() - t_local) * 1000,
    )
    return PushResult(sent=len(sent_ids), already=len(already_ids), conflicts=len(conflict_reasons))


_TAKEN = (
    "another timekeeper's entry in the central store has this entry's id (was this store copied from another "
    "computer?); the version is kept in the central conflicts for billing to sort out"
)


def push_anchor(store: Store, central: Engine, identity: str, device: anchor.Device) -> bool:
    """Anchor the chain's head on its own (nothing waited to be pushed) if it moved since the last anchor."""
    with store.session() as s:
        head = anchor.local_head(s)
        if head is None or anchor.anchored(s) == head.key:
            return False
    with central.begin() as conn:
        anchor.write(conn, identity, device, head, utc_now())
    with store.session() as s, s.begin():
        anchor.remember(s, head)
    return True


_ENTRY_TABLE_COLUMNS = [c.name for c in table_of(CentralEntry).columns]


def _insert_many(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, str]:
    """The rows in one statement on PostgreSQL, elsewhere one executemany of plain tuples (SQLAlchemy's per-row
    parameter processing cost as much as the insert), skipping ids the store already holds; returns the skipped
    ones with why."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = _ENTRY_TABLE_COLUMNS
    if conn.dialect.name == "postgresql":
        # One statement for the batch, its rows as one JSON text (dumped and parsed in C). A statement a row
        # (executemany, even pipelined) cost several times the rows' own work, and so did the driver's dumping of
        # a Python list per column (per element, in Python).
        sql = (
            f"INSERT INTO entries ({', '.join(cols)}) SELECT {', '.join(cols)} "
            "FROM json_populate_recordset(NULL::entries, %s::json) ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        inserted = {rid for (rid,) in conn.exec_driver_sql(sql, (json.dumps(rows, default=_iso),))}
        if len(inserted) == len(rows):
            return {}
        return _skipped(conn, [r for r in rows if r["id"] not in inserted])
    sql = (
        f"INSERT INTO entries ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))}) ON CONFLICT (id) DO NOTHING"
    )
    if conn.dialect.name == "sqlite":
        rows = [
            {
                **r,
                "work_date": r["work_date"].isoformat(),
                "started_utc": str(r["started_utc"]),
                "pushed_utc": str(r["pushed_utc"]),
            }
            for r in rows
        ]
    done = conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows]).rowcount
    if done == len(rows):
        return {}
    return _skipped(conn, rows)


def _existing(conn: Connection, ids: list[str]) -> list[Any]:
    """(id, version, content_hash, status, timekeeper_id) of the entries among ``ids`` the store shows us."""
    t = table_of(CentralEntry)
    cols = (t.c.id, t.c.version, t.c.content_hash, t.c.status, t.c.timekeeper_id)
    if conn.dialect.name == "postgresql":  # the ids as one JSON parameter: one short statement, parsed once
        wanted = select(func.json_array_elements_text(bindparam("ids", type_=JSON))).scalar_subquery()
        return list(conn.execute(select(*cols).where(t.c.id.in_(wanted)), {"ids": ids}))
    out: list[Any] = []
    for i in range(0, len(ids), _CHUNK):
        out.extend(conn.execute(select(*cols).where(t.c.id.in_(ids[i : i + _CHUNK]))))
    return out


def _iso(value: object) -> str:
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _skipped(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Of ``rows`` (some of which the insert skipped), the ones that are not ours as we sent them, and why."""
    # Someone else's id (invisible under row-level security, or another timekeeper's row on SQLite), or a
    # version that another computer of ours inserted meanwhile: which rows are ours, as we sent them?
    t = table_of(CentralEntry)
    ids = [r["id"] for r in rows]
    ours: dict[str, Any] = {}
    for i in range(0, len(ids), _CHUNK):
        for rid, owner, version, chash in conn.execute(
            select(t.c.id, t.c.timekeeper_id, t.c.version, t.c.content_hash).where(t.c.id.in_(ids[i : i + _CHUNK]))
        ):
            ours[rid] = (owner, version, chash)
    skipped = {}
    for r in rows:
        have = ours.get(r["id"])
        if have == (r["timekeeper_id"], r["version"], r["content_hash"]):
            continue
        if have is None or have[0] != r["timekeeper_id"]:
            skipped[r["id"]] = _TAKEN
        else:
            skipped[r["id"]] = (
                f"the central store has version {have[1]} of this entry with other content (edited on another computer)"
            )
    return skipped


def note_failure(store: Store, message: str) -> None:
    """Record why the central store could not be reached: attempts, the error, since when."""
    now = utc_now()
    with store.session() as s, s.begin():
        ids = [r.id for r in pending(s)]
        if ids:
            s.execute(update(Outbox).where(Outbox.id.in_(ids)).values(attempts=Outbox.attempts + 1, last_error=message))
        if state.get(s, state.DOWN_SINCE) is None:
            state.put(s, state.DOWN_SINCE, now.isoformat())
        state.put(s, state.LAST_ERROR, message)
