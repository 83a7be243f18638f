"""The local outbox: approved entry versions frozen for the central store.

:func:`enqueue` runs inside the approval's transaction, so an entry is never
approved without its version waiting to be pushed, and a crash loses neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from softclock.formatting import utc_now
from softclock.store.models import Call, Client, Matter, Outbox, TimeEntry

# Payload fields that a timekeeper's privacy setting keeps on the laptop.
PRIVATE_FIELDS = ("narrative", "remote_number")


def frozen(payload: dict[str, object]) -> tuple[str, str]:
    """The payload's canonical JSON (without the version, which is a column) and its SHA-256:
    the same entry content gives the same hash on every laptop."""
    body = {k: v for k, v in payload.items() if k != "version"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


# What a payload is made of (:func:`payload_rows` reads them; approval reads them with its own columns).
PAYLOAD_COLUMNS = (
    TimeEntry.id,
    TimeEntry.timekeeper,
    TimeEntry.work_date,
    TimeEntry.started_utc,
    TimeEntry.raw_seconds,
    TimeEntry.hold_seconds,
    TimeEntry.billed_units,
    TimeEntry.activity_code,
    TimeEntry.task_code,
    TimeEntry.narrative,
    TimeEntry.billable,
    Matter.code,
    Client.name,
    Call.remote_number,
    Call.direction,
)


def with_payload_joins(q: Any) -> Any:
    """``q`` (a select of time entries) joined to what :data:`PAYLOAD_COLUMNS` names beside the entry."""
    return (
        q.outerjoin(Matter, Matter.id == TimeEntry.matter_id)
        .outerjoin(Client, Client.id == Matter.client_id)
        .outerjoin(Call, Call.id == TimeEntry.call_id)
    )


def payload_rows(session: Session, ids: list[str]) -> Iterable[Any]:
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        yield from session.execute(with_payload_joins(select(*PAYLOAD_COLUMNS)).where(TimeEntry.id.in_(chunk)))


def enqueue(
    session: Session,
    approved: Iterable[tuple[str, int]],
    unit_minutes: dict[str, int],
    rows: Iterable[Sequence[Any]] | None = None,
) -> int:
    """Freeze each approved ``(entry id, version)`` into the outbox; returns how many were added.

    ``unit_minutes`` gives each entry's billing increment (from the policy
    the entry was approved under), so the central store can read units as time.
    ``rows``: the entries' :data:`PAYLOAD_COLUMNS` as they now stand, when the
    caller has them (approval does: reading 1,000 entries again cost ~40-100 ms
    on a store of 1,000,000); read here otherwise.
    """
    pairs = dict(approved)
    if not pairs:
        return 0
    out = []
    stamp = utc_now().strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime format
    if rows is None:
        rows = payload_rows(session, list(pairs))
    for (
        entry_id,
        timekeeper,
        work_date,
        started,
        raw,
        hold,
        billed,
        activity,
        task,
        narrative,
        billable,
        matter_code,
        client_name,
        number,
        direction,
    ) in rows:
        if entry_id not in pairs:
            continue
        payload = {
            "id": entry_id,
            "timekeeper": timekeeper,
            "matter_code": matter_code,
            "client_name": client_name or "",
            "work_date": work_date.isoformat(),
            "started_utc": started.isoformat(),
            "raw_seconds": round(raw, 3),
            "hold_seconds": round(hold, 3),
            "billed_units": billed or 0,
            "unit_minutes": unit_minutes.get(entry_id, 6),
            "activity_code": activity,
            "task_code": task,
            "narrative": narrative,
            "billable": bool(billable),
            "remote_number": number or "",
            "direction": direction or "",
        }
        text, digest = frozen(payload)
        out.append((entry_id, pairs[entry_id], text, digest, stamp))
    if out:  # plain executemany: approving 1,000 entries is a hot path (bench/store_scale.py)
        session.connection().exec_driver_sql(
            "INSERT INTO outbox (entry_id, version, payload_json, content_hash, state, attempts, last_error, "
            "enqueued_utc) VALUES (?, ?, ?, ?, 'pending', 0, '', ?)",
            out,
        )
    return len(out)


def withdraw(session: Session, entry_id: str) -> int:
    """A reopened entry's unsent approval is withdrawn (it is approved again as a new version).

    A version the central store refused as a conflict is withdrawn too: reopening is how a person
    resolves it (the next approval is a newer version, which replaces the central one), and the
    refused content stays in the central ``entry_conflicts`` table."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.entry_id == entry_id, Outbox.state.in_(("pending", "conflict")))
        .values(state="withdrawn")
    )
    return int(cast(CursorResult[Any], result).rowcount)
