"""Reads and small writes on the local store, shared by the CLI and the UI."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session, joinedload

from softclock.errors import InputError
from softclock.states import EntryStatus
from softclock.formatting import MatterRow, as_local, fmt_duration  # noqa: F401 - re-exported
from softclock.store.models import Call, Client, ContactNumber, Matter, TimeEntry




def _matter_fields(code: str, name: str, client_name: str) -> tuple[str, str, str]:
    """The fields of a new matter, stripped, or :class:`InputError` saying which is empty."""
    code, name, client_name = code.strip(), name.strip(), client_name.strip()
    if not code:
        raise InputError("The matter code is empty.")
    if not name:
        raise InputError(f"Matter {code}: the name is empty.")
    if not client_name:
        raise InputError(f"Matter {code}: the client is empty.")
    return code, name, client_name


def add_matter(session: Session, code: str, name: str, client_name: str) -> Matter:
    code, name, client_name = _matter_fields(code, name, client_name)
    if session.scalars(select(Matter).where(Matter.code == code)).first():
        raise InputError(f"Matter {code} exists already.")
    client = session.scalars(select(Client).where(Client.name == client_name)).first()
    if client is None:
        client = Client(name=client_name)
        session.add(client)
        session.flush()
    matter = Matter(code=code, name=name, client_id=client.id, status="open")
    session.add(matter)
    session.flush()
    return matter


def _parse_matters(text: str) -> tuple[list[tuple[int, str, str, str]], str]:
    """``(line, code, name, client)`` of each row up to the first bad line, and
    that line's problem (``""`` when every line is good)."""
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, str, str, str]] = []
    seen: set[str] = set()
    lineno = 0
    try:
        for lineno, row in enumerate(reader, start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if lineno == 1 and [c.strip().lower() for c in row[:3]] == ["code", "name", "client"]:
                continue
            if len(row) != 3:
                return rows, f"line {lineno}: expected 3 fields (code,name,client), found {len(row)}"
            try:
                code, name, client = _matter_fields(*row)
            except InputError as exc:
                return rows, f"line {lineno}: {exc}"
            if code in seen:
                return rows, f"line {lineno}: matter {code} appears twice in the file"
            seen.add(code)
            rows.append((lineno, code, name, client))
    except csv.Error as exc:
        return rows, f"line {lineno + 1}: {exc}"
    return rows, ""


def _begin_write(session: Session) -> None:
    """Take SQLite's write lock now, so what is read next cannot go stale before
    the writes (a deferred transaction would then fail with "database is locked")."""
    conn = session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_existing(session: Session, rows: list[tuple[int, str, str, str]]) -> None:
    """:class:`InputError` naming the first row whose matter code is in the store."""
    if not rows:
        return
    existing = set(session.scalars(select(Matter.code)))
    for lineno, code, _name, _client in rows:
        if code in existing:
            raise InputError(f"line {lineno}: Matter {code} exists already.")


class MatterImport(int):
    """What an import did: its value is the number of matters added (as it always was);
    ``updated`` and ``unchanged`` count the existing matters an ``update`` import met."""

    added: int
    updated: int
    unchanged: int

    def __new__(cls, added: int = 0, updated: int = 0, unchanged: int = 0) -> MatterImport:  # noqa: PYI034
        result = super().__new__(cls, added)
        result.added, result.updated, result.unchanged = added, updated, unchanged
        return result


def import_matters(session: Session, text: str, update: bool = False) -> MatterImport:
    """Import ``code,name,client`` rows (a header row is optional).

    All or nothing: the first bad line raises :class:`InputError` naming it.
    A matter whose code exists already is such a line, unless ``update``: then
    its name and client are updated, or it is left alone when they are the same
    (its status, open or closed, is kept).
    The whole text is parsed and checked before the store is touched; the
    write is then short, whatever the size (bench/matters_import.py): the
    existing matters and clients are read with one query each, and the new
    clients, the new matters and the changed ones go in with one executemany each.
    """
    from sqlalchemy import bindparam
    from sqlalchemy import update as update_stmt

    rows, problem = _parse_matters(text)
    if problem:  # a line before it may name a matter that exists: the first bad line is named
        if not update:
            _refuse_existing(session, rows)
        raise InputError(problem)
    if not rows:
        return MatterImport()
    _begin_write(session)
    existing: dict[str, tuple[int, str, int]] = {}
    if update:
        existing = {code: (mid, name, cid) for code, mid, name, cid in session.execute(
            select(Matter.code, Matter.id, Matter.name, Matter.client_id))}  # fmt: skip
    else:
        _refuse_existing(session, rows)
    clients: dict[str, int] = dict(session.execute(select(Client.name, Client.id)).all())
    new_clients = [{"name": name} for name in dict.fromkeys(row[3] for row in rows) if name not in clients]
    if new_clients:
        session.execute(insert(cast(Table, Client.__table__)), new_clients)
        clients = dict(session.execute(select(Client.name, Client.id)).all())
    added: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    for _, code, name, client in rows:
        old = existing.get(code)
        if old is None:
            added.append({"code": code, "name": name, "client_id": clients[client], "status": "open"})
        elif (old[1], old[2]) != (name, clients[client]):
            changed.append({"b_id": old[0], "b_name": name, "b_client_id": clients[client]})
    if added:  # Core: plain executemany, no ORM objects
        session.execute(insert(cast(Table, Matter.__table__)), added)
    if changed:
        matters = cast(Table, Matter.__table__)
        stmt = update_stmt(matters).where(matters.c.id == bindparam("b_id"))
        session.execute(stmt.values(name=bindparam("b_name"), client_id=bindparam("b_client_id")), changed)
    return MatterImport(len(added), len(changed), len(rows) - len(added) - len(changed))


def add_number(session: Session, number: str, client_name: str, matter_code: str = "", region: str = "US") -> str:
    """Map a phone number to a client (and optionally one matter); returns it in E.164."""
    from softclock.matching import to_e164

    e164 = to_e164(number, region)
    if e164 is None:
        raise InputError(f"{number!r} is not a phone number")
    client = session.scalars(select(Client).where(Client.name == client_name.strip())).first()
    if client is None:
        raise InputError(f"no client {client_name!r}")
    matter_id = None
    if matter_code:
        matter = session.scalars(select(Matter).where(Matter.code == matter_code)).first()
        if matter is None:
            raise InputError(f"no matter {matter_code!r}")
        if matter.client_id != client.id:
            raise InputError(f"matter {matter_code} belongs to another client")
        matter_id = matter.id
    session.add(ContactNumber(number=e164, client_id=client.id, matter_id=matter_id))
    session.flush()
    return e164


def search_matters(session: Session, text: str = "", limit: int = 50) -> list[MatterRow]:
    """Open matters whose code, name or client contains every word of ``text``."""
    stmt = select(Matter.id, Matter.code, Matter.name, Client.name).join(Client).where(Matter.status == "open")
    for word in text.split():
        pattern = f"%{word}%"
        # SQLite's LIKE ignores ASCII case already; ilike's lower() on both sides
        # doubled the cost of each keystroke on 100,000 matters (bench/store_scale.py).
        stmt = stmt.where(or_(Matter.code.like(pattern), Matter.name.like(pattern), Client.name.like(pattern)))
    stmt = stmt.order_by(Client.name, Matter.code).limit(limit)
    return [MatterRow(*row) for row in session.execute(stmt)]


def matter_row(session: Session, matter_id: int) -> MatterRow | None:
    stmt = select(Matter.id, Matter.code, Matter.name, Client.name).join(Client).where(Matter.id == matter_id)
    row = session.execute(stmt).first()
    return MatterRow(*row) if row else None


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC (naive) interval covering the local calendar day ``day``."""
    start = datetime.combine(day, time.min).astimezone().astimezone(UTC).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def calls_between(session: Session, start: datetime | None = None, end: datetime | None = None) -> list[Call]:
    stmt = select(Call).order_by(Call.invited_utc)
    if start is not None:
        stmt = stmt.where(Call.invited_utc >= start)
    if end is not None:
        stmt = stmt.where(Call.invited_utc < end)
    return list(session.scalars(stmt))


def review_page(session: Session, status: str = EntryStatus.DRAFT, limit: int = 200, offset: int = 0) -> list[TimeEntry]:
    """Entries with ``status``, newest first, one page (index on status, started_utc)."""
    stmt = (
        select(TimeEntry)
        .options(joinedload(TimeEntry.matter).joinedload(Matter.client))
        .where(TimeEntry.status == status)
        .order_by(TimeEntry.started_utc.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt).unique())


def call_by_sip_id(session: Session, sip_call_id: str) -> Call | None:
    return session.scalars(select(Call).where(Call.sip_call_id == sip_call_id)).first()


def entries(session: Session, status: str | None = None, day: date | None = None) -> list[TimeEntry]:
    stmt = (
        select(TimeEntry)
        .options(joinedload(TimeEntry.matter).joinedload(Matter.client), joinedload(TimeEntry.call))
        .order_by(TimeEntry.started_utc)
    )
    if status:
        stmt = stmt.where(TimeEntry.status == status)
    if day is not None:
        stmt = stmt.where(TimeEntry.work_date == day)
    return list(session.scalars(stmt).unique())


def today_calls(session: Session, today: date | None = None) -> list[tuple[Call, list[TimeEntry]]]:
    """Today's calls (local day), each with its entries, newest first."""
    day = today or datetime.now().date()
    start, end = local_day_bounds(day)
    calls = calls_between(session, start, end)
    if not calls:
        return []
    ids = [c.id for c in calls]
    stmt = (
        select(TimeEntry)
        .options(joinedload(TimeEntry.matter).joinedload(Matter.client))
        .where(TimeEntry.call_id.in_(ids))
    )
    by_call: dict[int, list[TimeEntry]] = {}
    for entry in session.scalars(stmt).unique():
        by_call.setdefault(entry.call_id or 0, []).append(entry)
    return [(c, by_call.get(c.id, [])) for c in reversed(calls)]


def utc_naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
