"""Approved entries written straight into a central store (as a push would leave them), for export,
report and reconciliation tests. Content hashes are computed as the store checks them."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Connection

from softclock.sync.central import CentralEntry, content_hash


def entry_row(
    entry_id: str,
    timekeeper: str,
    matter_code: str | None,
    day: date,
    units: int,
    *,
    client_name: str = "",
    unit_minutes: int = 6,
    narrative: str = "call",
    billable: bool = True,
    activity: str = "A106",
    task: str = "",
    raw_seconds: float | None = None,
    remote_number: str = "",
    direction: str = "outgoing",
    started: datetime | None = None,
    status: str = "approved",
) -> dict[str, object]:
    row: dict[str, object] = {
        "id": entry_id,
        "timekeeper_id": timekeeper,
        "matter_code": matter_code,
        "client_name": client_name,
        "work_date": day,
        "started_utc": started or datetime.combine(day, time(15, 0)),
        "raw_seconds": float(raw_seconds if raw_seconds is not None else units * unit_minutes * 60 - 30),
        "hold_seconds": 0.0,
        "billed_units": units,
        "unit_minutes": unit_minutes,
        "activity_code": activity,
        "task_code": task,
        "narrative": narrative,
        "billable": billable,
        "remote_number": remote_number,
        "direction": direction,
    }
    row["content_hash"] = content_hash(row)
    row.update(version=1, status=status, pushed_utc=datetime.combine(day, time(16, 0)), change_seq=0)
    row["invoiced_utc"] = datetime.combine(day, time(17, 0)) if status == "invoiced" else None
    return row


def insert_entries(conn: Connection, rows: list[dict[str, object]]) -> None:
    conn.execute(CentralEntry.__table__.insert(), rows)
