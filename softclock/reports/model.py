"""What a report is, whoever draws it: plain frozen values shared by the queries
(:mod:`softclock.reports.central_reports`), the command line (table, CSV, JSON),
the PDF writer (:mod:`softclock.reports.pdf`) and the Reports window.

No database, no Qt: a query fills a :class:`Report`; a writer or a view reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

Cell = str | int | Decimal | date | datetime | None


class Kind(StrEnum):
    """How a column's cells are shown (and aligned: numbers right)."""

    TEXT = "text"
    INT = "int"
    HOURS = "hours"  # Decimal hours, two places
    MONEY = "money"  # Decimal, two places, in the firm's currency
    DATE = "date"
    DATETIME = "datetime"  # UTC; shown in local time by views


@dataclass(frozen=True)
class Column:
    key: str  # stable name for CSV/JSON headers: "timekeeper", "raw_hours"
    title: str  # what a person reads: "Timekeeper", "Raw hours"
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Series:
    name: str  # "Captured", "Approved", "Unlogged"
    values: tuple[float, ...]  # one per category


@dataclass(frozen=True)
class BarChart:
    """Grouped bars: for each category (e.g. "A. Smith, week of 2026-11-23")
    one bar per series, in ``unit`` ("hours")."""

    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = "hours"


@dataclass(frozen=True)
class ReportRequest:
    name: str  # "calls", "time", "leakage", "unbilled", "reconciliation", "hours-chart"
    start: date
    end: date  # inclusive
    by: tuple[
        str, ...
    ] = ()  # grouping: "timekeeper", "department", "office", "client", "matter", "day", "week", "month"
    timekeeper: tuple[str, ...] = ()
    office: tuple[str, ...] = ()
    department: tuple[str, ...] = ()
    client: tuple[str, ...] = ()
    matter: tuple[str, ...] = ()
    search: str = ""  # free text (number, name, narrative) for the call history
    as_of: datetime | None = None  # "now" for ageing and leakage; injected, never the wall clock in tests
    leak_days: int = 7
    limit: int | None = None  # rows, for the window's first page


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    title: str  # "Time by timekeeper, 2026-11-01 to 2026-11-30"
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    totals: tuple[Cell, ...] | None = None  # one cell per column, None where no total makes sense
    chart: BarChart | None = None
    notes: tuple[str, ...] = field(default=())  # plain sentences under the table ("Rates from the timekeepers.")
    truncated: bool = False  # more rows than request.limit
