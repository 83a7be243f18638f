"""The CSV export of time entries: expected text written out by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from softclock.reports.csv_export import COLUMNS, EntryRow, rows, save_csv, to_csv

HEADER = (
    "entry_id,date,started_utc,timekeeper_id,timekeeper_name,client_id,client_name,matter_id,matter_name,"
    "raw_seconds,billed_units,increment_min,hours,rate,value,task_code,activity_code,billable,status,narrative"
)


def entry(**changes: object) -> EntryRow:
    values: dict[str, object] = {
        "entry_id": "e-101",
        "date": date(2026, 1, 15),
        "started_utc": datetime(2026, 1, 15, 14, 0, 5, tzinfo=UTC),
        "timekeeper_id": "TK-12",
        "timekeeper_name": "Smith, Ann",
        "client_id": "ACME",
        "client_name": "Acme, Inc.",
        "matter_id": "ACME-007",
        "matter_name": "Settlement",
        "raw_seconds": 4290,
        "units": 12,
        "increment_min": 6,
        "rate": Decimal("350"),
        "narrative": "Call with client re settlement",
        "activity_code": "A106",
        "status": "approved",
    }
    values.update(changes)
    return EntryRow(**values)  # type: ignore[arg-type]


def test_header_and_rows() -> None:
    text = to_csv(
        [
            entry(),
            entry(
                entry_id="e-102",
                date=date(2026, 1, 16),
                started_utc=datetime(2026, 1, 16, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
                timekeeper_name="Jones, Bob",
                units=1,
                increment_min=10,
                rate=Decimal("225.45"),
                narrative='Voicemail: "call back", then\nemail',
                billable=False,
                activity_code="",
                status="draft",
            ),
            entry(entry_id="e-103", units=3, rate=Decimal("225.45"), narrative="", started_utc=None),
        ]
    )
    assert text.split("\r\n") == [
        HEADER,
        'e-101,2026-01-15,2026-01-15T14:00:05Z,TK-12,"Smith, Ann",ACME,"Acme, Inc.",ACME-007,Settlement,4290,12,6,'
        "1.20,350.00,420.00,,A106,yes,approved,Call with client re settlement",
        # 1 x 10 min = 0.1667 h; non-billable: value 0.00; 09:30 at UTC-5 is 14:30 UTC
        'e-102,2026-01-16,2026-01-16T14:30:00Z,TK-12,"Jones, Bob",ACME,"Acme, Inc.",ACME-007,Settlement,4290,1,10,'
        '0.1667,225.45,0.00,,,no,draft,"Voicemail: ""call back"", then\nemail"',
        # 0.30 h x 225.45 = 67.635 -> 67.64 (half up)
        'e-103,2026-01-15,,TK-12,"Smith, Ann",ACME,"Acme, Inc.",ACME-007,Settlement,4290,3,6,0.30,225.45,67.64,,'
        "A106,yes,approved,",
        "",
    ]
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(COLUMNS)
    assert parsed[2][-1] == 'Voicemail: "call back", then\nemail'


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("http://x")', "+1202555", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_run_are_neutralised(dangerous: str) -> None:
    text = to_csv([entry(narrative=dangerous, client_name=dangerous, timekeeper_id=dangerous)])
    row = next(r for i, r in enumerate(csv.reader(io.StringIO(text, newline=""))) if i == 1)
    assert row[3] == row[6] == row[-1] == "'" + dangerous
    assert row[12:15] == ["1.20", "350.00", "420.00"]  # numbers are not touched


def test_the_header_is_written_once_even_for_no_entries(tmp_path: Path) -> None:
    assert to_csv([]) == HEADER + "\r\n"
    assert list(rows([]))[0] == list(COLUMNS)
    assert save_csv(tmp_path / "none.csv", []) == 0


def test_saved_as_utf8_with_or_without_a_bom(tmp_path: Path) -> None:
    plain, excel = tmp_path / "entries.csv", tmp_path / "entries-excel.csv"
    assert save_csv(plain, [entry(client_name="Müller & Söhne")]) == 1
    assert save_csv(excel, [entry(client_name="Müller & Söhne")], bom=True) == 1
    assert plain.read_bytes().startswith(b"entry_id,")
    assert "Müller & Söhne" in plain.read_text(encoding="utf-8")
    assert excel.read_bytes().startswith(b"\xef\xbb\xbfentry_id,")
    assert excel.read_bytes()[3:] == plain.read_bytes()


def test_money_is_never_float() -> None:
    with pytest.raises(TypeError, match="rate must be a Decimal"):
        entry(rate=350.0)
    with pytest.raises(ValueError, match="aware"):
        entry(started_utc=datetime(2026, 1, 15, 14, 0))
    with pytest.raises(ValueError, match="increment_min"):
        entry(increment_min=7)
    assert entry(rate=Decimal("199.995")).value == Decimal("240.00")  # rate 200.00 (half up) x 1.20
