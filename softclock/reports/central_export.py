"""Exports from the central store: approved, not yet invoiced entries as CSV or LEDES 1998B.

Entries come from the central billing store (PostgreSQL or an SQLite file):
status ``approved`` and a work date in the range, optionally of some clients
only, with their timekeeper's rate, name and LEDES classification, the
matter's and client's codes and names, and the firm's LAW_FIRM_ID from the
central settings (``softclock admin set-firm --law-firm-id ...``).

Exporting for invoicing may mark the exported entries invoiced in the same
transaction (``mark_invoiced=True``): the entries are locked (``FOR UPDATE``
on PostgreSQL) while the file is built and written beside its final name; the
entries are marked; the transaction commits; only then does the file take its
name. A failure at any step leaves no file and no entry marked. On PostgreSQL
the database decides who may do what: reading every entry needs the billing
or admin role, marking them invoiced the billing role.

Every LEDES text written here is checked with :func:`softclock.reports.ledes.check`
before it is written: a file that would not pass is never written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text

from softclock.errors import InputError
from softclock.formatting import utc_now
from softclock.reports import csv_export, ledes

LAW_FIRM_ID_KEY = "law_firm_id"
_MARK_CHUNK = 1000


class ExportError(InputError):
    """The export cannot be made as asked; the message says why and what to do."""


@dataclass(frozen=True)
class ExportRequest:
    start: date
    end: date
    clients: tuple[str, ...] = ()  # client codes or names; empty: every client
    mark_invoiced: bool = False
    # LEDES only
    invoice_numbers: Mapping[str, str] = field(default_factory=dict)  # "CLIENT:MATTER" or "MATTER" -> number
    invoice_prefix: str = ""  # numbers PREFIX-<matter code> for matters not in invoice_numbers
    invoice_date: date | None = None  # default: today
    description: str = ""  # INVOICE_DESCRIPTION


@dataclass(frozen=True)
class ExportResult:
    path: Path
    entries: int  # entries written to the file
    marked: int  # entries marked invoiced
    invoices: int = 0  # LEDES invoices
    total: Decimal = Decimal("0.00")  # LEDES: sum of the invoices; CSV: sum of the values
    left_out: tuple[str, ...] = ()  # what was not exported and why, one sentence each


_SELECT = """
SELECT e.id AS id, e.work_date AS work_date, e.started_utc AS started_utc, e.timekeeper_id AS timekeeper_id,
       t.name AS timekeeper_name, t.rate AS rate, t.classification AS classification,
       c.code AS client_code, COALESCE(c.name, e.client_name) AS client_name,
       m.code AS matter_code, m.name AS matter_name,
       e.raw_seconds AS raw_seconds, e.billed_units AS billed_units, e.unit_minutes AS unit_minutes,
       e.activity_code AS activity_code, e.task_code AS task_code, e.narrative AS narrative,
       e.billable AS billable, e.status AS status, e.direction AS direction
FROM entries e
JOIN timekeepers t ON t.id = e.timekeeper_id
LEFT JOIN matters m ON m.code = e.matter_code
LEFT JOIN clients c ON c.id = m.client_id
WHERE e.status = 'approved' AND e.work_date >= :start AND e.work_date <= :end
"""


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ExportError(f"{what} {value!r} is not a date: write it YYYY-MM-DD") from None


def parse_invoice_numbers(items: Sequence[str]) -> dict[str, str]:
    """``CLIENT:MATTER=NUMBER`` (or ``MATTER=NUMBER``) items as a mapping; a malformed one is named."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, number = item.partition("=")
        if not sep or not key.strip() or not number.strip():
            raise ExportError(f"--invoice-number {item!r}: write it CLIENT:MATTER=NUMBER (or MATTER=NUMBER)")
        key = key.strip()
        if key in out and out[key] != number.strip():
            raise ExportError(f"--invoice-number gives {key} two numbers ({out[key]} and {number.strip()})")
        out[key] = number.strip()
    return out


