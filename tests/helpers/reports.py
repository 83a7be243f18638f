"""Reports built by hand (as the central-store queries would return them) and the text of a PDF."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

from softclock.reports.model import BarChart, Column, Kind, Report, ReportRequest, Series
from tests.helpers.procs import missing_tool

START, END = date(2026, 11, 1), date(2026, 11, 30)


def time_report(rows: int = 3, *, chart: bool = False, request: ReportRequest | None = None) -> Report:
    """Time by timekeeper: text, a date, an int and hours and money, with totals and a note."""
    columns = (
        Column("timekeeper", "Timekeeper"),
        Column("week", "Week", Kind.DATE),
        Column("calls", "Calls", Kind.INT),
        Column("raw_hours", "Raw hours", Kind.HOURS),
        Column("value", "Value", Kind.MONEY),
    )
    body = tuple(
        (
            f"Timekeeper {i:04d}",
            date(2026, 11, 2),
            1000 + i,
            Decimal(i) + Decimal("0.125"),
            Decimal(i * 1000) + Decimal("0.5"),
        )
        for i in range(rows)
    )
    totals = (
        None,
        None,
        sum(1000 + i for i in range(rows)),
        sum((r[3] for r in body), Decimal(0)),
        sum((r[4] for r in body), Decimal(0)),
    )
    return Report(
        request or ReportRequest("time", START, END, by=("timekeeper", "week")),
        "Time by timekeeper and week",
        columns,
        body,
        totals=totals,
        chart=hours_chart() if chart else None,
        notes=("Rates from the timekeepers.",),
    )


def hours_chart(
    values: tuple[tuple[float, ...], ...] = ((8.0, 4.0, 2.0), (6.0, 3.0, 1.0), (2.0, 1.0, 0.5)),
) -> BarChart:
    names = ("Captured", "Approved", "Unlogged")
    categories = tuple(f"Smith, week {i + 1}" for i in range(len(values[0])))
    return BarChart(
        "Captured, approved and unlogged hours",
        categories,
        tuple(Series(n, v) for n, v in zip(names, values, strict=False)),
    )


def pdf_text(path: Path, *, layout: bool = True) -> str:
    """The text ``pdftotext`` (poppler-utils) reads from the PDF; missing pdftotext skips (fails when CI=true)."""
    tool = shutil.which("pdftotext")
    if tool is None:
        missing_tool("pdftotext not found (apt: poppler-utils)")
    args = [tool, *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
