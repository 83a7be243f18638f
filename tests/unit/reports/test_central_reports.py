"""The report queries on an SQLite central store (the same hand-worked figures as tests/e2e/test_reports_pg.py),
the command line's formats, and the pure parts: request checks, LIKE patterns, number searches, the text table,
JSON and the reconciliation as a report."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal as Dec
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from softclock.cli.main import main
from softclock.errors import InputError
from softclock.reports import central_reports as cr
from softclock.reports.central_reconcile import LeakRow, Reconciliation
from softclock.reports.model import ReportRequest
from softclock.reports.report_text import report_json, table_text
from softclock.sync import admin
from tests.helpers.report_seed import AS_OF, N2, T0, seed
from tests.helpers.reports import time_report

YEAR = (date(2025, 12, 1), AS_OF.date())


def ask(name: str, start: date = YEAR[0], end: date = YEAR[1], **kw: object) -> ReportRequest:
    return ReportRequest(name, start, end, **{"as_of": AS_OF, **kw})  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine = create_engine(url)
    admin.init_store(engine)
    seed(engine, "ann", "bo", password=None)
    yield engine, url
    engine.dispose()


def test_the_queries_on_sqlite_give_the_postgresql_figures(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    z = Dec("0.00")
    assert cr.run_report(engine, ask("time")).rows == (
        ("Ann", 4, Dec("1.90"), Dec("1.60"), Dec("480.00")),
        ("Bo", 3, Dec("2.90"), Dec("2.90"), Dec("580.00")),
    )
    weeks = cr.run_report(engine, ask("time", by=("department", "week"), department=("Tax",)))
    assert [row[:2] for row in weeks.rows] == [
        ("Tax", date(2025, 12, 22)),
        ("Tax", date(2026, 1, 19)),
        ("Tax", date(2026, 3, 23)),
    ]
    unbilled = cr.run_report(engine, ask("unbilled"))
    assert unbilled.rows[3] == ("Beta plc", "B-1", "Beta tax", 2, Dec("2.20"), Dec("440.00"), z, z, Dec("40.00"), Dec("400.00"))  # fmt: skip
    calls = cr.run_report(engine, ask("calls", T0.date(), AS_OF.date(), search="7946 0002"))
    assert [row[3] for row in calls.rows] == [N2]
    smith = cr.run_report(engine, ask("calls", T0.date(), AS_OF.date(), search="smith"))
    assert [row[0] for row in smith.rows] == ["Ann", "Bo"]
    chart = cr.run_report(engine, ask("hours-chart", date(2026, 3, 1), AS_OF.date()))
    assert chart.rows[2] == ("Ann", date(2026, 3, 9), Dec("0.62"), z, Dec("0.12"))
    assert cr.run_report(engine, ask("leakage")).rows == (("Ann", 2, 1, Dec("0.30"), Dec("90.00")),)


def test_requests_are_checked_with_sentences() -> None:
    assert cr.check_request(ask("time")).by == ("timekeeper",)
    assert cr.check_request(ask("unbilled", by=("matter",))).by == ("matter",)
    assert cr.check_request(ask("time", by=("week", "week", "client"))).by == ("week", "client")
    with pytest.raises(InputError, match="Cannot group by 'year': choose from timekeeper, department"):
        cr.check_request(ask("time", by=("year",)))
    with pytest.raises(InputError, match="leakage report cannot be grouped by week: it groups by timekeeper only"):
        cr.check_request(ask("leakage", by=("week",)))
    with pytest.raises(InputError, match="row limit must be 1 or more"):
        cr.check_request(ask("calls", limit=0))
    with pytest.raises(InputError, match="starts .2026-04-01. after it ends .2026-03-01."):
        cr.check_request(ask("time", date(2026, 4, 1), date(2026, 3, 1)))
    assert set(cr.REPORTS) == {"calls", "time", "leakage", "unbilled", "reconciliation", "hours-chart"}


def test_search_patterns() -> None:
    assert cr.like_pattern("100%_a\\b") == "%100\\%\\_a\\\\b%"
    assert cr.number_digits("+44 (20) 7946-0958") == "442079460958"
    assert cr.number_digits("smith") == cr.number_digits("12") == ""


def test_text_table_and_json() -> None:
    report = time_report(2)
    text = table_text(report)
    lines = text.splitlines()
    assert lines[0] == "Time by timekeeper and week" and lines[1] == "1 November 2026 to 30 November 2026"
    header = next(line for line in lines if line.startswith("Timekeeper"))
    assert header.split() == ["Timekeeper", "Week", "Calls", "Raw", "hours", "Value"]
    row = next(line for line in lines if line.startswith("Timekeeper 0001"))
    assert (
        row.split()[-1] == "1,000.50"
        and lines[-3].split()[-1] == "1,001.00"
        and "Total" in text
        and "Rates from the timekeepers." in text
    )
    data = json.loads(report_json(report))
    assert data["rows"][1] == {
        "timekeeper": "Timekeeper 0001",
        "week": "2026-11-02",
        "calls": 1001,
        "raw_hours": "1.125",
        "value": "1000.5",
    }
    assert data["request"]["start"] == "2026-11-01" and data["totals"]["calls"] == 2001


def test_the_reconciliation_as_a_report() -> None:
    r = Reconciliation(date(2026, 1, 1), date(2026, 1, 31), AS_OF, 120, 30, 7, pbx_calls=7, app_calls=6, matched=4)
    r.leakage_value = Dec("120.00")
    r.leakage = [LeakRow("ann", "Ann", 2, 1, Dec("0.40"), Dec("120.00"))]
    r.samples = {
        "pbx_only": [{"pbx_call": 3, "timekeeper_id": "ann", "start_utc": AS_OF, "number": "+1", "talk_s": 600}]
    }
    report = cr.reconciliation_report(r, ask("reconciliation"))
    assert report.rows[0][:3] == ("PBX calls", 7, None) and ("Leakage value", None, Dec("120.00")) in [
        row[:3] for row in report.rows
    ]
    assert report.rows[-1] == ("Phone system only call", None, None, "ann", AS_OF, "+1", 600)


def test_the_command_line(store, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, url = store
    base = ["report", "time", "--url", url, "--from", "2025-12-01", "--to", "2026-04-01"]
    assert main([*base, "--by", "office,month"]) == 0
    out = capsys.readouterr().out
    assert "Time by office, month" in out and "London" in out and "1,060.00" in out
    assert main([*base, "--format", "csv", "--output", str(tmp_path / "t.csv")]) == 0
    assert capsys.readouterr().out == f"Wrote {tmp_path / 't.csv'}\n"
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timekeeper", "entries", "raw_hours", "billed_hours", "value"]
    assert rows[1:] == [["Ann", "4", "1.90", "1.60", "480.00"], ["Bo", "3", "2.90", "2.90", "580.00"], ["Total", "7", "4.80", "4.50", "1060.00"]]  # fmt: skip
    assert (tmp_path / "t.csv").read_bytes().count(b"\r\n") == 4
    argv = ["report", "unbilled", "--url", url, "--from", "2025-12-01", "--to", "2026-04-01", "--as-of", "2026-04-01"]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["age_over_90"] == "400.00" and data["rows"][0]["age_0_30"] == "30.00"
    calls = ["report", "calls", "--url", url, "--from", str(T0.date()), "--to", "2026-04-01"]
    assert main([*calls, "--search", "=cmd", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("timekeeper,started,")
    assert main([*calls, "--limit", "2"]) == 0
    assert "More rows than the 2 shown" in capsys.readouterr().out


def test_bad_command_lines_are_sentences(store, capsys) -> None:  # type: ignore[no-untyped-def]
    _, url = store
    base = ["report", "time", "--url", url, "--from", "2026-01-01", "--to", "2026-01-31"]
    assert main([*base, "--by", "year"]) != 0
    assert "Cannot group by 'year'" in capsys.readouterr().err
    assert main([*base, "--format", "pdf"]) != 0
    assert "--format pdf writes a file: give --output FILE.pdf" in capsys.readouterr().err
    assert main(["report", "time", "--url", url, "--from", "2026-02-30"]) != 0
    assert "--from '2026-02-30' is not a date" in capsys.readouterr().err
    assert main(["report", "leakage", "--url", url, "--as-of", "soon"]) != 0
    assert "--as-of 'soon' is not a date" in capsys.readouterr().err
    assert main(["report", "calls", "--url", url, "--limit", "0"]) != 0
    assert "--limit must be 1 or more" in capsys.readouterr().err


def test_pdf_without_the_writer_says_so(store, capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    _, url = store
    monkeypatch.setitem(sys.modules, "softclock.reports.pdf", None)  # an installation without the PDF writer
    argv = ["report", "time", "--url", url, "--format", "pdf", "--output", str(tmp_path / "t.pdf")]
    assert main(argv) != 0
    assert "PDF reports are not available in this installation" in capsys.readouterr().err
    assert not (tmp_path / "t.pdf").exists()


def test_a_pdf_of_the_hours_chart(store, capsys, tmp_path: Path, qapp) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers.reports import pdf_text

    _, url = store  # qapp: the QApplication the PDF writer draws in (else it makes a QGuiApplication of its own)
    out = tmp_path / "hours.pdf"
    argv = ["report", "hours-chart", "--url", url, "--from", "2026-03-01", "--to", "2026-04-01", "--format", "pdf"]
    assert main([*argv, "--output", str(out)]) == 0
    assert capsys.readouterr().out == f"Wrote {out} (6 rows)\n"
    text = pdf_text(out)
    assert "Captured, approved and unlogged hours by timekeeper and week" in text and "2026-03-09" in text


def test_value_is_rounded_per_entry_as_a_ledes_line_is(store) -> None:  # type: ignore[no-untyped-def]
    from softclock.reports.ledes import hours, money
    from tests.helpers.central_seed import entry_row, insert_entries

    engine, _ = store
    admin.add_timekeeper(engine, admin.NewTimekeeper("cy", "Cy", rate=333.33), None)
    day = AS_OF.date()
    lines = [(1, 6), (1, 6), (1, 6), (1, 10), (7, 15)]  # 33.333 x3 -> 33.33 each; 0.1667 h; 1.75 h
    with engine.begin() as conn:
        insert_entries(
            conn, [entry_row(f"cy{i}", "cy", "M-1", day, u, unit_minutes=m) for i, (u, m) in enumerate(lines)]
        )
    expected = sum((money(hours(u, m) * Dec("333.33")) for u, m in lines), Dec("0.00"))
    assert expected == Dec("33.33") * 3 + Dec("55.57") + Dec("583.33")
    report = cr.run_report(engine, ask("time", day, day, timekeeper=("cy",)))
    assert report.rows == (("Cy", 5, report.rows[0][2], Dec("2.2167"), expected),)
