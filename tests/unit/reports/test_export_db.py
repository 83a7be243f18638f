"""`softclock export csv|ledes` against a real SQLite central store: the entries chosen, the LEDES lines
as the published format spells them (built here by hand), --mark-invoiced in the same transaction,
and --check naming each problem by line."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from softclock.cli.main import main
from softclock.reports import central_export as ce
from softclock.reports import ledes
from softclock.sync import admin
from softclock.sync.central import CentralEntry
from tests.helpers.central_seed import entry_row, insert_entries

START = date.today() - timedelta(days=40)
END = START + timedelta(days=30)
D1, D2 = START + timedelta(days=3), START + timedelta(days=5)


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine = create_engine(url)
    admin.init_store(engine)
    admin.add_timekeeper(engine, admin.NewTimekeeper("alice", "Smith, Alice", rate=300.0, classification="pt"), None)
    admin.add_timekeeper(engine, admin.NewTimekeeper("bob", "Jones, Bob", rate=250.5, classification="AS"), None)
    admin.import_matters(engine, "code,name,client\nM-1,Lease,Acme\nM-2,Audit,Globex\n")
    ce.set_law_firm_id(engine, "12-3456789")
    with engine.begin() as conn:
        insert_entries(
            conn,
            [
                entry_row("e-a1", "alice", "M-1", D1, 3, narrative="Call re lease | terms", task="L120"),
                entry_row("e-b1", "bob", "M-1", D2, 5, narrative="", direction="incoming"),
                entry_row("e-a2", "alice", "M-2", D2, 2, narrative="Audit call"),
                entry_row("e-a3", "alice", "M-2", D2, 4, billable=False, narrative="Courtesy call"),
                entry_row("e-a4", "alice", "M-1", D1, 9, status="invoiced"),
                entry_row("e-a5", "alice", "M-1", END + timedelta(days=1), 7),
                entry_row("e-a6", "alice", None, D1, 1, client_name="Walk-in"),
            ],
        )
    yield engine, url
    engine.dispose()


def _statuses(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return dict(conn.execute(select(CentralEntry.id, CentralEntry.status)).all())  # type: ignore[arg-type]


def test_ledes_lines_are_the_published_format_built_by_hand(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    out = tmp_path / "inv.txt"
    invoice_day = END + timedelta(days=2)
    request = ce.ExportRequest(
        START, END, invoice_numbers={"Acme:M-1": "INV-1001"}, invoice_prefix="P", invoice_date=invoice_day
    )
    result = ce.export_ledes(engine, request, out)
    assert (result.entries, result.invoices, result.total, result.marked) == (3, 2, Decimal("275.25"), 0)
    assert result.left_out == ("1 entries without a matter (not invoiceable; give them a matter first)",
                               "1 non-billable entries")  # fmt: skip
    inv, s, e = _ymd(invoice_day), _ymd(START), _ymd(END)
    expected = [
        "LEDES1998B[]",
        "INVOICE_DATE|INVOICE_NUMBER|CLIENT_ID|LAW_FIRM_MATTER_ID|INVOICE_TOTAL|BILLING_START_DATE|BILLING_END_DATE|"
        "INVOICE_DESCRIPTION|LINE_ITEM_NUMBER|EXP/FEE/INV_ADJ_TYPE|LINE_ITEM_NUMBER_OF_UNITS|"
        "LINE_ITEM_ADJUSTMENT_AMOUNT|LINE_ITEM_TOTAL|LINE_ITEM_DATE|LINE_ITEM_TASK_CODE|LINE_ITEM_EXPENSE_CODE|"
        "LINE_ITEM_ACTIVITY_CODE|TIMEKEEPER_ID|LINE_ITEM_DESCRIPTION|LAW_FIRM_ID|LINE_ITEM_UNIT_COST|TIMEKEEPER_NAME|"
        "TIMEKEEPER_CLASSIFICATION|CLIENT_MATTER_ID[]",
        # 3 units of 6 min = 0.30 h x 300.00 = 90.00; 5 units = 0.50 h x 250.50 = 125.25; total 215.25
        f"{inv}|INV-1001|Acme|M-1|215.25|{s}|{e}||e-a1|F|0.30|0.00|90.00|{_ymd(D1)}|L120||A106|alice|"
        "Call re lease / terms|12-3456789|300.00|Smith, Alice|PT|[]",
        f"{inv}|INV-1001|Acme|M-1|215.25|{s}|{e}||e-b1|F|0.50|0.00|125.25|{_ymd(D2)}|||A106|bob|"
        "Telephone call (incoming)|12-3456789|250.50|Jones, Bob|AS|[]",
        # 2 units = 0.20 h x 300.00 = 60.00; numbered by the prefix
        f"{inv}|P-M-2|Globex|M-2|60.00|{s}|{e}||e-a2|F|0.20|0.00|60.00|{_ymd(D2)}|||A106|alice|"
        "Audit call|12-3456789|300.00|Smith, Alice|PT|[]",
    ]
    assert out.read_bytes() == ("\r\n".join(expected) + "\r\n").encode()
    assert ledes.check(out.read_text()) == []
    assert main(["export", "ledes", "--check", str(out)]) == 0
    assert _statuses(engine)["e-a1"] == "approved"  # not asked to mark


def test_mark_invoiced_in_the_same_transaction_and_a_second_export_has_nothing(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, url = store
    out = tmp_path / "inv.txt"
    argv = ["export", "ledes", "--url", url, "--from", START.isoformat(), "--to", END.isoformat()]
    assert main([*argv, "--output", str(out), "--invoice-prefix", "X", "--mark-invoiced"]) == 0
    statuses = _statuses(engine)
    assert [statuses[i] for i in ("e-a1", "e-b1", "e-a2")] == ["invoiced"] * 3
    assert [statuses[i] for i in ("e-a3", "e-a5", "e-a6")] == ["approved"] * 3  # not in the file: not marked
    assert main(["export", "ledes", "--check", str(out)]) == 0
    again = tmp_path / "again.txt"
    assert main([*argv, "--output", str(again), "--invoice-prefix", "X", "--mark-invoiced"]) == 2
    assert not again.exists()


def test_a_failed_export_marks_nothing_and_writes_nothing(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    out = tmp_path / "inv.txt"
    with pytest.raises(ce.ExportError, match="no invoice number for matter M-2 of client Globex"):
        ce.export_ledes(
            engine,
            ce.ExportRequest(START, END, invoice_numbers={"M-1": "A1"}, mark_invoiced=True),
            out,
        )
    assert not out.exists() and list(tmp_path.glob(".inv.txt*")) == []
    assert set(_statuses(engine).values()) == {"approved", "invoiced"} and _statuses(engine)["e-a1"] == "approved"
    admin.set_timekeeper(engine, "bob", classification="")
    with pytest.raises(ce.ExportError, match="without a LEDES classification: bob"):
        ce.export_ledes(engine, ce.ExportRequest(START, END, invoice_prefix="X", mark_invoiced=True), out)
    assert _statuses(engine)["e-a1"] == "approved" and not out.exists()


def test_client_filter_and_csv_export(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, url = store
    out = tmp_path / "time.csv"
    argv = ["export", "csv", "--url", url, "--from", START.isoformat(), "--to", END.isoformat(), "--client", "Acme"]
    assert main([*argv, "--output", str(out), "--mark-invoiced"]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["entry_id"], r["client_id"], r["matter_id"], r["hours"], r["rate"], r["value"]) for r in rows] == [
        ("e-a1", "Acme", "M-1", "0.30", "300.00", "90.00"),
        ("e-b1", "Acme", "M-1", "0.50", "250.50", "125.25"),
    ]
    assert _statuses(engine)["e-a1"] == "invoiced" and _statuses(engine)["e-a2"] == "approved"
    with pytest.raises(ce.ExportError, match="no client 'Nobody'"):
        ce.export_csv(engine, ce.ExportRequest(START, END, clients=("Nobody",)), out)


def test_check_names_each_problem_by_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.txt"
    good_line = (
        "20260101|INV-1|Acme|M-1|90.00|20251201|20251231||1|F|0.30|0.00|90.00|20251215|||A106|alice|"
        "Call|12-3456789|300.00|Smith, Alice|PT|[]"
    )
    broken = good_line.replace("|90.00|20251215", "|91.00|20251215")  # line total != units x cost
    bad.write_text(
        "LEDES1998B[]\r\n" + ledes.HEADER_LINE + "\r\n" + good_line + "\r\n" + broken.replace("|1|F", "|2|F")
    )
    assert main(["export", "ledes", "--check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: line 4: " in out and "LINE_ITEM_TOTAL" in out
    assert f"{bad}: line 3: INVOICE_TOTAL 90.00 of invoice INV-1 is not the sum" in out


def test_set_firm_and_timekeeper_from_the_command_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["admin", "init-store", url]) == 0
    assert main(["admin", "--url", url, "set-firm", "--law-firm-id", "99-1"]) == 0
    assert main(["admin", "--url", url, "add-timekeeper", "carol", "--name", "C", "--classification", "la",
                 "--extension", "201"]) == 0  # fmt: skip
    assert main(["admin", "--url", url, "add-timekeeper", "dave", "--name", "D", "--extension", "201"]) == 2
    assert main(["admin", "--url", url, "set-timekeeper", "carol", "--rate", "120", "--extension", "202"]) == 0
    engine = create_engine(url)
    with engine.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("SELECT classification, extension, rate FROM timekeepers")).one() == ("LA", "202", 120)
        assert ce.law_firm_id(conn) == "99-1"
    engine.dispose()
    assert main(["admin", "--url", url, "set-firm", "--law-firm-id", "a|b"]) == 2
