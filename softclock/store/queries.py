"""Reads and small writes on the local store, shared by the CLI and the UI."""

from __future__ import annotations

import csv
import io
from contextlib import nullcontext
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, joinedload

from softclock.errors import InputError
from softclock.formatting import MatterRow, as_local, fmt_duration  # noqa: F401 - re-exported
from softclock.states import EntryStatus
from softclock.store import search_index
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

    def __new__(cls, added: int = 0, updated: int = 0, unchanged: int = 0) -> MatterImport:
        result = super().__new__(cls, added)
        result.added, result.updated, result.unchanged = added, updated, unchanged
        return result


_BULK_MATTERS = 1000  # matters written from which an import sets the search index's triggers aside


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
        existing = {
            code: (mid, name, cid)
            for code, mid, name, cid in session.execute(select(Matter.code, Matter.id, Matter.name, Matter.client_id))
        }
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
    # Many matters: the search index's per-row triggers stand aside (~20 us a row, most of the write lock of
    # 100,000 lines); the matters written are marked for the index in one statement each (search_index.bulk).
    many = len(added) + len(changed) >= _BULK_MATTERS
    with search_index.bulk(session.connection()) if many else nullcontext(search_index.BulkMarks()) as marks:
        if added:  # Core: plain executemany, no ORM objects
            session.execute(insert(cast(Table, Matter.__table__)), added)
        if changed:
            matters = cast(Table, Matter.__table__)
            stmt = update_stmt(matters).where(matters.c.id == bindparam("b_id"))
            session.execute(stmt.values(name=bindparam("b_name"), client_id=bindparam("b_client_id")), changed)
            marks.updated.extend(int(c["b_id"]) for c in changed)  # type: ignore[call-overload]
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
    """Open matters whose code, name or client contains every word of ``text``
    (ignoring case), ordered by client and code, at most ``limit``.

    Words of three characters or more are looked up in the trigram index
    (``matter_search``, FTS5: a quoted trigram phrase matches exactly the rows
    that contain it as a substring; see :mod:`softclock.store.search_index`);
    shorter words, the matters written since they were last indexed, and every
    word where SQLite has no such index, are matched with LIKE. Outside a
    transaction the search first indexes up to ``_CATCH_UP`` such matters.

    Two plans, both exact, chosen from how many matters each indexed word
    matches (one cheap count each): few matches are fetched from the index and
    sorted; many are found by walking the open matters in the order shown
    (clients by name, then their matters' codes, from indexes only) and
    stopping at ``limit``. The walk gives up after ``_WALK`` matters (a rare
    short word) and the matches are sorted instead. 100,000 matters:
    bench/store_scale.py.
    """
    words = text.split()
    indexed = [w for w in words if len(w) >= 3]
    outside = not session.in_transaction()
    stale = 0
    if indexed and not _has_search_index(session):
        indexed = []
    if indexed:
        stale = int(session.execute(sql_text("SELECT count(*) FROM matter_search_dirty")).scalar() or 0)
        if stale and outside:
            stale = _catch_up(session, stale)
    params: dict[str, object] = {"limit": limit, "walk": _WALK}
    conds = []
    if indexed:
        params["match"] = " ".join(_phrase(w) for w in indexed)
        if stale:
            # a stale matter's index row may be missing or wrong: such matters are read with LIKE
            likes = "".join(_like(f"i{n}", w, params) for n, w in enumerate(indexed))
            conds.append(
                " AND {id} IN (SELECT rowid FROM matter_search WHERE matter_search MATCH :match"
                " UNION ALL SELECT id FROM matter_search_dirty)"
                f" AND ({{id}} NOT IN (SELECT id FROM matter_search_dirty) OR (1{likes}))"
            )
        else:
            conds.append(" AND {id} IN (SELECT rowid FROM matter_search WHERE matter_search MATCH :match)")
    for n, word in enumerate(w for w in words if w not in indexed):
        conds.append(_like(f"w{n}", word, params))
    where = "".join(conds)
    walk_first = True
    if indexed:
        total = session.execute(sql_text("SELECT count(*) FROM matters")).scalar() or 1
        expected = float(total)
        for word in indexed:
            found: int = session.execute(
                sql_text("SELECT count(*) FROM matter_search WHERE matter_search MATCH :p"), {"p": _phrase(word)}
            ).scalar_one()  # count(*): always one row
            if not found and not stale:
                return []
            expected *= (found + stale) / total
        walk_first = expected > _FEW
    if walk_first and _has_order_index(session):
        # Open matters in the order shown, from indexes only (CROSS JOIN keeps clients outermost,
        # read through their name index), as a co-routine whose order the outer query keeps; a
        # matter's row is read only for the ids that pass the index test.
        walk = (
            "SELECT m.id AS id, m.code AS code, c.name AS client FROM clients c "
            "CROSS JOIN matters m INDEXED BY ix_matters_search_order ON m.client_id = c.id "
            "WHERE m.status = 'open' ORDER BY c.name, m.code LIMIT :walk"
        )
        cond = where.format(id="w.id", code="w.code", name="m.name", client="w.client")
        rows = session.execute(
            sql_text(
                f"SELECT w.id, w.code, m.name, w.client FROM ({walk}) w CROSS JOIN matters m ON m.id = w.id "
                f"WHERE 1{cond} LIMIT :limit"
            ),
            params,
        ).all()
        if len(rows) == limit or not words:
            return [MatterRow(*row) for row in rows]
    cond = where.format(id="m.id", code="m.code", name="m.name", client="c.name")
    full = (
        "SELECT m.id, m.code, m.name, c.name FROM matters m JOIN clients c ON c.id = m.client_id "
        f"WHERE m.status = 'open'{cond} ORDER BY c.name, m.code LIMIT :limit"
    )
    return [MatterRow(*row) for row in session.execute(sql_text(full), params)]