def law_firm_id(conn: Connection) -> str:
    value = conn.execute(text("SELECT value FROM firm_settings WHERE key = :k"), {"k": LAW_FIRM_ID_KEY}).scalar()
    if not value:
        raise ExportError(
            "The firm's LAW_FIRM_ID is not set in the central store: "
            "`softclock admin set-firm --law-firm-id ID` (an admin login) sets it."
        )
    return str(value)


def check_role(conn: Connection, mark_invoiced: bool) -> None:
    """On PostgreSQL: exporting needs the billing or admin role, marking invoiced the billing role."""
    if conn.dialect.name != "postgresql":
        return
    billing, admin = conn.execute(
        text(
            "SELECT pg_has_role(current_user, 'softclock_billing', 'MEMBER'), "
            "pg_has_role(current_user, 'softclock_admin', 'MEMBER')"
        )
    ).one()
    if mark_invoiced and not billing:
        raise ExportError(
            "Marking entries invoiced needs a billing login (`softclock admin add-staff ID --role billing`)."
        )
    if not (billing or admin):
        raise ExportError("Exporting the firm's entries needs a billing or admin login; this login is a timekeeper's.")


def fetch(conn: Connection, request: ExportRequest, *, lock: bool) -> list[Mapping[str, Any]]:
    if request.start > request.end:
        raise ExportError(f"--from {request.start} is after --to {request.end}")
    sql = _SELECT
    params: dict[str, object] = {"start": request.start, "end": request.end}
    if request.clients:
        sql += " AND (c.code IN :clients OR c.name IN :clients)"
        params["clients"] = list(request.clients)
    sql += " ORDER BY c.code, m.code, e.work_date, e.timekeeper_id, e.id"
    if lock and conn.dialect.name == "postgresql":
        sql += " FOR UPDATE OF e"
    statement = text(sql)
    if request.clients:
        statement = statement.bindparams(bindparam("clients", expanding=True))
    rows = [dict(r) for r in conn.execute(statement, params).mappings()]
    if request.clients:
        known = {r["client_code"] for r in rows} | {r["client_name"] for r in rows}
        missing = [c for c in request.clients if c not in known]
        if (
            missing
            and not conn.execute(
                text("SELECT 1 FROM clients WHERE code IN :c OR name IN :c").bindparams(bindparam("c", expanding=True)),
                {"c": missing},
            ).first()
        ):
            raise ExportError(f"no client {', '.join(repr(c) for c in missing)} in the central store")
    for row in rows:
        if isinstance(row["work_date"], str):  # SQLite through text()
            row["work_date"] = date.fromisoformat(row["work_date"])
        if isinstance(row["started_utc"], str):
            row["started_utc"] = datetime.fromisoformat(row["started_utc"])
        row["billable"] = bool(row["billable"])
    out: list[Mapping[str, Any]] = list(rows)
    return out


def _rate(value: object) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value))


def mark(conn: Connection, ids: Sequence[str]) -> int:
    """Mark ``ids`` invoiced; all of them must still be approved, or nothing is (the caller rolls back)."""
    now = utc_now()
    done = 0
    for i in range(0, len(ids), _MARK_CHUNK):
        chunk = list(ids[i : i + _MARK_CHUNK])
        done += conn.execute(
            text(
                "UPDATE entries SET status = 'invoiced', invoiced_utc = :now WHERE status = 'approved' AND id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"now": now, "ids": chunk},
        ).rowcount
    if done != len(ids):
        raise ExportError(
            f"only {done} of {len(ids)} entries could be marked invoiced (another export took the rest): nothing was"
        )
    return done


def _write_then_commit(
    engine: Engine,
    request: ExportRequest,
    output: Path,
    build: Callable[[Connection, list[Mapping[str, Any]]], tuple[bytes, list[str], Decimal, int, tuple[str, ...]]],
) -> ExportResult:
    output = Path(output)
    directory = output.parent if str(output.parent) else Path(".")
    temp: str | None = None
    try:
        with engine.begin() as conn:
            check_role(conn, request.mark_invoiced)
            rows = fetch(conn, request, lock=request.mark_invoiced)
            data, ids, total, invoices, left_out = build(conn, rows)
            fd, temp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=directory)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            marked = mark(conn, ids) if request.mark_invoiced else 0
        os.replace(temp, output)
        temp = None
    except FileNotFoundError as exc:
        raise ExportError(f"Cannot write {output}: {exc.strerror}") from None
    except PermissionError as exc:
        raise ExportError(f"Cannot write {output}: {exc.strerror}") from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
    return ExportResult(output, len(ids), marked, invoices, total, left_out)


