"""`softclock export` on a real PostgreSQL central store: billing exports and marks invoiced in one
transaction, admins export but cannot mark, a timekeeper is refused, and every LEDES file passes --check."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from softclock import secrets
from softclock.cli.main import main
from softclock.reports import central_export as ce
from softclock.reports import ledes
from softclock.sync import admin
from softclock.sync.central import CentralEntry
from softclock.sync.connect import login_of, parse_url
from tests.helpers.central_seed import entry_row, insert_entries

START = date.today() - timedelta(days=40)
END = START + timedelta(days=30)
DAY = START + timedelta(days=2)


class Firm:
    def __init__(self, pg_db) -> None:  # type: ignore[no-untyped-def]
        self.db = pg_db
        self.installer = create_engine(pg_db.superuser_url())
        admin.init_store(self.installer)
        suffix = pg_db.name.removeprefix("t_")[:12]
        self.alice, self.billing, self.admin = f"alice_{suffix}", f"billing_{suffix}", f"admin_{suffix}"
        admin.add_timekeeper(
            self.installer, admin.NewTimekeeper(self.alice, "Smith, Alice", rate=300.0, classification="PT"), "pw-a"
        )
        admin.add_staff(self.installer, self.billing, "billing", "pw-b")
        admin.add_staff(self.installer, self.admin, "admin", "pw-c")
        admin.import_matters(self.installer, "code,name,client\nM-1,Lease,Acme\nM-2,Audit,Globex\n")
        with self.installer.begin() as conn:
            insert_entries(
                conn,
                [
                    entry_row("e-1", self.alice, "M-1", DAY, 3, narrative="Lease call"),
                    entry_row("e-2", self.alice, "M-2", DAY, 10, narrative="Audit call", task="L110"),
                    entry_row("e-3", self.alice, "M-2", END + timedelta(days=3), 1),
                ],
            )

    def engine_as(self, user: str, password: str):  # type: ignore[no-untyped-def]
        return create_engine(self.db.url(user, password))

    def statuses(self) -> dict[str, str]:
        with self.installer.connect() as conn:
            return dict(conn.execute(select(CentralEntry.id, CentralEntry.status)).all())  # type: ignore[arg-type]


@pytest.fixture
def firm(pg_db):  # type: ignore[no-untyped-def]
    f = Firm(pg_db)
    yield f
    f.installer.dispose()


def test_billing_exports_ledes_and_marks_invoiced_in_one_transaction(firm: Firm, tmp_path: Path) -> None:
    admin_engine = firm.engine_as(firm.admin, "pw-c")
    ce.set_law_firm_id(admin_engine, "12-3456789")  # an admin sets the firm's id
    billing = firm.engine_as(firm.billing, "pw-b")
    out = tmp_path / "invoices.txt"
    request = ce.ExportRequest(START, END, invoice_numbers={"Acme:M-1": "2026-001", "M-2": "2026-002"},
                               mark_invoiced=True)  # fmt: skip
    result = ce.export_ledes(billing, request, out)
    assert (result.entries, result.invoices, str(result.total), result.marked) == (2, 2, "390.00", 2)
    assert ledes.check(out.read_text()) == []
    rows = out.read_bytes().decode().split("\r\n")
    assert rows[3].split("|")[:5] == [rows[3][:8], "2026-002", "Globex", "M-2", "300.00"]  # 10 units: 1.00 h x 300.00
    assert firm.statuses() == {"e-1": "invoiced", "e-2": "invoiced", "e-3": "approved"}
    with firm.installer.connect() as conn:  # the laptops learn of it by change number
        assert conn.scalar(text("SELECT min(change_seq) FROM entries WHERE status = 'invoiced'")) > 0
    # Nothing left to bill in the range; nothing written.
    with pytest.raises(ce.ExportError, match="No approved, uninvoiced entries"):
        ce.export_ledes(billing, request, tmp_path / "again.txt")
    assert not (tmp_path / "again.txt").exists()
    billing.dispose()
    admin_engine.dispose()


def test_admin_exports_without_marking_and_a_timekeeper_is_refused(firm: Firm, tmp_path: Path) -> None:
    ce.set_law_firm_id(firm.installer, "12-3456789")
    admin_engine = firm.engine_as(firm.admin, "pw-c")
    request = ce.ExportRequest(START, END, invoice_prefix="T")
    assert ce.export_csv(admin_engine, request, tmp_path / "t.csv").entries == 2
    with pytest.raises(ce.ExportError, match="needs a billing login"):
        ce.export_ledes(admin_engine, ce.ExportRequest(START, END, invoice_prefix="T", mark_invoiced=True),
                        tmp_path / "x.txt")  # fmt: skip
    admin_engine.dispose()
    alice = firm.engine_as(firm.alice, "pw-a")
    with pytest.raises(ce.ExportError, match="needs a billing or admin login"):
        ce.export_csv(alice, request, tmp_path / "a.csv")
    with alice.begin() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(text("UPDATE firm_settings SET value = 'x'"))
    alice.dispose()
    assert firm.statuses()["e-1"] == "approved" and not (tmp_path / "x.txt").exists()


def test_export_from_the_command_line_as_billing(firm: Firm, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ce.set_law_firm_id(firm.installer, "12-3456789")
    url = firm.db.url(firm.billing, None, sslmode="disable").set(query={}).render_as_string()
    secrets.set_central_password(login_of(parse_url(url)), "pw-b")
    config = tmp_path / "settings.toml"
    out = tmp_path / "inv.txt"
    argv = ["--config", str(config), "export", "ledes", "--url", url, "--from", START.isoformat(), "--to",
            END.isoformat(), "--client", "Globex", "--invoice-number", "Globex:M-2=G-7", "--output", str(out),
            "--mark-invoiced"]  # fmt: skip
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "1 entries written" in said and "1 invoices, total 300.00" in said and "1 marked invoiced" in said
    assert main(["--config", str(config), "export", "ledes", "--check", str(out)]) == 0
    assert firm.statuses() == {"e-1": "approved", "e-2": "invoiced", "e-3": "approved"}
