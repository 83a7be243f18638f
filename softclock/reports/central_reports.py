"""The reports billing staff and office managers read, from the central store: :func:`run_report`.

Each report is SQL on the central store (PostgreSQL, or an SQLite file), run with
the login's own rights: on PostgreSQL a timekeeper's login reads only their own
calls and entries (row-level security), billing and admin everyone's. Nothing
here filters by person; the database does.

* ``calls``: the call history, every call with its entries and their status, by
  timekeeper then start; filtered by timekeeper, office, department, client and
  matter, searched by number, name (timekeeper, client, matter) and narrative.
* ``time``: raw hours, billed hours and value (billed hours x the timekeeper's
  rate, each entry rounded to cents as a LEDES line is) by any of timekeeper,
  department, office, client, matter, day, week, month; with totals.
* ``leakage``: per timekeeper, answered calls of at least the short-call threshold
  without an approved entry ``leak_days`` after they started, and answered calls
  only the phone system saw, with their estimated value
  (:func:`softclock.reports.central_reconcile.reconcile`).
* ``unbilled``: approved, billable, not invoiced, by client and matter, aged
  0-30 / 31-60 / 61-90 / over 90 days before ``as_of``.
* ``reconciliation``: the reconciliation's outcomes with their counts and the calls behind them.
* ``hours-chart``: captured (answered talk time), approved (entries' raw time) and unlogged
  (answered calls of at least the threshold without an approved entry) hours per timekeeper
  per week (weeks start on Monday), as a table and a :class:`BarChart`.

Days are UTC days of a call's start; entries count on their work date. Money is
``Decimal`` throughout (floats only on SQLite, rounded to cents per entry there).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, String, bindparam, text
from sqlalchemy.sql.elements import TextClause

from softclock.errors import InputError
from softclock.formatting import utc_now
from softclock.reports import central_reconcile
from softclock.reports.ledes import hours as ledes_hours
from softclock.reports.model import BarChart, Cell, Column, Kind, Report, ReportRequest, Series

GROUPINGS = ("timekeeper", "department", "office", "client", "matter", "day", "week", "month")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ReportInfo:
    title: str
    description: str
    by: tuple[str, ...]  # the groupings it accepts ("" none)
    default_by: tuple[str, ...] = ()


REPORTS: dict[str, ReportInfo] = {
    "calls": ReportInfo(
        "Call history",
        "Every call, timekeeper by timekeeper, with its entries and their status; filtered and searched.",
        (),
    ),
    "time": ReportInfo(
        "Time",
        "Raw hours, billed hours and value (billed hours x rate) by timekeeper, department, office, client, "
        "matter, day, week or month.",
        GROUPINGS,
        ("timekeeper",),
    ),
    "leakage": ReportInfo(
        "Leakage",
        "Answered calls of at least the short-call threshold without an approved entry after N days, and "
        "answered calls only the phone system saw, with their estimated value, by timekeeper.",
        ("timekeeper",),
        ("timekeeper",),
    ),
    "unbilled": ReportInfo(
        "Unbilled time",
        "Approved, billable time not yet invoiced, by client and matter, aged 0-30, 31-60, 61-90 and over 90 days.",
        ("client", "matter"),
        ("client", "matter"),
    ),
    "reconciliation": ReportInfo(
        "Reconciliation with the phone system",
        "The phone system's call records against the calls the laptops captured: matched, phone system only, "
        "laptop only, leakage; with the calls behind them.",
        (),
    ),
    "hours-chart": ReportInfo(
        "Captured, approved and unlogged hours",
        "Captured, approved and unlogged hours per timekeeper per week, drawn as bars.",
        ("timekeeper", "week"),
        ("timekeeper", "week"),
    ),
}


def check_request(request: ReportRequest) -> ReportRequest:
    """The request as it will run (default grouping filled in), or :class:`InputError` saying what is wrong."""
    info = REPORTS.get(request.name)
    if info is None:
        raise InputError(f"There is no report {request.name!r}: choose one of {', '.join(REPORTS)}.")
    if request.start > request.end:
        raise InputError(f"The period starts ({request.start}) after it ends ({request.end}).")
    if request.leak_days < 0:
        raise InputError(f"Leakage days must be 0 or more, not {request.leak_days}.")
    if request.limit is not None and request.limit < 1:
        raise InputError(f"The row limit must be 1 or more, not {request.limit}.")
    unknown = [g for g in request.by if g not in GROUPINGS]
    if unknown:
        raise InputError(f"Cannot group by {unknown[0]!r}: choose from {', '.join(GROUPINGS)}.")
    refused = [g for g in request.by if g not in info.by]
    if refused:
        allowed = f"it groups by {' and '.join(info.by)} only" if info.by else "it is not grouped"
        raise InputError(f"The {info.title.lower()} report cannot be grouped by {refused[0]}: {allowed}.")
    by = tuple(dict.fromkeys(request.by)) or info.default_by
    return replace(request, by=by)


def run_report(engine: Engine, request: ReportRequest) -> Report:
    """Run ``request`` on the central store behind ``engine``, with that login's rights."""
    request = check_request(request)
    if request.as_of is None:
        request = replace(request, as_of=utc_now())
    elif request.as_of.tzinfo is not None:
        request = replace(request, as_of=request.as_of.astimezone(UTC).replace(tzinfo=None))
    runner: Callable[[Engine, ReportRequest], Report] = _RUNNERS[request.name]
    return runner(engine, request)


