"""The Reports window of the desktop app on a real PostgreSQL central store: Billing > Reports… opens it,
a report runs with the person's own login from the keyring (a timekeeper sees only their own calls: the
database's row-level security, not the window), and a wrong password is a sentence in the window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QDate
from sqlalchemy import Engine

from softclock import secrets
from softclock.reports import central_reconcile, service
from softclock.reports.model import Column, Kind, Report, ReportRequest
from softclock.settings import Settings, save
from softclock.sync.connect import login_of, parse_url
from softclock.ui.application import DesktopApp
from softclock.ui.reports_window import ReportsWindow
from tests.e2e.test_reconcile_pg import firm  # noqa: F401 (the fixture: Ann, Bo, billing and their calls)
from tests.helpers.reports import pdf_text
from tests.unit.reports.test_reconcile_db import AS_OF


def _reconciliation(engine: Engine, request: ReportRequest) -> Report:
    """The reconciliation as a Report (until softclock.reports.central_reports turns it into one itself)."""
    r = central_reconcile.reconcile(engine, request.start, request.end, as_of=request.as_of or AS_OF)
    rows = (
        ("PBX calls", r.pbx_calls),
        ("Laptop calls", r.app_calls),
        ("Matched", r.matched),
        ("PBX only", r.pbx_only),
        ("Laptop only", r.app_only),
        ("Leaking calls", r.leakage_calls),
    )
    return Report(
        request,
        "Reconciliation with the phone system",
        (Column("outcome", "Outcome"), Column("calls", "Calls", Kind.INT), Column("value", "Value", Kind.MONEY)),
        tuple((name, count, None) for name, count in rows) + (("Leakage value", None, r.leakage_value),),
    )


@pytest.fixture
def desktop(firm, pg_db, qtbot, tmp_path: Path, monkeypatch) -> Iterator[tuple[DesktopApp, str]]:  # type: ignore[no-untyped-def]  # noqa: F811
    names, _ = firm
    try:
        from softclock.reports import central_reports  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:  # not landed yet: the reconciliation, which exists, stands in for its queries
        monkeypatch.setattr(service, "_run_report", _reconciliation)
    settings = Settings()
    settings.sip.bind_address, settings.sip.null_audio = "127.0.0.1", True
    settings.central.url = f"postgresql://{names['ann']}@127.0.0.1:{pg_db.cluster.port}/{pg_db.name}"
    settings.central.sslmode, settings.central.sslrootcert = "verify-full", str(pg_db.cluster.ca_file)
    save(settings, tmp_path / "settings.toml")
    login = login_of(parse_url(settings.central.url))
    app = DesktopApp(tmp_path / "settings.toml", tmp_path / "data", listen=False)
    qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))  # no question at teardown
    try:
        yield app, login
    finally:
        if app.reports_window is not None:
            app.reports_window.close()
        app.shutdown()


def _open(qtbot, app: DesktopApp) -> ReportsWindow:  # type: ignore[no-untyped-def]
    app.window.reports_action.trigger()
    window = app.reports_window
    assert window is not None and window.isVisible()
    window.select_report("reconciliation")
    window.from_edit.setDate(QDate(2026, 1, 1))
    window.to_edit.setDate(QDate(2026, 1, 31))
    return window


def test_a_timekeeper_runs_a_report_on_the_central_store_and_saves_it(desktop, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, login = desktop
    secrets.set_central_password(login, "pw")
    window = _open(qtbot, app)
    with qtbot.waitSignal(window.report_shown, timeout=30000) as shown:
        window.run_button.click()
    report = shown.args[0]
    assert report.request.name == "reconciliation" and report.request.start == date(2026, 1, 1)
    cells = {window.model.index(r, 0).data(): window.model.index(r, 1).data() for r in range(window.model.rowCount())}
    # Ann's own calls only (billing would see 7 PBX and 6 laptop calls): row-level security in PostgreSQL.
    assert (cells["PBX calls"], cells["Laptop calls"], cells["Matched"]) == ("4", "4", "3")
    value = next(r for r in range(window.model.rowCount()) if window.model.index(r, 0).data() == "Leakage value")
    assert window.model.index(value, 2).data() == f"{Decimal('120.00'):,}"
    window.ask_path = lambda *_: str(tmp_path / "reconciliation.pdf")
    with qtbot.waitSignal(window.saved, timeout=30000):
        window.pdf_button.click()
    text = pdf_text(tmp_path / "reconciliation.pdf")
    assert "Reconciliation with the phone system" in text and "1 January 2026 to 31 January 2026" in text
    assert "Page 1 of 1" in text


def test_a_wrong_password_is_a_sentence_in_the_window(desktop, qtbot) -> None:  # type: ignore[no-untyped-def]
    app, login = desktop
    secrets.set_central_password(login, "not-the-password")
    window = _open(qtbot, app)
    with qtbot.waitSignal(window.failed, timeout=30000) as failed:
        window.run_button.click()
    user = login.split("@")[0]
    assert (
        failed.args[0].startswith("The central store at 127.0.0.1:")
        and f"refused the password of {user!r}" in failed.args[0]
    )
    assert window.error_label.text() == failed.args[0] and "not-the-password" not in failed.args[0]
    assert window.run_button.isEnabled() and window.model.rowCount() == 0