def _catch_up(session: Session, stale: int) -> int:
    """Index up to ``_CATCH_UP`` stale matters in a transaction of their own
    (never waiting for another writer); returns how many are still stale."""
    from sqlalchemy.exc import OperationalError

    from softclock.store.search_index import catch_up

    engine = session.get_bind()
    with engine.connect() as conn:  # type: ignore[union-attr]
        timeout = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
        conn.exec_driver_sql("PRAGMA busy_timeout = 0")
        try:
            left = catch_up(conn, _CATCH_UP)
            conn.commit()
            return left
        except OperationalError:  # another writer holds the store: the stale ones are read with LIKE
            conn.rollback()
            return stale
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {timeout}")
            conn.commit()


def _like(name: str, word: str, params: dict[str, object]) -> str:
    """`` AND (code, name or client LIKE %word%)``, its parameter put in ``params``."""
    # SQLite's LIKE ignores ASCII case already; ilike's lower() on both sides
    # doubled the cost of each keystroke on 100,000 matters.
    params[name] = f"%{word}%"
    return f" AND ({{code}} LIKE :{name} OR {{name}} LIKE :{name} OR {{client}} LIKE :{name})"


def _phrase(word: str) -> str:
    """``word`` as an FTS5 phrase (a substring, with the trigram tokenizer)."""
    return '"' + word.replace('"', '""') + '"'


# With at most this many matches expected, the search fetches them from the index and sorts
# them (~1.5 us each); with more, walking the matters in order fills a page sooner.
_FEW = 2500
# How many matters the ordered walk looks at before it gives up (~1 us each).
_WALK = 4000
# How many stale matters a search outside a transaction indexes first (~40 us each).
_CATCH_UP = 500


def _has_search_index(session: Session) -> bool:
    """Whether the store has the trigram index (SQLite without FTS5 has none);
    asked once per database connection."""
    return _has(session, "table", "matter_search")


def _has_order_index(session: Session) -> bool:
    return _has(session, "index", "ix_matters_search_order")


def _has(session: Session, kind: str, name: str) -> bool:
    info = session.connection().info
    key = f"softclock.{kind}.{name}"
    if key not in info:
        info[key] = (
            session.execute(
                sql_text("SELECT 1 FROM sqlite_master WHERE type = :kind AND name = :name"),
                {"kind": kind, "name": name},
            ).first()
            is not None
        )
    return bool(info[key])


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


def review_page(
    session: Session, status: str = EntryStatus.DRAFT, limit: int = 200, offset: int = 0
) -> list[TimeEntry]:
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
