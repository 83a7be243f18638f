"""A report as the command line prints it: an aligned text table (:func:`table_text`) or JSON (:func:`report_json`).

No database, no Qt. Cells read as :func:`softclock.reports.cells.cell_text` shows them (hours and
money to two places, counts with separators, times in local time); text from the network or the
store passes :func:`softclock.textsafe.printable`, so no control character reaches a terminal.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal

from softclock.reports.cells import NUMERIC, cell_text, filters_text, period_text, totals_cells
from softclock.reports.model import Cell, Kind, Report
from softclock.textsafe import printable

MAX_WIDTH = 60  # a text cell wider than this is cut with an ellipsis in the table


def _cut(text: str) -> str:
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"


def table_text(report: Report) -> str:
    """Title, period and filters, the table (numbers right-aligned, a totals row), then the notes."""
    kinds = [c.kind for c in report.columns]
    lines_in: list[list[str]] = [[printable(c.title) for c in report.columns]]
    for row in report.rows:
        lines_in.append([_cut(printable(cell_text(k, v))) for k, v in zip(kinds, row, strict=False)])
    if report.totals is not None:
        lines_in.append([printable(cell_text(k, v)) for k, v in zip(kinds, totals_cells(report), strict=False)])
    widths = [max(len(line[i]) for line in lines_in if i < len(line)) for i in range(len(kinds))]

    def line(cells: list[str]) -> str:
        out = []
        for i, text in enumerate(cells):
            out.append(text.rjust(widths[i]) if kinds[i] in NUMERIC else text.ljust(widths[i]))
        return "  ".join(out).rstrip()

    head = [printable(report.title), period_text(report)]
    filters = filters_text(report)
    if filters:
        head.append(printable(filters))
    body = [line(lines_in[0]), "  ".join("-" * w for w in widths)]
    body.extend(line(cells) for cells in lines_in[1 : len(report.rows) + 1])
    if report.totals is not None:
        body.append("  ".join("-" * w for w in widths))
        body.append(line(lines_in[-1]))
    if not report.rows:
        body.append("(nothing in this period)")
    tail = [printable(n) for n in report.notes]
    if report.truncated:
        tail.append(f"More rows than the {len(report.rows):,} shown: raise --limit or narrow the report.")
    return "\n".join([*head, "", *body, *([""] + tail if tail else [])]) + "\n"


def _json_value(kind: Kind, value: Cell) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + ("" if value.tzinfo else "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def report_json(report: Report) -> str:
    """The report as JSON: its request, title, columns, rows as objects keyed by column, totals, notes,
    chart. Money and hours are strings of decimals (never floats); times UTC ISO 8601."""
    keys = [c.key for c in report.columns]
    kinds = [c.kind for c in report.columns]

    def obj(row: tuple[Cell, ...]) -> dict[str, object]:
        return {k: _json_value(kind, v) for k, kind, v in zip(keys, kinds, row, strict=False)}

    request = {
        key: (value.isoformat() if isinstance(value, (date, datetime)) else value)
        for key, value in asdict(report.request).items()
    }
    data = {
        "report": report.request.name,
        "title": report.title,
        "request": request,
        "columns": [{"key": c.key, "title": c.title, "kind": str(c.kind)} for c in report.columns],
        "rows": [obj(row) for row in report.rows],
        "totals": obj(report.totals) if report.totals is not None else None,
        "truncated": report.truncated,
        "notes": list(report.notes),
        "chart": asdict(report.chart) if report.chart is not None else None,
    }
    return json.dumps(data, indent=2, ensure_ascii=False)
