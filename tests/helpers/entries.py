"""Matters, calls and draft entries written straight into a real store, for
review, merge, split and UI tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from softclock.store.db import Store
from softclock.store.models import Call, Matter, TimeEntry
from softclock.store.queries import add_matter

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC).replace(tzinfo=None)
DAY = date(2026, 11, 26)


def make_matter(store: Store, code: str = "M-1", closed: bool = False, client: str = "Acme") -> int:
    with store.session() as s, s.begin():
        matter = add_matter(s, code, "Lease", client)
        if closed:
            matter.status = "closed"
        return matter.id


def make_call(store: Store, sip_call_id: str = "c", **fields: object) -> int:
    """A call record; ``fields`` (remote_number, disposition, answered_utc ...) set on top of the defaults."""
    with store.session() as s, s.begin():
        values: dict[str, object] = {
            "direction": "outgoing",
            "account": "a",
            "remote_uri": "sip:x@y",
            "invited_utc": NOW,
            **fields,
        }
        call = Call(sip_call_id=sip_call_id, **values)
        s.add(call)
        s.flush()
        return call.id


def make_entry(
    store: Store,
    raw: float = 400.0,
    matter: int | None = None,
    *,
    started: datetime = NOW,
    day: date = DAY,
    call: int | None = None,
    narrative: str = "",
    hold: float = 0.0,
    billable: bool = True,
) -> str:
    with store.session() as s, s.begin():
        entry = TimeEntry(
            timekeeper="alice",
            matter_id=matter,
            work_date=day,
            started_utc=started,
            raw_seconds=raw,
            hold_seconds=hold,
            call_id=call,
            narrative=narrative,
            billable=billable,
            created_utc=NOW,
            updated_utc=NOW,
        )
        s.add(entry)
        s.flush()
        return entry.id


def matter_id(store: Store, code: str) -> int:
    from sqlalchemy import select

    with store.session() as s:
        return s.scalars(select(Matter.id).where(Matter.code == code)).one()
