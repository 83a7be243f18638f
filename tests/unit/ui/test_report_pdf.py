"""Reports as PDF, read back with pdftotext: title, period, right-aligned two-place numbers, totals,
notes, the chart's text, page numbers and the header again on every page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from softclock.errors import UserError
from softclock.reports.pdf import write_pdf
from tests.helpers.reports import pdf_text, time_report


def test_one_page_report_with_its_table_totals_notes_and_chart(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "time.pdf"
    write_pdf(time_report(3, chart=True), out)
    text = pdf_text(out)
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0].strip() == "Time by timekeeper and week"
    assert "1 November 2026 to 30 November 2026" in text
    assert "By timekeeper, week" in text
    assert re.search(r"Timekeeper\s+Week\s+Calls\s+Raw hours\s+Value", text)
    row = next(line for line in lines if "Timekeeper 0002" in line)
    assert row.split()[-3:] == ["1,002", "2.13", "2,000.50"]  # 2.125 rounds half up; money two places
    total = next(line for line in lines if line.strip().startswith("Total"))
    assert total.split()[-3:] == ["3,003", "3.38", "3,001.50"]
    # Right-aligned: the numbers of a column end where its title ends.
    header = next(line for line in lines if "Raw hours" in line)
    assert abs(row.index("2,000.50") + len("2,000.50") - (header.index("Value") + len("Value"))) <= 1
    assert "Rates from the timekeepers." in text
    assert "Captured, approved and unlogged hours" in text and "Unlogged" in text
    assert re.search(r"^8 ?h$", text, re.M)  # the top tick, in hours
    assert "Page 1 of 1" in text


def test_a_long_table_goes_on_over_pages_with_its_header_and_page_numbers(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "long.pdf"
    write_pdf(time_report(400), out)
    pages = pdf_text(out).split("\f")[:-1]  # pdftotext ends each page with a form feed
    assert len(pages) >= 5
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert re.search(r"Timekeeper\s+Week\s+Calls\s+Raw hours\s+Value", page), number
    rows = [m for page in pages for m in re.findall(r"Timekeeper (\d{4})", page)]
    assert rows == [f"{i:04d}" for i in range(400)]  # each row once, in order, none cut off
    assert "Total" in pages[-1] and "Time by timekeeper and week" in pages[0]


def test_an_empty_report_says_so(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "empty.pdf"
    write_pdf(time_report(0), out)
    assert "No rows for this period." in pdf_text(out)


def test_a_path_that_cannot_be_written_is_a_sentence(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError, match="could not be written"):
        write_pdf(time_report(1), tmp_path / "no-such-folder" / "r.pdf")


def test_the_command_line_writes_a_pdf_without_a_display_or_an_application(tmp_path: Path) -> None:
    """No QGuiApplication and no QT_QPA_PLATFORM (as `softclock report --format pdf` runs): one is made offscreen."""
    out = tmp_path / "cli.pdf"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    probe = (
        "import sys; from tests.helpers.reports import time_report; from softclock.reports.pdf import write_pdf; "
        "write_pdf(time_report(2, chart=True), sys.argv[1])"
    )
    subprocess.run(
        [sys.executable, "-c", probe, str(out)], check=True, env=env, timeout=60, cwd=Path(__file__).parents[3]
    )
    assert "Timekeeper 0001" in pdf_text(out)