# ------------------------------------------------------------------ helpers


def _bounds(request: ReportRequest) -> tuple[datetime, datetime]:
    return datetime.combine(request.start, time()), datetime.combine(request.end + timedelta(days=1), time())


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _money(value: object) -> Decimal:
    if value is None:
        return Decimal("0.00")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def _hours_of_seconds(value: object) -> Decimal:
    seconds = value if isinstance(value, Decimal) else Decimal(str(value or 0))
    return (seconds / Decimal(3600)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _hours_of_minutes(value: int | None) -> Decimal:
    """Billed minutes as hours the way LEDES writes them: two places, or four where the increment needs them."""
    return ledes_hours(int(value or 0), 1)


def _bucket(dialect: str, grouping: str, column: str) -> str:
    """SQL for the day, week (Monday) or month a date or timestamp ``column`` falls in."""
    if dialect == "postgresql":
        if grouping == "day":
            return f"CAST({column} AS date)"
        return f"CAST(date_trunc('{grouping}', {column}) AS date)"
    if grouping == "day":
        return f"date({column})"
    if grouping == "week":
        return f"date({column}, 'weekday 0', '-6 days')"
    return f"date({column}, 'start of month')"


def like_pattern(text_: str) -> str:
    """``%text%`` for LIKE with ``\\`` escaping ``%``, ``_`` and itself."""
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def number_digits(search: str) -> str:
    """The digits of a search that looks like a phone number (``+44 20 7946`` -> ``44207946``), else ""."""
    stripped = search.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").replace(".", "")
    stripped = stripped.removeprefix("+")
    return stripped if len(stripped) >= 3 and stripped.isdigit() else ""


class _Where:
    """WHERE fragments and their parameters (lists bound as expanding IN parameters)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, object] = {}
        self.lists: set[str] = set()

    def add(self, sql: str, **params: object) -> None:
        self.parts.append(sql)
        for key, value in params.items():
            if isinstance(value, (tuple, list)):
                self.lists.add(key)
                value = list(value)
            self.params[key] = value

    def sql(self) -> str:
        return "".join(f" AND {p}" for p in self.parts)

    def clause(self, sql: str) -> TextClause:
        clause = text(sql)
        if self.lists:
            clause = clause.bindparams(*(bindparam(k, expanding=True, type_=String()) for k in sorted(self.lists)))
        return clause


def _people(conn: Connection, where: _Where, request: ReportRequest, tk_col: str) -> None:
    """Timekeeper (id or name), office and department filters as the ids of the timekeepers they leave
    (looked up first, so the query can use its timekeeper indexes)."""
    if not (request.timekeeper or request.office or request.department):
        return
    people = _Where()
    if request.timekeeper:
        people.add("(id IN :f_tk OR name IN :f_tk)", f_tk=request.timekeeper)
    if request.office:
        people.add("office IN :f_office", f_office=request.office)
    if request.department:
        people.add("department IN :f_dept", f_dept=request.department)
    ids = conn.execute(people.clause(f"SELECT id FROM timekeepers WHERE 1 = 1{people.sql()}"), people.params)
    where.add(f"{tk_col} IN :f_tk_ids", f_tk_ids=[str(i) for (i,) in ids])


def _work(where: _Where, request: ReportRequest) -> None:
    """Client (code or name) and matter (code) filters on entries ``e``."""
    if request.client:
        where.add(f"(e.client_name IN :f_client OR e.matter_code IN ({_CLIENTS_MATTERS}))", f_client=request.client)
    if request.matter:
        where.add("e.matter_code IN :f_matter", f_matter=request.matter)


_ENTRY_JOINS = "LEFT JOIN matters m ON m.code = e.matter_code LEFT JOIN clients cl ON cl.id = m.client_id"


def _filter_notes(request: ReportRequest, *, search: bool, work: bool) -> tuple[str, ...]:
    notes = []
    if request.search and not search:
        notes.append("The search applies to the call history only; it was not used here.")
    if (request.client or request.matter) and not work:
        notes.append("Client and matter filters do not apply to this report; they were not used.")
    return tuple(notes)


# ------------------------------------------------------------------ calls


def _lists_entry(dialect: str, conditions: str) -> str:
    """SQL true for a call ``c`` that lists an entry (``e``, its matter ``m`` and client ``cl``) meeting
    ``conditions``. On PostgreSQL the matching entries' ids are found first and the calls listing them
    through the GIN index of each call's entry ids (c0006), not by reading every call's JSON."""
    if dialect == "postgresql":
        return f"c.id IN ({_calls_listing(conditions)})"
    return (
        "EXISTS (SELECT 1 FROM json_each(c.entries_json) AS j JOIN entries e ON e.id = json_extract(j.value, '$[0]') "
        f"WHERE {conditions})"
    )


def _calls_listing(conditions: str) -> str:
    """PostgreSQL: the ids of the calls listing an entry ``e`` that meets ``conditions`` (c0006's GIN index)."""
    return (
        f"SELECT c2.id FROM calls c2 WHERE {_CALL_ENTRY_IDS} ?| "
        f"ARRAY(SELECT CAST(e.id AS text) FROM entries e WHERE {conditions})"
    )


# the codes of the matters of the clients named (by code or name) in :f_client
_CLIENTS_MATTERS = (
    "SELECT m2.code FROM matters m2 JOIN clients c3 ON c3.id = m2.client_id "
    "WHERE c3.code IN :f_client OR c3.name IN :f_client"
)
_LIKE = "LIKE :s_text ESCAPE '\\'"


def _search(conn: Connection, where: _Where, needle: str) -> None:
    """Calls whose timekeeper's name, number (digits) or one of whose entries' narrative, client or matter
    (code or name) holds ``needle``. On PostgreSQL the three are found apart (the timekeepers first, the
    entries and then the calls listing them through c0006's index, the numbers within the period) and
    the call must be one of them."""
    pattern = like_pattern(needle)
    keepers = [
        str(i)
        for (i,) in conn.execute(text(f"SELECT id FROM timekeepers WHERE lower(name) {_LIKE}"), {"s_text": pattern})
    ]
    digits = number_digits(needle)
    entry_match = (
        f"lower(e.narrative) {_LIKE} OR lower(e.client_name) {_LIKE} OR lower(coalesce(e.matter_code, '')) {_LIKE} "
        "OR e.matter_code IN (SELECT m2.code FROM matters m2 LEFT JOIN clients c3 ON c3.id = m2.client_id "
        f"WHERE lower(m2.name) {_LIKE} OR lower(coalesce(c3.name, '')) {_LIKE})"
    )
    params: dict[str, object] = {"s_text": pattern}
    if keepers:
        params["s_tk"] = keepers
    if digits:
        params["s_digits"] = like_pattern(digits)
    number = "NOT {c}.number_hashed AND {c}.remote_number LIKE :s_digits ESCAPE '\\'"
    if conn.dialect.name == "postgresql":
        period = "c2.start_utc >= :lo AND c2.start_utc < :hi"
        parts = [_calls_listing(entry_match)]
        if keepers:
            parts.append(f"SELECT c2.id FROM calls c2 WHERE {period} AND c2.timekeeper_id IN :s_tk")
        if digits:
            parts.append(f"SELECT c2.id FROM calls c2 WHERE {period} AND {number.format(c='c2')}")
        where.add(f"c.id IN ({' UNION '.join(parts)})", **params)
        return
    words = [_lists_entry("sqlite", entry_match)]
    if keepers:
        words.append("c.timekeeper_id IN :s_tk")
    if digits:
        words.append(f"({number.format(c='c')})")
    where.add("(" + " OR ".join(words) + ")", **params)


# the expression of c0006's index ix_calls_entry_ids, on the calls of the subquery (c2)
_CALL_ENTRY_IDS = "jsonb_path_query_array(CAST(c2.entries_json AS jsonb), '$[*][0]')"


_CALL_COLUMNS = (
    Column("timekeeper", "Timekeeper"),
    Column("started", "Started", Kind.DATETIME),
    Column("direction", "Direction"),
    Column("number", "Number"),
    Column("disposition", "Outcome"),
    Column("talk_s", "Talk (s)", Kind.INT),
    Column("entry_status", "Entry"),
    Column("client", "Client"),
    Column("matter", "Matter"),
    Column("billed_hours", "Billed hours", Kind.HOURS),
    Column("narrative", "Narrative"),
)


def _calls(engine: Engine, request: ReportRequest) -> Report:
    lo, hi = _bounds(request)
    with engine.connect() as conn:
        _work_memory(conn)
        d = conn.dialect.name
        where = _Where()
        where.add("c.start_utc >= :lo AND c.start_utc < :hi", lo=lo, hi=hi)
        _people(conn, where, request, "c.timekeeper_id")
        work = []
        if request.client:
            work.append(f"(e.client_name IN :f_client OR e.matter_code IN ({_CLIENTS_MATTERS}))")
            where.params["f_client"] = list(request.client)
            where.lists.add("f_client")
        if request.matter:
            work.append("e.matter_code IN :f_matter")
            where.params["f_matter"] = list(request.matter)
            where.lists.add("f_matter")
        if work:
            where.add(_lists_entry(d, " AND ".join(work)))
        if request.search.strip():
            _search(conn, where, request.search.strip().lower())
        limit = "" if request.limit is None else f" LIMIT {int(request.limit) + 1}"
        sql = (
            "SELECT c.timekeeper_id, coalesce(t.name, c.timekeeper_id) AS name, c.start_utc, c.direction, "
            "c.remote_number, c.number_hashed, c.disposition, c.talk_seconds, c.entries_json "
            "FROM calls c LEFT JOIN timekeepers t ON t.id = c.timekeeper_id "
            f"WHERE 1 = 1{where.sql()} ORDER BY c.timekeeper_id, c.start_utc, c.id{limit}"
        )
        calls = conn.execute(where.clause(sql), where.params).all()
        truncated = request.limit is not None and len(calls) > request.limit
        if truncated:
            calls = calls[: request.limit]
        listed = [(call, _call_entries(call.entries_json)) for call in calls]
        entries = _entries_by_id(conn, [eid for _, pairs in listed for eid, _ in pairs])
    rows: list[tuple[Cell, ...]] = []
    for call, pairs in listed:
        statuses: list[str] = []
        clients: list[str] = []
        matters: list[str] = []
        narratives: list[str] = []
        minutes = 0
        for eid, status in pairs:
            entry = entries.get(eid)
            statuses.append(str(entry["status"]) if entry else status)
            if entry:
                minutes += int(entry["minutes"] or 0)
                for bag, key in ((clients, "client"), (matters, "matter"), (narratives, "narrative")):
                    value = str(entry[key] or "")
                    if value and value not in bag:
                        bag.append(value)
        number = "(hidden)" if call.number_hashed else str(call.remote_number or "")
        rows.append(
            (
                str(call.name),
                _as_datetime(call.start_utc),
                str(call.direction),
                number,
                str(call.disposition),
                int(round(float(call.talk_seconds or 0))),
                ", ".join(dict.fromkeys(statuses)) or "none",
                "; ".join(clients),
                "; ".join(matters),
                _hours_of_minutes(minutes) if any(eid in entries for eid, _ in pairs) else None,
                " / ".join(narratives),
            )
        )
    shown = f"The first {len(rows):,} calls" if truncated else f"{len(rows):,} calls"
    notes = (
        f"{shown}, by timekeeper then start (UTC days {request.start} to {request.end}).",
        "Entry: the status of each entry made from the call (draft and short ones stay on the laptop).",
        *_filter_notes(request, search=True, work=True),
    )
    return Report(
        request,
        f"Call history, {request.start} to {request.end}",
        _CALL_COLUMNS,
        tuple(rows),
        notes=notes,
        truncated=truncated,
    )


def _call_entries(raw: object) -> list[tuple[str, str]]:
    try:
        items = json.loads(str(raw or "[]"))
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, list) and len(item) >= 2:
            out.append((str(item[0]), str(item[1])))
    return out


def _entries_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Mapping[str, Any]] = {}
    query = text(
        "SELECT e.id, e.status, coalesce(cl.name, e.client_name) AS client, e.matter_code AS matter, "
        "e.narrative, e.billed_units * e.unit_minutes AS minutes "
        f"FROM entries e {_ENTRY_JOINS} WHERE e.id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    for at in range(0, len(wanted), 5000):
        for row in conn.execute(query, {"ids": wanted[at : at + 5000]}).mappings():
            found[str(row["id"])] = dict(row)
    return found


# ------------------------------------------------------------------ time


# Per grouping: the keys the entries are first summed by (plain columns, whose statistics the planner
# knows), and the expressions of the outer query over those sums (names joined in after summing).
_INNER_KEYS = {
    "timekeeper": (("tk", "e.timekeeper_id"),),
    "department": (("dept", "coalesce(t.department, '')"),),
    "office": (("office", "coalesce(t.office, '')"),),
    "client": (("mc", "e.matter_code"), ("cn", "e.client_name")),
    "matter": (("mc", "e.matter_code"),),
}
_OUTER = {
    "timekeeper": (("x.tk", "coalesce(t2.name, x.tk)"), (Column("timekeeper", "Timekeeper"),)),
    "department": (("x.dept",), (Column("department", "Department"),)),
    "office": (("x.office",), (Column("office", "Office"),)),
    "client": (("coalesce(cl.name, x.cn, '')",), (Column("client", "Client"),)),
    "matter": (
        ("coalesce(x.mc, '')", "coalesce(m.name, '')"),
        (Column("matter", "Matter"), Column("matter_name", "Matter name")),
    ),
}


@dataclass(frozen=True)
class _Grouped:
    sql: str
    shown: list[int]  # index among the outer group expressions (g0...) of each shown column
    columns: list[Column]
    kinds: list[str]  # the grouping each shown column comes from
    keys: int  # outer group expressions (g0...) before the measures


def _grouped_entries(dialect: str, by: Iterable[str], measures: Sequence[tuple[str, str]], where: _Where) -> _Grouped:
    """SQL summing ``measures`` (alias, SQL over ``e`` and ``t``) of the entries meeting ``where``, grouped
    ``by``: first by plain keys of the entries (and their timekeeper ``t``, with ``rate_c``, their rate in
    cents), then by the names joined to those sums; rows ``g0...`` (the outer keys), then the measures."""
    inner: dict[str, str] = {}
    outer: list[str] = []
    shown: list[int] = []
    columns: list[Column] = []
    kinds: list[str] = []
    for grouping in by:
        if grouping in _INNER_KEYS:
            inner.update(_INNER_KEYS[grouping])
            exprs, cols = _OUTER[grouping]
        else:
            inner[grouping] = _bucket(dialect, grouping, "e.work_date")
            exprs, cols = (f"x.{grouping}",), (Column(grouping, grouping.capitalize(), Kind.DATE),)
        start = len(outer)
        outer.extend(exprs)
        shown.extend(range(start, start + len(exprs)) if grouping == "matter" else (start + len(exprs) - 1,))
        columns.extend(cols)
        kinds.extend(grouping for _ in cols)
    joins = ""
    if "tk" in inner:
        joins += " LEFT JOIN timekeepers t2 ON t2.id = x.tk"
    if "mc" in inner:
        joins += " LEFT JOIN matters m ON m.code = x.mc LEFT JOIN clients cl ON cl.id = m.client_id"
    inner_keys = ", ".join(f"{sql} AS {alias}" for alias, sql in inner.items())
    inner_sums = ", ".join(f"sum({sql}) AS {alias}" for alias, sql in measures)
    outer_keys = ", ".join(f"{sql} AS g{i}" for i, sql in enumerate(outer))
    outer_sums = ", ".join(f"sum(x.{alias}) AS {alias}" for alias, _ in measures)
    group = ", ".join(f"g{i}" for i in range(len(outer)))
    # the rate in cents is computed once a timekeeper (a subquery on the nullable side of the join), not once an entry
    keepers = (
        "(SELECT id, office, department, rate, coalesce(CAST(round(rate * 100) AS bigint), 0) AS rate_c "
        "FROM timekeepers)"
    )
    sql = (
        f"SELECT {outer_keys}, {outer_sums} FROM (SELECT {inner_keys}, {inner_sums} "
        f"FROM entries e LEFT JOIN {keepers} t ON t.id = e.timekeeper_id WHERE 1 = 1{where.sql()} "
        f"GROUP BY {', '.join(inner)}) x{joins} GROUP BY {group} ORDER BY {group}"
    )
    return _Grouped(sql, shown, columns, kinds, len(outer))


def _work_memory(conn: Connection) -> None:
    """PostgreSQL, this transaction only: room for the report's sorts and hashes in memory, and no JIT
    compilation (it cost 100-160 ms of a year's report of 1,500,000 entries and saved less)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
        conn.execute(text("SET LOCAL jit = off"))


def _value_sql() -> str:
    """One entry's value in cents: billed hours rounded half-up to 4 places (as LEDES writes them) x the
    timekeeper's rate, rounded half-up to cents; in integers (``t.rate_c`` is the rate in cents, see
    :func:`_grouped_entries`), which PostgreSQL sums much faster than numerics and SQLite without floats."""
    hours4 = "((CAST(e.billed_units AS bigint) * e.unit_minutes * 10000 + 30) / 60)"
    return f"(({hours4} * t.rate_c + 5000) / 10000)"


def _cents(value: object) -> Decimal:
    """A sum of cents from the database (an int, or a Decimal on PostgreSQL's bigint sums) as money."""
    return (Decimal(str(value or 0)) / 100).quantize(_CENT)


def _time(engine: Engine, request: ReportRequest) -> Report:
    with engine.connect() as conn:
        _work_memory(conn)
        where = _Where()
        where.add("e.work_date >= :start AND e.work_date <= :end", start=request.start, end=request.end)
        _people(conn, where, request, "e.timekeeper_id")
        _work(where, request)
        measures = (
            ("n", "1"),
            ("raw_s", "e.raw_seconds"),
            ("billed_min", "CASE WHEN e.billable THEN e.billed_units * e.unit_minutes ELSE 0 END"),
            ("value", f"CASE WHEN e.billable THEN {_value_sql()} ELSE 0 END"),
            ("no_rate", "CASE WHEN e.billable AND t.rate IS NULL THEN 1 ELSE 0 END"),
        )
        grouped = _grouped_entries(conn.dialect.name, request.by, measures, where)
        result = conn.execute(where.clause(grouped.sql), where.params).all()
    shown, columns, kinds = grouped.shown, grouped.columns, grouped.kinds
    rows: list[tuple[Cell, ...]] = []
    no_rate = 0
    count_total, raw_total, minutes_total, value_total = 0, Decimal(0), 0, Decimal("0.00")
    for r in result:
        keys_out: list[Cell] = []
        for index, kind in zip(shown, kinds, strict=True):
            value = r[index]
            keys_out.append(_as_date(value) if kind in ("day", "week", "month") else str(value or ""))
        n, raw_s, billed_min, value = int(r.n), Decimal(str(r.raw_s or 0)), int(r.billed_min or 0), _cents(r.value)
        no_rate += int(r.no_rate or 0)
        count_total, raw_total = count_total + n, raw_total + raw_s
        minutes_total, value_total = minutes_total + billed_min, value_total + value
        rows.append((*keys_out, n, _hours_of_seconds(raw_s), _hours_of_minutes(billed_min), value))
    columns.extend(
        (
            Column("entries", "Entries", Kind.INT),
            Column("raw_hours", "Raw hours", Kind.HOURS),
            Column("billed_hours", "Billed hours", Kind.HOURS),
            Column("value", "Value", Kind.MONEY),
        )
    )
    total_cells: tuple[Cell, ...] = (
        *(None for _ in shown),
        count_total,
        _hours_of_seconds(raw_total),
        _hours_of_minutes(minutes_total),
        value_total,
    )
    notes = [
        "Approved and invoiced entries by work date. Billed hours and value count billable entries only; "
        "value is billed hours x the timekeeper's rate, each entry rounded to cents."
    ]
    if no_rate:
        notes.append(f"{no_rate:,} billable entries belong to timekeepers without a rate: valued at 0.00.")
    notes.extend(_filter_notes(request, search=False, work=True))
    return Report(
        request,
        f"Time by {', '.join(request.by)}, {request.start} to {request.end}",
        tuple(columns),
        tuple(rows),
        totals=total_cells,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------ leakage and reconciliation


def _keepers(conn: Connection) -> dict[str, tuple[str, str, str]]:
    """id -> (name, office, department) of the timekeepers this login may read."""
    return {
        str(r[0]): (str(r[1]), str(r[2] or ""), str(r[3] or ""))
        for r in conn.execute(text("SELECT id, name, office, department FROM timekeepers"))
    }


def _keeps(request: ReportRequest, tk: str, keepers: Mapping[str, tuple[str, str, str]]) -> bool:
    name, office, department = keepers.get(tk, (tk, "", ""))
    if request.timekeeper and tk not in request.timekeeper and name not in request.timekeeper:
        return False
    if request.office and office not in request.office:
        return False
    return not (request.department and department not in request.department)


def _reconcile(engine: Engine, request: ReportRequest, samples: int) -> central_reconcile.Reconciliation:
    assert request.as_of is not None
    return central_reconcile.reconcile(
        engine, request.start, request.end, as_of=request.as_of, leak_days=request.leak_days, samples=samples
    )


def _leakage(engine: Engine, request: ReportRequest) -> Report:
    result = _reconcile(engine, request, samples=0)
    with engine.connect() as conn:
        keepers = _keepers(conn)
    kept = [row for row in result.leakage if _keeps(request, row.timekeeper_id, keepers)]
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (row.name, row.unlogged_calls, row.pbx_only_calls, row.hours, row.value) for row in kept
    )
    columns = (
        Column("timekeeper", "Timekeeper"),
        Column("unlogged_calls", "Calls without time", Kind.INT),
        Column("pbx_only_calls", "Phone system only", Kind.INT),
        Column("hours", "Hours", Kind.HOURS),
        Column("value", "Estimated value", Kind.MONEY),
    )
    totals: tuple[Cell, ...] = (
        None,
        sum(row.unlogged_calls for row in kept),
        sum(row.pbx_only_calls for row in kept),
        sum((row.hours for row in kept), Decimal("0.00")),
        sum((row.value for row in kept), Decimal("0.00")),
    )
    notes = (
        f"Answered calls of {result.short_call_s} s or more without an approved entry {result.leak_days} days after "
        f"they started (as of {result.as_of:%Y-%m-%d %H:%M} UTC), and answered calls of {result.short_call_s} s or "
        "more only the phone system saw; valued at each timekeeper's rate in the firm's billing increment.",
        *_filter_notes(request, search=False, work=False),
    )
    return Report(request, f"Leakage, {request.start} to {request.end}", columns, rows, totals=totals, notes=notes)


_RECON_COLUMNS = (
    Column("outcome", "Outcome"),
    Column("calls", "Calls", Kind.INT),
    Column("value", "Value", Kind.MONEY),
    Column("timekeeper", "Timekeeper"),
    Column("started", "Started", Kind.DATETIME),
    Column("number", "Number"),
    Column("talk_s", "Talk (s)", Kind.INT),
)

_SAMPLE_LABELS = (
    ("pbx_only", "Phone system only call"),
    ("app_only", "Laptop only call"),
    ("unlogged", "Call without time"),
)


def reconciliation_report(result: central_reconcile.Reconciliation, request: ReportRequest) -> Report:
    """A :class:`~softclock.reports.central_reconcile.Reconciliation` as a report: one row per outcome with its
    count (and the leakage's value), then the calls behind the outcomes (``samples`` of each)."""
    r = result
    counts: list[tuple[str, int | None, Decimal | None]] = [
        ("PBX calls", r.pbx_calls, None),
        ("Laptop calls", r.app_calls, None),
        ("Matched", r.matched, None),
        ("Matched by Call-ID", r.matched_by_call_id, None),
        ("Matched by number and time", r.matched_by_number, None),
        ("Talk time differs", r.duration_mismatch, None),
        ("PBX only", r.pbx_only, None),
        ("PBX only, answered", r.pbx_only_answered, None),
        ("PBX only, on no timekeeper's extension", r.pbx_unmapped, None),
        ("Laptop only", r.app_only, None),
        ("Leaking calls", r.leakage_calls, None),
        ("Leakage value", None, r.leakage_value),
    ]
    rows: list[tuple[Cell, ...]] = [(name, n, v, None, None, None, None) for name, n, v in counts]
    for key, label in _SAMPLE_LABELS:
        for item in r.samples.get(key, ()):
            started = item.get("start_utc")
            talk = item.get("talk_s")
            rows.append(
                (
                    label,
                    None,
                    None,
                    str(item.get("timekeeper_id") or ""),
                    _as_datetime(started) if started is not None else None,
                    str(item.get("number") or ""),
                    int(round(float(talk))) if talk is not None else None,
                )
            )
    notes = (
        f"Starts within {r.tolerance_s} s, or the same SIP Call-ID, are the same call. Leakage: answered calls of "
        f"{r.short_call_s} s or more without an approved entry after {r.leak_days} days, and answered calls of "
        f"{r.short_call_s} s or more only the phone system saw.",
        "Below the counts, the first calls behind each outcome.",
        *_filter_notes(request, search=False, work=False),
    )
    return Report(
        request,
        f"Reconciliation with the phone system, {request.start} to {request.end}",
        _RECON_COLUMNS,
        tuple(rows),
        notes=notes,
    )


def _reconciliation(engine: Engine, request: ReportRequest) -> Report:
    if request.timekeeper or request.office or request.department:
        raise InputError(
            "The reconciliation covers every call your login may see; it takes no timekeeper, office or "
            "department filter (the leakage report does)."
        )
    return reconciliation_report(_reconcile(engine, request, samples=request.limit or 20), request)


# ------------------------------------------------------------------ unbilled

_AGES = ((0, 30, "0-30 days", "age_0_30"), (31, 60, "31-60 days", "age_31_60"), (61, 90, "61-90 days", "age_61_90"))


def _unbilled(engine: Engine, request: ReportRequest) -> Report:
    assert request.as_of is not None
    today = request.as_of.date()
    with engine.connect() as conn:
        _work_memory(conn)
        where = _Where()
        where.add(
            "e.status = 'approved' AND e.billable AND e.work_date >= :start AND e.work_date <= :end",
            start=request.start,
            end=request.end,
        )
        _people(conn, where, request, "e.timekeeper_id")
        _work(where, request)
        value = _value_sql()
        measures = [("n", "1"), ("billed_min", "e.billed_units * e.unit_minutes"), ("value", value)]
        for index, (lo, hi, _, key) in enumerate(_AGES):
            where.params[f"a{index}"] = today - timedelta(days=hi)
            where.params[f"b{index}"] = today - timedelta(days=lo)
            upper = f" AND e.work_date <= :b{index}" if index else ""  # a work date after as_of is 0-30 days old
            measures.append((key, f"CASE WHEN e.work_date >= :a{index}{upper} THEN {value} ELSE 0 END"))
        where.params["old"] = today - timedelta(days=91)
        measures.append(("age_over_90", f"CASE WHEN e.work_date <= :old THEN {value} ELSE 0 END"))
        grouped = _grouped_entries(conn.dialect.name, request.by, measures, where)
        result = conn.execute(where.clause(grouped.sql), where.params).all()
    shown, columns, width = grouped.shown, grouped.columns, grouped.keys
    rows: list[tuple[Cell, ...]] = []
    count_total, minutes_total, money_totals = 0, 0, [Decimal("0.00")] * 5
    for r in result:
        n, minutes = int(r[width]), int(r[width + 1] or 0)
        money = [_cents(x) for x in r[width + 2 : width + 7]]
        rows.append((*(str(r[i] or "") for i in shown), n, _hours_of_minutes(minutes), *money))
        count_total, minutes_total = count_total + n, minutes_total + minutes
        money_totals = [a + b for a, b in zip(money_totals, money, strict=True)]
    columns.extend(
        (
            Column("entries", "Entries", Kind.INT),
            Column("hours", "Hours", Kind.HOURS),
            Column("value", "Value", Kind.MONEY),
            *(Column(key, title, Kind.MONEY) for _, _, title, key in _AGES),
            Column("age_over_90", "Over 90 days", Kind.MONEY),
        )
    )
    totals: tuple[Cell, ...] = (
        *(None for _ in shown),
        count_total,
        _hours_of_minutes(minutes_total),
        *money_totals,
    )
    notes = (
        f"Approved, billable entries not yet invoiced, worked {request.start} to {request.end}; "
        f"aged by work date as of {today}. Value: billed hours x the timekeeper's rate.",
        *_filter_notes(request, search=False, work=True),
    )
    return Report(
        request,
        f"Unbilled time by {' and '.join(request.by)}, as of {today}",
        tuple(columns),
        tuple(rows),
        totals=totals,
        notes=notes,
    )


# ------------------------------------------------------------------ hours chart


def _hours_chart(engine: Engine, request: ReportRequest) -> Report:
    lo, hi = _bounds(request)
    with engine.connect() as conn:
        _work_memory(conn)
        d = conn.dialect.name
        _, short = central_reconcile._policy(conn)
        calls_where, entries_where = _Where(), _Where()
        calls_where.add("c.start_utc >= :lo AND c.start_utc < :hi AND c.disposition = 'answered'", lo=lo, hi=hi)
        _people(conn, calls_where, request, "c.timekeeper_id")
        entries_where.add("e.work_date >= :start AND e.work_date <= :end", start=request.start, end=request.end)
        _people(conn, entries_where, request, "e.timekeeper_id")
        approved = central_reconcile._APPROVED_LIKE
        calls_where.params["short"] = short
        week_c, week_e = _bucket(d, "week", "c.start_utc"), _bucket(d, "week", "e.work_date")
        captured = conn.execute(
            calls_where.clause(
                f"SELECT c.timekeeper_id, {week_c} AS wk, sum(c.talk_seconds), "
                f"sum(CASE WHEN c.talk_seconds >= :short AND NOT {approved} THEN c.talk_seconds ELSE 0 END) "
                f"FROM calls c LEFT JOIN timekeepers t ON t.id = c.timekeeper_id WHERE 1 = 1{calls_where.sql()} "
                f"GROUP BY c.timekeeper_id, {week_c}"
            ),
            calls_where.params,
        ).all()
        approved_rows = conn.execute(
            entries_where.clause(
                f"SELECT e.timekeeper_id, {week_e} AS wk, sum(e.raw_seconds) "
                f"FROM entries e LEFT JOIN timekeepers t ON t.id = e.timekeeper_id WHERE 1 = 1{entries_where.sql()} "
                f"GROUP BY e.timekeeper_id, {week_e}"
            ),
            entries_where.params,
        ).all()
        keepers = _keepers(conn)
    cells: dict[tuple[str, date], list[Decimal]] = {}
    for tk, wk, talk, unlogged in captured:
        acc = cells.setdefault((str(tk), _as_date(wk)), [Decimal(0)] * 3)
        acc[0] += Decimal(str(talk or 0))
        acc[2] += Decimal(str(unlogged or 0))
    for tk, wk, raw in approved_rows:
        cells.setdefault((str(tk), _as_date(wk)), [Decimal(0)] * 3)[1] += Decimal(str(raw or 0))

    def name(tk: str) -> str:
        return keepers.get(tk, (tk, "", ""))[0]

    order = sorted(cells, key=lambda k: (name(k[0]), k[0], k[1]))
    hours = [[_hours_of_seconds(s) for s in cells[key]] for key in order]
    rows: tuple[tuple[Cell, ...], ...] = tuple((name(tk), wk, *h) for (tk, wk), h in zip(order, hours, strict=True))
    totals: tuple[Cell, ...] = (None, None, *(sum((h[i] for h in hours), Decimal("0.00")) for i in range(3)))
    chart = BarChart(
        "Captured, approved and unlogged hours",
        tuple(f"{name(tk)}, week of {wk:%Y-%m-%d}" for tk, wk in order),
        tuple(
            Series(title, tuple(float(h[i]) for h in hours))
            for i, title in enumerate(("Captured", "Approved", "Unlogged"))
        ),
    )
    columns = (
        Column("timekeeper", "Timekeeper"),
        Column("week", "Week", Kind.DATE),
        Column("captured_hours", "Captured hours", Kind.HOURS),
        Column("approved_hours", "Approved hours", Kind.HOURS),
        Column("unlogged_hours", "Unlogged hours", Kind.HOURS),
    )
    notes = (
        "Captured: talk time of answered calls. Approved: raw time of approved entries by work date. "
        f"Unlogged: talk time of answered calls of {short} s or more without an approved entry. "
        "Weeks start on Monday.",
        *_filter_notes(request, search=False, work=False),
    )
    return Report(
        request,
        f"Captured, approved and unlogged hours by timekeeper and week, {request.start} to {request.end}",
        columns,
        rows,
        totals=totals,
        chart=chart,
        notes=notes,
    )


_RUNNERS: dict[str, Callable[[Engine, ReportRequest], Report]] = {
    "calls": _calls,
    "time": _time,
    "leakage": _leakage,
    "unbilled": _unbilled,
    "reconciliation": _reconciliation,
    "hours-chart": _hours_chart,
}
