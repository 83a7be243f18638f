"""The local outbox: approved entry versions frozen for the central store.

:func:`enqueue` runs inside the approval's transaction, so an entry is never
approved without its version waiting to be pushed, and a crash loses neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from softclock.store.models import Call, Client, Matter, Outbox, TimeEntry

# Payload fields that a timekeeper's privacy setting keeps on the laptop.
PRIVATE_FIELDS = ("narrative", "remote_number")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def content_hash(payload: dict[str, object]) -> str:
    """The same entry content gives the same hash on every laptop (version excluded)."""
    body = {k: v for k, v in payload.items() if k not in ("version",)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def enqueue(session: Session, approved: Iterable[tuple[str, int]], unit_minutes: dict[str, int]) -> int:
    """Freeze each approved ``(entry id, version)`` into the outbox; returns how many were added.

    ``unit_minutes`` gives each entry's billing increment (from the policy
    the entry was approved under), so the central store can read units as time.
    """
    pairs = dict(approved)
    if not pairs:
        return 0
    rows = []
    ids = list(pairs)
    now = _now()
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        q = (
            select(TimeEntry, Matter.code, Client.name, Call.remote_number, Call.direction)
            .outerjoin(Matter, Matter.id == TimeEntry.matter_id)
            .outerjoin(Client, Client.id == Matter.client_id)
            .outerjoin(Call, Call.id == TimeEntry.call_id)
            .where(TimeEntry.id.in_(chunk))
        )
        for entry, matter_code, client_name, number, direction in session.execute(q):
            payload = {
                "id": entry.id,
                "version": pairs[entry.id],
                "timekeeper": entry.timekeeper,
                "matter_code": matter_code,
                "client_name": client_name or "",
                "work_date": entry.work_date.isoformat(),
                "started_utc": entry.started_utc.isoformat(),
                "raw_seconds": round(entry.raw_seconds, 3),
                "hold_seconds": round(entry.hold_seconds, 3),
                "billed_units": entry.billed_units or 0,
                "unit_minutes": unit_minutes.get(entry.id, 6),
                "activity_code": entry.activity_code,
                "task_code": entry.task_code,
                "narrative": entry.narrative,
                "billable": bool(entry.billable),
                "remote_number": number or "",
                "direction": direction or "",
            }
            rows.append({
                "entry_id": entry.id, "version": pairs[entry.id],
                "payload_json": json.dumps(payload, sort_keys=True), "content_hash": content_hash(payload),
                "state": "pending", "attempts": 0, "last_error": "", "enqueued_utc": now,
            })  # fmt: skip
    if rows:
        session.execute(Outbox.__table__.insert(), rows)
    return len(rows)


def withdraw(session: Session, entry_id: str) -> int:
    """A reopened entry's unsent approval is withdrawn (it is approved again as a new version)."""
    return session.execute(
        update(Outbox).where(Outbox.entry_id == entry_id, Outbox.state == "pending").values(state="withdrawn")
    ).rowcount
