"""A report's cells as a person reads them (the window, the PDF) and as a spreadsheet takes them (CSV).

No Qt, no database: :func:`cell_text` and :func:`write_csv` read a
:class:`softclock.reports.model.Report`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TextIO

from softclock.reports.model import Cell, Kind, Report
from softclock.textsafe import csv_row

NUMERIC = frozenset({Kind.INT, Kind.HOURS, Kind.MONEY})
_CENT = Decimal("0.01")


def period_text(report: Report) -> str:
    """``1 November 2026 to 30 November 2026`` (both days included)."""
    start, end = report.request.start, report.request.end
    return f"{start:%-d %B %Y} to {end:%-d %B %Y}" if start != end else f"{start:%-d %B %Y}"


def filters_text(report: Report) -> str:
    """The grouping and filters the report was asked with, in a line; "" when none."""
    request = report.request
    parts = []
    if request.by:
        parts.append("By " + ", ".join(request.by))
    for label, values in (
        ("Timekeeper", request.timekeeper),
        ("Office", request.office),
        ("Department", request.department),
        ("Client", request.client),
        ("Matter", request.matter),
    ):
        if values:
            parts.append(f"{label}: {', '.join(values)}")
    if request.search:
        parts.append(f"Search: {request.search}")
    return " · ".join(parts)


def _two_places(value: Cell) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def cell_text(kind: Kind, value: Cell) -> str:
    """One cell for reading: hours and money with two places and thousands separators,
    counts with separators, dates ISO, UTC times in local time; None is empty."""
    if value is None:
        return ""
    if kind in (Kind.HOURS, Kind.MONEY) and isinstance(value, (Decimal, int, float)):
        return f"{_two_places(value):,}"
    if kind is Kind.INT and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"{moment.astimezone():%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_value(kind: Kind, value: Cell) -> object:
    """One cell for a spreadsheet: numbers plain (two places for hours and money), times in UTC ISO 8601."""
    if value is None:
        return ""
    if kind in (Kind.HOURS, Kind.MONEY) and isinstance(value, (Decimal, int, float)):
        return _two_places(value)
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_rows(report: Report) -> Iterator[list[object]]:
    """The header (column keys), the rows, then the totals row if any (its first empty cell says "Total");
    text that a spreadsheet would run as a formula is neutralised."""
    yield [column.key for column in report.columns]
    kinds = [column.kind for column in report.columns]
    for row in report.rows:
        yield csv_row(csv_value(kind, value) for kind, value in zip(kinds, row, strict=False))
    if report.totals is not None:
        yield csv_row(csv_value(kind, value) for kind, value in zip(kinds, totals_cells(report), strict=False))


def totals_cells(report: Report) -> tuple[Cell, ...]:
    """The totals row with "Total" in its first empty cell (the first column when that has a total)."""
    totals = list(report.totals or ())
    for index, value in enumerate(totals):
        if value is None or value == "":
            totals[index] = "Total"
            break
    return tuple(totals)


def write_csv(report: Report, out: TextIO) -> int:
    """Write ``report`` as RFC 4180 CSV to ``out`` (opened with ``newline=""``); the number of rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv_rows(report):
        writer.writerow(row)
    return len(report.rows)


def save_csv(report: Report, path: str | Path) -> int:
    """Write ``report`` to the CSV file at ``path`` (UTF-8); the number of rows."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        return write_csv(report, fh)
