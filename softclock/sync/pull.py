"""Pull: clients, matters, contact numbers, codes and the firm's policy, by change cursor; invoiced entries.

Each reference table is read in pages of ``change_seq > cursor`` and applied
to the local store with the cursor in the same local transaction, so a crash
mid-pull resumes where it stopped. Closed matters stay (old entries point at
them); the matter prompt offers only open ones. Entries invoiced centrally
come back as ``invoiced`` and are locked.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from softclock.states import EntryStatus
from softclock.store import search_index
from softclock.store.db import Store
from softclock.store.models import Client, Code, ContactNumber, Matter, TimeEntry, table_of
from softclock.sync import state
from softclock.sync.central import (
    REFERENCE_TABLES,
    CentralClient,
    CentralCode,
    CentralContactNumber,
    CentralEntry,
    CentralMatter,
    CentralPolicy,
)

PAGE = 20000
_BULK = 1000  # matters in a page from which the search index's triggers stand aside (search_index.bulk)
_TABLES = {
    "clients": CentralClient,
    "matters": CentralMatter,
    "contact_numbers": CentralContactNumber,
    "codes": CentralCode,
    "billing_policy": CentralPolicy,
}


@dataclass
class PullResult:
    rows: dict[str, int] = field(default_factory=dict)
    invoiced: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.invoiced


def pull(store: Store, central: Engine, identity: str, page: int = PAGE) -> PullResult:
    result = PullResult()
    for name in REFERENCE_TABLES:
        model = _TABLES[name]
        while True:
            with store.session() as s:
                since = state.cursor(s, name)
            with central.connect() as conn:
                found = conn.execute(
                    select(table_of(model))
                    .where(table_of(model).c.change_seq > since)
                    .order_by(table_of(model).c.change_seq)
                    .limit(page)
                )
                keys = list(found.keys())
                # The driver's rows as plain dicts: SQLAlchemy's row objects cost more than the fetch (100,000
                # matters); these tables' columns need no result processing (SQLite's booleans stay 0/1).
                rows = [dict(zip(keys, row, strict=True)) for row in found.cursor.fetchall()]
                found.close()
            if not rows:
                break
            with store.session() as s, s.begin():
                _APPLY[name](s, rows)
                state.put(s, f"cursor:{name}", str(rows[-1]["change_seq"]))
            result.rows[name] = result.rows.get(name, 0) + len(rows)
            if len(rows) < page:
                break
    result.invoiced = pull_invoiced(store, central, identity)
    return result


def pull_invoiced(store: Store, central: Engine, identity: str) -> int:
    t = table_of(CentralEntry)
    count = 0
    while True:
        with store.session() as s:
            since = state.cursor(s, EntryStatus.INVOICED)
        with central.connect() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.version, t.c.change_seq)
                .where(t.c.timekeeper_id == identity, t.c.status == EntryStatus.INVOICED, t.c.change_seq > since)
                .order_by(t.c.change_seq)
                .limit(PAGE)
            ).all()
        if not rows:
            return count
        with store.session() as s, s.begin():
            te = table_of(TimeEntry)
            s.execute(
                te.update().where(te.c.id == bindparam("b")).values(status=EntryStatus.INVOICED),
                [{"b": r.id} for r in rows],
            )
            state.put(s, "cursor:invoiced", str(rows[-1].change_seq))
        count += len(rows)
        if len(rows) < PAGE:
            return count


def _apply_clients(s: Session, rows) -> None:  # type: ignore[no-untyped-def]
    conn = s.connection()
    by_central = _lookup(conn, "SELECT central_id, id FROM clients WHERE central_id IN", [r["id"] for r in rows])
    by_name = _lookup(conn, "SELECT name, id FROM clients WHERE name IN", [r["name"] for r in rows])
    inserts, updates = [], []
    for r in rows:
        local = by_central.get(r["id"]) or by_name.get(r["name"])
        values = (r["name"], r["policy_json"], r["id"])
        if local is None:
            inserts.append(values)
        else:
            updates.append((*values, local))
    # Plain executemany of tuples: SQLAlchemy's per-row parameter processing cost more than the writes.
    if updates:
        conn.exec_driver_sql("UPDATE clients SET name = ?, policy_json = ?, central_id = ? WHERE id = ?", updates)
    if inserts:
        conn.exec_driver_sql("INSERT INTO clients (name, policy_json, central_id) VALUES (?, ?, ?)", inserts)


def _lookup(conn: Any, select_in: str, keys: list[Any]) -> dict[Any, int]:
    """``SELECT key, id ... IN (keys)`` as a dict, the keys passed as one JSON array."""
    if not keys:
        return {}
    found = conn.exec_driver_sql(f"{select_in} (SELECT value FROM json_each(?))", (json.dumps(keys),))
    return dict(found.cursor.fetchall())  # the driver's tuples: no row objects for 20,000 keys a page


def _client_map(s: Session) -> dict[int, int]:
    rows = s.execute(select(Client.central_id, Client.id).where(Client.central_id.is_not(None))).all()
    return {central: local for central, local in rows if central is not None}


def _apply_matters(s: Session, rows) -> None:  # type: ignore[no-untyped-def]
    conn = s.connection()
    clients = _lookup(
        conn, "SELECT central_id, id FROM clients WHERE central_id IN", list({r["client_id"] for r in rows})
    )
    by_central = _lookup(conn, "SELECT central_id, id FROM matters WHERE central_id IN", [r["id"] for r in rows])
    by_code = _lookup(conn, "SELECT code, id FROM matters WHERE code IN", [r["code"] for r in rows])
    inserts, updates = [], []
    for r in rows:
        values = (r["code"], r["name"], clients[r["client_id"]], r["status"], r["policy_json"], r["id"])
        local = by_central.get(r["id"]) or by_code.get(r["code"])
        if local is None:
            inserts.append(values)
        else:
            updates.append((*values, local))
    # Many matters (a new laptop's first pull): the search index's per-row triggers stand aside
    # (search_index.bulk); the matters written are marked for the index in one statement each.
    with search_index.bulk(conn) if len(rows) >= _BULK else nullcontext(search_index.BulkMarks()) as marks:
        if updates:
            conn.exec_driver_sql(
                "UPDATE matters SET code = ?, name = ?, client_id = ?, status = ?, policy_json = ?, central_id = ? "
                "WHERE id = ?",
                updates,
            )
            marks.updated.extend(u[-1] for u in updates)
        if inserts:
            conn.exec_driver_sql(
                "INSERT INTO matters (code, name, client_id, status, policy_json, central_id) VALUES (?, ?, ?, ?, ?, ?)",
                inserts,
            )


def _apply_numbers(s: Session, rows) -> None:  # type: ignore[no-untyped-def]
    clients = _client_map(s)
    matters = dict(s.execute(select(Matter.central_id, Matter.id).where(Matter.central_id.is_not(None))).all())
    t = table_of(ContactNumber)
    gone = [r["id"] for r in rows if not r["active"]]
    if gone:
        s.execute(delete(ContactNumber).where(ContactNumber.central_id.in_(gone)))
    live = [r for r in rows if r["active"]]
    if live:
        stmt = sqlite_insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=["central_id"],
            set_={c: stmt.excluded[c] for c in ("number", "client_id", "matter_id", "label")},
        )
        s.execute(
            stmt,
            [
                {
                    "number": r["number"],
                    "client_id": clients[r["client_id"]],
                    "matter_id": matters.get(r["matter_id"]) if r["matter_id"] is not None else None,
                    "label": r["label"],
                    "central_id": r["id"],
                }
                for r in live
            ],
        )


def _apply_codes(s: Session, rows) -> None:  # type: ignore[no-untyped-def]
    stmt = sqlite_insert(table_of(Code))
    stmt = stmt.on_conflict_do_update(
        index_elements=["code"], set_={c: stmt.excluded[c] for c in ("kind", "description", "active")}
    )
    s.execute(
        stmt,
        [{"code": r["code"], "kind": r["kind"], "description": r["description"], "active": r["active"]} for r in rows],
    )


def _apply_policy(s: Session, rows) -> None:  # type: ignore[no-untyped-def]
    for r in rows:
        if r["id"] == 1:
            state.put(s, state.FIRM_POLICY, r["policy_json"])


_APPLY = {
    "clients": _apply_clients,
    "matters": _apply_matters,
    "contact_numbers": _apply_numbers,
    "codes": _apply_codes,
    "billing_policy": _apply_policy,
}
