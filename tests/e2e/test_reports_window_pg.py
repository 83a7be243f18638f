"""The Reports window of the desktop app on a real PostgreSQL central store (tests/helpers/report_seed.py's
firm): Billing > Reports… opens it, the hours chart runs with the person's own login from the keyring and is
drawn under its table, a timekeeper's login sees only their own (the database's row-level security, not the
window), the PDF is read back, and a wrong password is a sentence in the window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate
from sqlalchemy import create_engine

from softclock import secrets
from softclock.settings import Settings, save
from softclock.sync import admin
from softclock.sync.connect import login_of, parse_url
from softclock.ui.application import DesktopApp
from softclock.ui.reports_window import ReportsWindow
from tests.helpers.report_seed import seed
from tests.helpers.reports import pdf_text

Open = Callable[[str, str], tuple[DesktopApp, ReportsWindow]]


@pytest.fixture
def open_reports(pg_db, qtbot, tmp_path: Path) -> Iterator[Open]:  # type: ignore[no-untyped-def]
    """``open_reports(who, password)``: the desktop app with the central store as ``who`` ("ann", "billing")
    and that password in the keyring, and its Reports window opened from the menu."""
    installer = create_engine(pg_db.superuser_url())
    admin.init_store(installer)
    sfx = pg_db.name.removeprefix("t_")[:12]
    logins = {"ann": f"ann_{sfx}", "bo": f"bo_{sfx}", "billing": f"billing_{sfx}"}
    seed(installer, logins["ann"], logins["bo"], password="pw")
    admin.add_staff(installer, logins["billing"], "billing", "pw")
    installer.dispose()
    apps: list[DesktopApp] = []

    def open_(who: str, password: str) -> tuple[DesktopApp, ReportsWindow]:
        settings = Settings()
        settings.sip.bind_address, settings.sip.null_audio = "127.0.0.1", True
        settings.central.url = f"postgresql://{logins[who]}@127.0.0.1:{pg_db.cluster.port}/{pg_db.name}"
        settings.central.sslmode, settings.central.sslrootcert = "verify-full", str(pg_db.cluster.ca_file)
        secrets.set_central_password(login_of(parse_url(settings.central.url)), password)
        save(settings, tmp_path / "settings.toml")
        app = DesktopApp(tmp_path / "settings.toml", tmp_path / "data", listen=False)
        apps.append(app)
        qtbot.addWidget(app.window, before_close_func=lambda w: setattr(w, "quitting", True))
        app.window.reports_action.trigger()
        window = app.reports_window
        assert window is not None and window.isVisible()
        window.select_report("hours-chart")
        window.from_edit.setDate(QDate(2026, 3, 1))
        window.to_edit.setDate(QDate(2026, 4, 1))
        return app, window

    yield open_
    for app in apps:
        if app.reports_window is not None:
            app.reports_window.close()
        app.shutdown()


def _run(qtbot, window: ReportsWindow):  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.report_shown, timeout=30000) as shown:
        window.run_button.click()
    return shown.args[0]


def test_billing_runs_the_hours_chart_and_saves_it_as_pdf(open_reports: Open, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, window = open_reports("billing", "pw")
    assert (window.by_combo.currentData(), window.then_combo.currentData()) == ("timekeeper", "week")
    report = _run(qtbot, window)
    assert report.request.start == date(2026, 3, 1) and report.request.by == ("timekeeper", "week")
    model = window.model
    assert model.rowCount() == 7  # six timekeeper-weeks and the totals
    assert [model.index(r, 0).data() for r in range(6)] == ["Ann"] * 4 + ["Bo"] * 2
    assert model.index(2, 1).data() == "2026-03-09"
    assert [model.index(6, c).data() for c in (0, 3)] == ["Total", "2.30"]  # approved hours, two places
    qtbot.waitUntil(lambda: window.chart_view.isVisible() and window.chart_view.height() > 150)
    chart = window.chart_view.chart
    assert chart is not None and chart.series[1].values == (1.0, 0.5, 0.0, 0.1, 0.0, 0.7)
    window.ask_path = lambda *_: str(tmp_path / "hours.pdf")
    with qtbot.waitSignal(window.saved, timeout=30000):
        window.pdf_button.click()
    text = pdf_text(tmp_path / "hours.pdf")
    assert "1 March 2026 to 1 April 2026" in text and "Page 1 of 1" in text
    assert "Captured" in text and "Unlogged" in text and "2.30" in text


def test_a_timekeeper_sees_only_their_own(open_reports: Open, qtbot) -> None:  # type: ignore[no-untyped-def]
    _, window = open_reports("ann", "pw")
    _run(qtbot, window)
    chart = window.chart_view.chart
    assert chart is not None and len(chart.categories) == 4 and all(c.startswith("Ann") for c in chart.categories)
    assert {window.model.index(r, 0).data() for r in range(4)} == {"Ann"}


def test_a_wrong_password_is_a_sentence_in_the_window(open_reports: Open, qtbot) -> None:  # type: ignore[no-untyped-def]
    _, window = open_reports("ann", "not-the-password")
    with qtbot.waitSignal(window.failed, timeout=30000) as failed:
        window.run_button.click()
    sentence = failed.args[0]
    assert sentence.startswith("The central store at 127.0.0.1:") and "refused the password of 'ann_" in sentence
    assert window.error_label.text() == sentence and "not-the-password" not in sentence
    assert window.run_button.isEnabled() and window.model.rowCount() == 0
