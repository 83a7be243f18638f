"""The Reports window over a fake backend (the central store is tested in tests/e2e/test_reports_window_pg.py):
what it asks for, the table and chart it shows, saving PDF and CSV, errors as sentences, never a wait."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt

from softclock.reports.model import Report, ReportRequest
from softclock.reports.service import NOT_SET_UP, ReportsService, ReportsUnavailable
from softclock.settings import CentralSettings
from softclock.ui import background
from softclock.ui.reports_window import CALLS_SHOWN, ReportsWindow
from tests.helpers.reports import pdf_text, time_report


class FakeBackend:
    """Answers with a report built from the request; ``gate`` holds the answer back until set."""

    def __init__(self, rows: int = 3, chart: bool = False, error: Exception | None = None) -> None:
        self.rows, self.chart, self.error = rows, chart, error
        self.requests: list[ReportRequest] = []
        self.gate = threading.Event()
        self.gate.set()
        self.closed = False
        self.threads: set[str] = set()

    def run(self, request: ReportRequest) -> Report:
        self.threads.add(threading.current_thread().name)
        self.requests.append(request)
        assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        return time_report(self.rows, chart=self.chart, request=request)

    def save_pdf(self, report: Report, path: str | Path) -> None:
        ReportsService(CentralSettings()).save_pdf(report, path)

    def save_csv(self, report: Report, path: str | Path) -> int:
        return ReportsService(CentralSettings()).save_csv(report, path)

    def close(self) -> None:
        self.closed = True


def _window(qtbot, backend: FakeBackend) -> ReportsWindow:  # type: ignore[no-untyped-def]
    window = ReportsWindow(backend, today=date(2026, 11, 20))
    qtbot.addWidget(window)
    window.show()
    return window


def _run(qtbot, window: ReportsWindow) -> Report:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.report_shown, timeout=10000) as shown:
        window.run_button.click()
    report = shown.args[0]
    assert isinstance(report, Report)
    return report


def test_the_controls_make_the_request_and_the_table_shows_the_report(qtbot) -> None:  # type: ignore[no-untyped-def]
    backend = FakeBackend(rows=3)
    window = _window(qtbot, backend)
    assert window.from_edit.date() == QDate(2026, 11, 1) and window.to_edit.date() == QDate(2026, 11, 20)
    window.select_report("time")
    window.by_combo.setCurrentIndex(window.by_combo.findData("timekeeper"))
    window.then_combo.setCurrentIndex(window.then_combo.findData("week"))
    window.client_edit.setText("Acme, Globex ")
    window.from_edit.setDate(QDate(2026, 10, 1))
    _run(qtbot, window)
    assert backend.requests == [
        ReportRequest(
            "time", date(2026, 10, 1), date(2026, 11, 20), by=("timekeeper", "week"), client=("Acme", "Globex")
        )
    ]
    assert backend.threads == {"reports"}  # neither the UI thread nor the database worker
    model = window.model
    assert (model.rowCount(), model.columnCount()) == (4, 5)  # three rows and the totals
    assert model.headerData(3, Qt.Orientation.Horizontal) == "Raw hours"
    assert [model.index(2, c).data() for c in range(5)] == [
        "Timekeeper 0002",
        "2026-11-02",
        "1,002",
        "2.13",
        "2,000.50",
    ]
    assert [model.index(3, c).data() for c in range(5)] == ["Total", "", "3,003", "3.38", "3,001.50"]
    assert model.index(3, 4).data(Qt.ItemDataRole.FontRole).bold()
    right = model.index(0, 4).data(Qt.ItemDataRole.TextAlignmentRole)
    assert right & int(Qt.AlignmentFlag.AlignRight) and not model.index(0, 0).data(
        Qt.ItemDataRole.TextAlignmentRole
    ) & int(Qt.AlignmentFlag.AlignRight)
    assert window.title_label.text() == "Time by timekeeper and week"
    assert "3 rows" in window.status_label.text() and "Rates from the timekeepers." in window.status_label.text()
    assert window.chart_view.isHidden() and window.pdf_button.isEnabled() and window.error_label.isHidden()


def test_the_hours_chart_is_drawn_under_the_table(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend(chart=True))
    window.select_report("hours-chart")
    report = _run(qtbot, window)
    assert window.chart_view.isVisible() and window.chart_view.chart == report.chart
    qtbot.waitUntil(lambda: window.chart_view.height() > 150)


def test_a_million_rows_are_a_model_not_widgets(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend(rows=1_000_000))
    _run(qtbot, window)
    assert window.model.rowCount() == 1_000_001
    assert window.model.index(999_999, 0).data() == "Timekeeper 999999"
    assert len(window.findChildren(type(window.title_label))) < 40


def test_the_window_does_not_wait_for_the_store_and_an_older_answer_is_dropped(qtbot) -> None:  # type: ignore[no-untyped-def]
    backend = FakeBackend()
    backend.gate.clear()
    window = _window(qtbot, backend)
    window.run_button.click()  # returns at once: the report waits on the gate
    assert window.status_label.text() == "Running the report…"
    window.select_report("calls")
    window.run_button.click()
    shown: list[str] = []
    window.report_shown.connect(lambda r: shown.append(r.request.name))
    backend.gate.set()
    qtbot.waitUntil(lambda: shown == ["calls"], timeout=10000)
    qtbot.waitUntil(lambda: len(backend.requests) == 2)
    assert shown == ["calls"]


@pytest.mark.parametrize(
    "error",
    [
        ReportsUnavailable(NOT_SET_UP),
        ReportsUnavailable(
            "The central store at db:5432/billing refused the password of 'alice': set it again with `softclock sync login`."
        ),
    ],
)
def test_a_known_failure_is_a_sentence_in_the_window(qtbot, error: Exception) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend(error=error))
    with qtbot.waitSignal(window.failed, timeout=10000) as failed:
        window.run_button.click()
    assert failed.args == [str(error)]
    assert window.error_label.isVisible() and window.error_label.text() == str(error)
    assert window.model.rowCount() == 0 and not window.pdf_button.isEnabled()


def test_a_bug_is_reported_and_said_plainly(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bugs: list[str] = []
    monkeypatch.setattr(background, "on_bug", lambda where, exc: bugs.append(f"{where}: {exc}"))
    window = _window(qtbot, FakeBackend(error=KeyError("rows")))
    with qtbot.waitSignal(window.failed, timeout=10000) as failed:
        window.run_button.click()
    assert failed.args[0] == "The report failed because of a fault in Softclock; the log has the details."
    assert bugs == ["The report in the Reports window: 'rows'"]


def test_a_period_that_ends_before_it_starts_is_refused_without_asking(qtbot) -> None:  # type: ignore[no-untyped-def]
    backend = FakeBackend()
    window = _window(qtbot, backend)
    window.to_edit.setDate(QDate(2026, 10, 1))
    window.run_button.click()
    assert "ends before it starts" in window.error_label.text() and backend.requests == []


def test_save_as_pdf_and_csv(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend(chart=True))
    window.select_report("hours-chart")
    _run(qtbot, window)
    asked: list[str] = []

    def ask(caption: str, suggested: str, filter_: str) -> str:
        asked.append(Path(suggested).name)
        return str(tmp_path / Path(suggested).name)

    window.ask_path = ask
    with qtbot.waitSignal(window.saved, timeout=20000) as saved:
        window.pdf_button.click()
    assert asked == ["hours-chart-2026-11-01-2026-11-20.pdf"]
    text = pdf_text(Path(saved.args[0]))
    assert "Time by timekeeper and week" in text and "Captured, approved and unlogged hours" in text
    with qtbot.waitSignal(window.saved, timeout=10000) as saved:
        window.csv_button.click()
    lines = Path(saved.args[0]).read_text().splitlines()
    assert lines[0] == "timekeeper,week,calls,raw_hours,value"
    assert lines[-1] == "Total,,3003,3.38,3001.50"
    assert window.status_label.text() == f"Saved to {saved.args[0]}"


def test_a_file_that_cannot_be_written_is_a_sentence(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend())
    _run(qtbot, window)
    window.ask_path = lambda *_: str(tmp_path / "missing" / "r.csv")
    with qtbot.waitSignal(window.failed, timeout=10000) as failed:
        window.csv_button.click()
    assert failed.args[0].startswith(f"The CSV could not be written at {tmp_path / 'missing' / 'r.csv'}")


def test_closing_lets_go_of_the_store(qtbot) -> None:  # type: ignore[no-untyped-def]
    backend = FakeBackend()
    window = _window(qtbot, backend)
    window.close()
    qtbot.waitUntil(lambda: backend.closed, timeout=5000)


def test_without_a_central_store_the_service_says_so() -> None:
    with pytest.raises(ReportsUnavailable, match="No central store is set up"):
        ReportsService(CentralSettings()).run(ReportRequest("time", date(2026, 11, 1), date(2026, 11, 30)))


def test_each_report_offers_only_the_groupings_it_takes(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend())
    window.select_report("unbilled")
    groupings = [window.by_combo.itemData(i) for i in range(window.by_combo.count())]
    assert groupings == ["", "client", "matter"]
    assert (window.by_combo.currentData(), window.then_combo.currentData()) == ("client", "matter")
    window.select_report("calls")
    assert window.by_combo.count() == 1 and not window.by_combo.isEnabled() and window.request().by == ()


def test_the_call_history_lists_the_first_calls_and_the_sums_take_every_row(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, FakeBackend())
    window.select_report("calls")
    assert window.request().limit == CALLS_SHOWN
    window.select_report("time")
    assert window.request().limit is None