def _nothing(request: ExportRequest) -> ExportError:
    which = f" of {', '.join(request.clients)}" if request.clients else ""
    return ExportError(
        f"No approved, uninvoiced entries{which} from {request.start} to {request.end}: nothing was written."
    )


def export_csv(engine: Engine, request: ExportRequest, output: str | Path, *, bom: bool = False) -> ExportResult:
    """The entries as CSV (:mod:`softclock.reports.csv_export`); a missing rate is written as 0.00."""

    def build(
        conn: Connection, rows: list[Mapping[str, Any]]
    ) -> tuple[bytes, list[str], Decimal, int, tuple[str, ...]]:
        if not rows:
            raise _nothing(request)
        entries = [
            csv_export.EntryRow(
                entry_id=r["id"],
                date=r["work_date"],
                started_utc=r["started_utc"].replace(tzinfo=UTC) if r["started_utc"] else None,
                timekeeper_id=r["timekeeper_id"],
                timekeeper_name=r["timekeeper_name"] or "",
                client_id=r["client_code"] or "",
                client_name=r["client_name"] or "",
                matter_id=r["matter_code"] or "",
                matter_name=r["matter_name"] or "",
                raw_seconds=int(round(r["raw_seconds"] or 0)),
                units=int(r["billed_units"]),
                increment_min=int(r["unit_minutes"]),
                rate=_rate(r["rate"]) or Decimal(0),
                narrative=r["narrative"] or "",
                task_code=r["task_code"] or "",
                activity_code=r["activity_code"] or "",
                billable=r["billable"],
                status=r["status"],
            )
            for r in rows
        ]
        no_rate = sorted({r["timekeeper_id"] for r in rows if r["rate"] is None})
        left = (f"timekeepers without a rate, written at 0.00: {', '.join(no_rate)}",) if no_rate else ()
        body = csv_export.to_csv(entries).encode("utf-8-sig" if bom else "utf-8")
        total = sum((e.value for e in entries), Decimal("0.00"))
        return body, [r["id"] for r in rows], total, 0, left

    return _write_then_commit(engine, request, Path(output), build)


def _timekeeper(row: Mapping[str, Any]) -> ledes.Timekeeper:
    name = ledes.free_text(row["timekeeper_name"] or row["timekeeper_id"])[:30].strip()
    return ledes.Timekeeper(row["timekeeper_id"], name, (row["classification"] or "").strip(), _rate(row["rate"]))  # type: ignore[arg-type]


def _description(row: Mapping[str, Any]) -> str:
    narrative = ledes.free_text(row["narrative"] or "")
    if narrative:
        return narrative
    direction = {"incoming": "incoming", "inbound": "incoming", "outgoing": "outgoing", "outbound": "outgoing"}
    return f"Telephone call ({direction[row['direction']]})" if row["direction"] in direction else "Telephone call"


def _numbers(request: ExportRequest) -> Callable[[ledes.Matter], str]:
    given = dict(request.invoice_numbers)

    def number(matter: ledes.Matter) -> str:
        for key in (f"{matter.client_id}:{matter.law_firm_matter_id}", matter.law_firm_matter_id):
            if key in given:
                return given[key]
        if request.invoice_prefix:
            return f"{request.invoice_prefix}-{matter.law_firm_matter_id}"
        raise ExportError(
            f"no invoice number for matter {matter.law_firm_matter_id} of client {matter.client_id}: give "
            f"--invoice-number {matter.client_id}:{matter.law_firm_matter_id}=NUMBER or --invoice-prefix PREFIX"
        )

    return number


