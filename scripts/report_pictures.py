"""The README's pictures of reports: the Reports window with the hours chart, and a page of its PDF.

The real Reports window and PDF writer over a report built here (three timekeepers,
four weeks of captured, approved and unlogged hours: made-up figures, shaped as the
central store's hours-chart report returns them), so no database is needed. The
window is grabbed under Xvfb when it is installed (started on a free display when
there is no ``DISPLAY``), else on Qt's offscreen platform; the PDF's first page is
rendered with ``pdftoppm`` (poppler-utils).

    .venv/bin/python scripts/report_pictures.py [--out docs/images] [--platform auto|xcb|offscreen]

Writes reports-window.png and report-pdf.png (each kept under 150 KB).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshots import _save, _wait, choose_platform  # noqa: E402 (after the path)

from softclock.reports.model import BarChart, Column, Kind, Report, ReportRequest, Series  # noqa: E402

START = date(2026, 11, 2)  # a Monday
WEEKS = 4
PEOPLE = ("Alice Smith", "Ben Okafor", "Cara Lindqvist")
# Captured hours a week for each person, and the share approved: made up, shaped like a month at a firm.
CAPTURED = ((9.4, 11.2, 8.1, 12.6), (6.2, 7.9, 5.5, 8.8), (4.1, 3.6, 5.2, 4.4))
APPROVED = ((0.95, 0.9, 0.97, 0.62), (0.88, 0.92, 0.8, 0.55), (0.9, 1.0, 0.85, 0.4))


def hours_report() -> Report:
    """Captured, approved and unlogged hours per timekeeper per week, with the chart, in the columns, chart
    and words of ``central_reports``' hours-chart report."""
    end = START + timedelta(days=7 * WEEKS - 1)
    request = ReportRequest("hours-chart", START, end, by=("timekeeper", "week"))
    two = Decimal("0.01")
    rows: list[tuple[Any, ...]] = []
    for name, hours, shares in zip(PEOPLE, CAPTURED, APPROVED, strict=True):
        for week, (h, share) in enumerate(zip(hours, shares, strict=True)):
            got = Decimal(str(h)).quantize(two)
            ok = (got * Decimal(str(share))).quantize(two)
            rows.append((name, START + timedelta(days=7 * week), got, ok, got - ok))
    totals = (None, None, *(sum((r[i] for r in rows), Decimal("0.00")) for i in range(2, 5)))
    series = tuple(
        Series(title, tuple(float(r[i]) for r in rows))
        for i, title in ((2, "Captured"), (3, "Approved"), (4, "Unlogged"))
    )
    return Report(
        request,
        f"Captured, approved and unlogged hours by timekeeper and week, {START} to {end}",
        (
            Column("timekeeper", "Timekeeper"),
            Column("week", "Week", Kind.DATE),
            Column("captured_hours", "Captured hours", Kind.HOURS),
            Column("approved_hours", "Approved hours", Kind.HOURS),
            Column("unlogged_hours", "Unlogged hours", Kind.HOURS),
        ),
        tuple(rows),
        totals=totals,
        chart=BarChart(
            "Captured, approved and unlogged hours",
            tuple(f"{r[0]}, week of {r[1]:%Y-%m-%d}" for r in rows),
            series,
        ),
        notes=(
            "Captured: talk time of answered calls. Approved: raw time of approved entries by work date. "
            "Unlogged: talk time of answered calls of 30 s or more without an approved entry. Weeks start on Monday.",
        ),
    )


class _Backend:
    def run(self, request: ReportRequest) -> Report:
        return hours_report()

    def save_pdf(self, report: Report, path: str | Path) -> None:
        raise NotImplementedError

    def save_csv(self, report: Report, path: str | Path) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


def take(out: Path) -> dict[str, int]:
    from PySide6.QtCore import QDate
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from softclock.reports.pdf import write_pdf
    from softclock.ui.reports_window import ReportsWindow

    app = QApplication.instance() or QApplication(["softclock"])
    window = ReportsWindow(_Backend(), today=START + timedelta(days=7 * WEEKS + 2))
    window.resize(980, 860)
    window.select_report("hours-chart")
    window.from_edit.setDate(QDate(START.year, START.month, START.day))
    end = START + timedelta(days=7 * WEEKS - 1)
    window.to_edit.setDate(QDate(end.year, end.month, end.day))
    window.by_combo.setCurrentIndex(window.by_combo.findData("timekeeper"))
    window.then_combo.setCurrentIndex(window.then_combo.findData("week"))
    window.show()
    shown: list[Report] = []
    window.report_shown.connect(shown.append)
    window.run_report()
    _wait(lambda: bool(shown), "the report")
    _wait(lambda: window.chart_view.height() > 150, "the chart's room")
    room = sum(window.splitter.sizes())
    window.splitter.setSizes([room * 9 // 20, room - room * 9 // 20])
    _wait(lambda: window.chart_view.height() >= (room - room * 9 // 20) - 2, "the chart's room")
    sizes = {"reports-window.png": _save(window.grab().toImage(), out / "reports-window.png")}

    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise SystemExit("report_pictures: pdftoppm not found (apt: poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="softclock-pdf-") as tmp:
        pdf = Path(tmp) / "report.pdf"
        write_pdf(hours_report(), pdf)
        subprocess.run(
            [pdftoppm, "-r", "70", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(Path(tmp) / "page")],
            check=True,
        )
        page = QImage(str(Path(tmp) / "page.png"))
        sizes["report-pdf.png"] = _save(page, out / "report-pdf.png")
    window.close()
    app.processEvents()
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    parser.add_argument("--platform", choices=("auto", "xcb", "offscreen"), default="auto")
    args = parser.parse_args(argv)
    platform, xvfb = choose_platform(args.platform, "report_pictures")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        sizes = take(args.out)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)
    for name, size in sizes.items():
        print(f"{args.out / name}: {size // 1024} KB ({platform})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