def build_ledes(
    conn: Connection, request: ExportRequest, rows: list[Mapping[str, Any]]
) -> tuple[str, list[str], list[ledes.Invoice], tuple[str, ...]]:
    """The LEDES text of ``rows`` (checked), the ids it bills, its invoices and what was left out."""
    firm = law_firm_id(conn)
    billable = [r for r in rows if r["billable"] and r["matter_code"]]
    left: list[str] = []
    no_matter = sum(1 for r in rows if not r["matter_code"])
    not_billable = sum(1 for r in rows if r["matter_code"] and not r["billable"])
    if no_matter:
        left.append(f"{no_matter} entries without a matter (not invoiceable; give them a matter first)")
    if not_billable:
        left.append(f"{not_billable} non-billable entries")
    if not billable:
        raise (
            _nothing(request)
            if not rows
            else ExportError(
                f"No billable entries with a matter from {request.start} to {request.end} ({'; '.join(left)})."
            )
        )
    no_rate = sorted({r["timekeeper_id"] for r in billable if r["rate"] is None})
    if no_rate:
        raise ExportError(
            f"timekeepers without a rate: {', '.join(no_rate)} "
            "(`softclock admin set-timekeeper ID --rate AMOUNT`); nothing was written"
        )
    no_class = sorted({r["timekeeper_id"] for r in billable if not (r["classification"] or "").strip()})
    if no_class:
        raise ExportError(
            f"timekeepers without a LEDES classification: {', '.join(no_class)} "
            "(`softclock admin set-timekeeper ID --classification PT|AS|OC|LA|PL|OT`); nothing was written"
        )
    items = []
    for r in billable:
        matter = ledes.Matter(client_id=r["client_code"] or "", law_firm_matter_id=r["matter_code"])
        line = ledes.InvoiceLine(
            date=r["work_date"],
            timekeeper=_timekeeper(r),
            units=int(r["billed_units"]),
            description=_description(r),
            increment_min=int(r["unit_minutes"]),
            task_code=r["task_code"] or "",
            activity_code=r["activity_code"] or "",
            number=str(r["id"])[:20],
        )
        items.append((matter, line))
    invoices = ledes.invoices_by_matter(
        items,
        invoice_numbers=_numbers(request),
        invoice_date=request.invoice_date or date.today(),
        billing_start=request.start,
        billing_end=request.end,
        description=request.description,
    )
    body = ledes.write(invoices, law_firm_id=firm)
    problems = ledes.check(body)
    if problems:  # never expected: the writer and the checker agree on the format
        raise ExportError(f"the LEDES file would not pass its check ({problems[0]}); nothing was written")
    return body, [r["id"] for r in billable], invoices, tuple(left)


def export_ledes(engine: Engine, request: ExportRequest, output: str | Path) -> ExportResult:
    """One LEDES 1998B invoice per client matter of the billable entries with a matter."""

    def build(
        conn: Connection, rows: list[Mapping[str, Any]]
    ) -> tuple[bytes, list[str], Decimal, int, tuple[str, ...]]:
        body, ids, invoices, left = build_ledes(conn, request, rows)
        total = sum((i.total for i in invoices), Decimal("0.00"))
        return body.encode("utf-8"), ids, total, len(invoices), left

    return _write_then_commit(engine, request, Path(output), build)


def check_ledes_file(path: str | Path) -> tuple[list[ledes.Problem], int]:
    """The problems of a LEDES file and its number of line items."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ExportError(f"Cannot read {path}: {exc.strerror}") from None
    body = raw.decode("utf-8", errors="replace")
    problems = ledes.check(body)
    lines = [row for row in body.split("\n")[2:] if row.strip()]
    return problems, len(lines)


def set_law_firm_id(engine: Engine, value: str) -> None:
    """The firm's LAW_FIRM_ID (an admin's change): checked as LEDES will write it."""
    value = value.strip()
    try:
        ledes.lines([], law_firm_id=value).__next__()
    except ledes.LedesError as exc:
        raise ExportError(f"--law-firm-id: {exc}") from None
    set_setting(engine, LAW_FIRM_ID_KEY, value)


def set_setting(engine: Engine, key: str, value: str) -> None:
    with engine.begin() as conn:
        if not conn.execute(
            text("UPDATE firm_settings SET value = :v WHERE key = :k"), {"k": key, "v": value}
        ).rowcount:
            conn.execute(text("INSERT INTO firm_settings (key, value) VALUES (:k, :v)"), {"k": key, "v": value})
