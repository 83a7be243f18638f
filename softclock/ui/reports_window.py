"""The Reports window: pick a report, a period, a grouping and filters; see its table (and its
chart); save it as PDF or CSV.

Reports come from the central store through a :class:`ReportsBackend` (in the app a
:class:`softclock.reports.service.ReportsService`), called on a thread of the window's
own, so the window never waits on the network and the local database worker never
waits on the central store. What a report holds is what the database lets the
person's login read; the window shows whatever comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from softclock.errors import UserError
from softclock.reports.cells import NUMERIC, cell_text, period_text, totals_cells
from softclock.reports.model import Column, Kind, Report, ReportRequest
from softclock.reports.service import ReportChoice, report_choices
from softclock.ui import background
from softclock.ui.background import BackgroundRunner
from softclock.ui.charts import BarChartView
from softclock.worker import DbWorker

log = logging.getLogger("softclock.ui")

_Index = QModelIndex | QPersistentModelIndex

CALLS_SHOWN = 10_000  # calls listed in the window at most


class ReportsBackend(Protocol):
    """What the window asks of the central store (:class:`softclock.reports.service.ReportsService`);
    each call may block, and runs off the UI thread."""

    def run(self, request: ReportRequest) -> Report: ...
    def save_pdf(self, report: Report, path: str | Path) -> None: ...
    def save_csv(self, report: Report, path: str | Path) -> int: ...
    def close(self) -> None: ...


class ReportModel(QAbstractTableModel):
    """A report's rows (and its totals row, last, in bold) for a QTableView: cells are
    formatted as they are shown, so a million rows cost a million tuples, not widgets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: Report | None = None
        self._columns: tuple[Column, ...] = ()
        self._totals: tuple[Any, ...] | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    def set_report(self, report: Report | None) -> None:
        self.beginResetModel()
        self.report = report
        self._columns = report.columns if report else ()
        self._totals = totals_cells(report) if report and report.totals is not None else None
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        if parent.isValid() or self.report is None:
            return 0
        return len(self.report.rows) + (1 if self._totals is not None else 0)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        return 0 if parent.isValid() else len(self._columns)

    def is_totals(self, row: int) -> bool:
        return self.report is not None and self._totals is not None and row == len(self.report.rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.report is None or not index.isValid():
            return None
        column = self._columns[index.column()]
        totals = self.is_totals(index.row())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            row = self._totals if totals else self.report.rows[index.row()]
            value = row[index.column()] if row is not None and index.column() < len(row) else None
            return cell_text(Kind.TEXT if totals and value == "Total" else column.kind, value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.kind in NUMERIC else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and totals:
            return self._bold
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title if section < len(self._columns) else None
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            kind = self._columns[section].kind if section < len(self._columns) else Kind.TEXT
            return int(Qt.AlignmentFlag.AlignRight if kind in NUMERIC else Qt.AlignmentFlag.AlignLeft)
        return None


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class ReportsWindow(QWidget):
    """Signals:
    report_shown(object): a report (:class:`Report`) is on screen.
    failed(str): a report or a save failed; the sentence shown.
    saved(str): a file was written; its path.
    """

    report_shown = Signal(object)
    failed = Signal(str)
    saved = Signal(str)

    def __init__(
        self,
        backend: ReportsBackend,
        today: date | None = None,
        runner: BackgroundRunner | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("reportsWindow")
        self.setWindowTitle("Reports — Softclock")
        self._backend = backend
        # A thread of its own: a slow central store never holds up capture on the database worker.
        self._runner = runner or BackgroundRunner(DbWorker(name="reports", on_bug=lambda w, e: background.on_bug(w, e)))
        self._own_runner = runner is None
        self._asked = 0  # generation of the newest run; older answers are dropped
        self.report: Report | None = None
        # Where a save goes: a file dialog (tests put a function here instead).
        self.ask_path: Callable[[str, str, str], str] = self._ask_path
        today = today or date.today()

        self._choices = {choice.name: choice for choice in report_choices()}
        self.report_combo = QComboBox()
        for choice in self._choices.values():
            self.report_combo.addItem(choice.title, choice.name)
            self.report_combo.setItemData(
                self.report_combo.count() - 1, choice.description, Qt.ItemDataRole.ToolTipRole
            )
        self.from_edit = QDateEdit(_qdate(today.replace(day=1)))
        self.to_edit = QDateEdit(_qdate(today))
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.by_combo = QComboBox()
        self.then_combo = QComboBox()
        self.timekeeper_edit = QLineEdit()
        self.office_edit = QLineEdit()
        self.department_edit = QLineEdit()
        self.client_edit = QLineEdit()
        self.matter_edit = QLineEdit()
        for line in (self.timekeeper_edit, self.office_edit, self.department_edit, self.client_edit, self.matter_edit):
            line.setPlaceholderText("all (or names, comma-separated)")
            line.setClearButtonEnabled(True)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("number, name or words (call history)")
        self.search_edit.setClearButtonEnabled(True)
        self.leak_days = QSpinBox()
        self.leak_days.setRange(0, 365)
        self.leak_days.setValue(7)
        self.leak_days.setSuffix(" days")
        self.leak_days.setToolTip("Leakage: answered calls still without an approved entry after this many days")
        self.run_button = QPushButton("Run report")
        self.run_button.setDefault(True)
        self.pdf_button = QPushButton("Save as PDF…")
        self.csv_button = QPushButton("Save as CSV…")
        self.pdf_button.setEnabled(False)
        self.csv_button.setEnabled(False)

        self.title_label = QLabel()
        self.title_label.setObjectName("sectionTitle")
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label = QLabel()
        self.status_label.setObjectName("hint")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # server messages come from the network
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        self.model = ReportModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.chart_view = BarChartView()
        self.chart_view.hide()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.chart_view)
        self.splitter.setChildrenCollapsible(False)

        form = QGridLayout()
        form.addWidget(QLabel("Report"), 0, 0)
        form.addWidget(self.report_combo, 0, 1, 1, 3)
        form.addWidget(QLabel("From"), 1, 0)
        form.addWidget(self.from_edit, 1, 1)
        form.addWidget(QLabel("to"), 1, 2)
        form.addWidget(self.to_edit, 1, 3)
        form.addWidget(QLabel("Group by"), 2, 0)
        form.addWidget(self.by_combo, 2, 1)
        form.addWidget(QLabel("then by"), 2, 2)
        form.addWidget(self.then_combo, 2, 3)
        filters = QFormLayout()
        filters.addRow("Timekeeper", self.timekeeper_edit)
        filters.addRow("Office", self.office_edit)
        filters.addRow("Department", self.department_edit)
        filters.addRow("Client", self.client_edit)
        filters.addRow("Matter", self.matter_edit)
        filters.addRow("Search", self.search_edit)
        filters.addRow("Leakage after", self.leak_days)
        top = QHBoxLayout()
        top.addLayout(form, 1)
        top.addLayout(filters, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addStretch(1)
        buttons.addWidget(self.pdf_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(buttons)
        layout.addWidget(self.error_label)
        layout.addWidget(self.title_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.splitter, 1)
        self.resize(900, 640)
        self._offer_groupings()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.pdf_button.clicked.connect(self._on_pdf_button_clicked)
        self.csv_button.clicked.connect(self._on_csv_button_clicked)
        self.search_edit.returnPressed.connect(self._on_run_button_clicked)
        self.report_combo.currentIndexChanged.connect(self._on_report_combo_changed)

    def _on_report_combo_changed(self, _index: int) -> None:
        self._offer_groupings()

    def _offer_groupings(self) -> None:
        """Only the groupings the chosen report takes, its own default chosen."""
        choice: ReportChoice | None = self._choices.get(str(self.report_combo.currentData()))
        allowed = choice.by if choice else ()
        default = choice.default_by if choice else ()
        for position, combo in enumerate((self.by_combo, self.then_combo)):
            combo.clear()
            combo.addItem("—", "")
            for grouping in allowed:
                combo.addItem(grouping.capitalize(), grouping)
            combo.setCurrentIndex(max(0, combo.findData(default[position])) if position < len(default) else 0)
            combo.setEnabled(bool(allowed))

    # ------------------------------------------------------------------ asking

    def request(self) -> ReportRequest:
        """The report the controls describe."""
        by = tuple(g for g in (self.by_combo.currentData(), self.then_combo.currentData()) if g)
        start, end = self.from_edit.date().toPython(), self.to_edit.date().toPython()
        assert isinstance(start, date) and isinstance(end, date)
        return ReportRequest(
            name=str(self.report_combo.currentData()),
            start=start,
            end=end,
            by=tuple(dict.fromkeys(by)),
            timekeeper=_names(self.timekeeper_edit.text()),
            office=_names(self.office_edit.text()),
            department=_names(self.department_edit.text()),
            client=_names(self.client_edit.text()),
            matter=_names(self.matter_edit.text()),
            search=self.search_edit.text().strip(),
            leak_days=self.leak_days.value(),
            # A month's calls at a large firm are 200,000 rows (11.6 s in bench/reports.py): the window
            # lists the first ones; the command line exports them all.
            limit=CALLS_SHOWN if self.report_combo.currentData() == "calls" else None,
        )

    def select_report(self, name: str) -> None:
        self.report_combo.setCurrentIndex(self.report_combo.findData(name))

    def run_report(self) -> None:
        """Ask for the report the controls describe; it is shown when it comes (or why not)."""
        request = self.request()
        if request.end < request.start:
            self._show_error("The period ends before it starts: pick a 'to' date on or after the 'from' date.")
            return
        self._asked += 1
        asked = self._asked
        self.error_label.hide()
        self.status_label.setText("Running the report…")
        self._runner.submit(
            lambda: self._backend.run(request),
            lambda report: self._on_report_done(asked, report),
            lambda exc: self._on_report_failed(asked, exc),
        )

    def _on_run_button_clicked(self) -> None:
        self.run_report()

    def _on_report_done(self, asked: int, report: Report) -> None:
        if asked != self._asked:
            return  # a newer run is on its way
        self.show_report(report)

    def _on_report_failed(self, asked: int, exc: Exception) -> None:
        if asked != self._asked:
            return
        self.status_label.setText("")
        self._show_failure(exc, "The report")

    def show_report(self, report: Report) -> None:
        self.report = report
        self.model.set_report(report)
        self.table.resizeColumnsToContents()  # measures the first rows only (the header's precision)
        self.title_label.setText(report.title)
        count = len(report.rows)
        status = f"{period_text(report)} · {count:,} row{'s' if count != 1 else ''}"
        if report.truncated:
            status += " (the first ones only: `softclock report calls --format csv` exports them all)"
        if report.notes:
            status += "\n" + "\n".join(report.notes)
        self.status_label.setText(status)
        self.chart_view.set_chart(report.chart)
        if report.chart is not None and self.chart_view.isHidden():
            self.chart_view.show()
            total = max(sum(self.splitter.sizes()), 400)
            self.splitter.setSizes([total * 2 // 5, total - total * 2 // 5])  # a hidden pane comes back at 0 px
        elif report.chart is None:
            self.chart_view.hide()
        self.pdf_button.setEnabled(True)
        self.csv_button.setEnabled(True)
        self.report_shown.emit(report)

    # ------------------------------------------------------------------ failures

    def _show_error(self, sentence: str) -> None:
        self.error_label.setText(sentence)
        self.error_label.show()
        self.failed.emit(sentence)

    def _show_failure(self, exc: Exception, what: str) -> None:
        if isinstance(exc, UserError):
            self._show_error(str(exc))
            return
        background.on_bug(f"{what} in the Reports window", exc)  # a bug: logged with its traceback
        self._show_error(f"{what} failed because of a fault in Softclock; the log has the details.")

    # ------------------------------------------------------------------ saving

    def _ask_path(self, caption: str, suggested: str, filter_: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, caption, suggested, filter_)
        return path

    def _suggested(self, suffix: str) -> str:
        assert self.report is not None
        request = self.report.request
        return str(Path.home() / f"{request.name}-{request.start}-{request.end}{suffix}")

    def _on_pdf_button_clicked(self) -> None:
        path = self.ask_path("Save the report as PDF", self._suggested(".pdf"), "PDF (*.pdf)")
        if path:
            self.save_pdf(path)

    def _on_csv_button_clicked(self) -> None:
        path = self.ask_path("Save the report as CSV", self._suggested(".csv"), "CSV (*.csv)")
        if path:
            self.save_csv(path)

    def save_pdf(self, path: str) -> None:
        report = self.report
        assert report is not None
        self._save(path, lambda: self._backend.save_pdf(report, path), "Saving the PDF")

    def save_csv(self, path: str) -> None:
        report = self.report
        assert report is not None
        self._save(path, lambda: self._backend.save_csv(report, path), "Saving the CSV")

    def _save(self, path: str, job: Callable[[], object], what: str) -> None:
        self.error_label.hide()
        self.status_label.setText(f"{what}…")
        self._runner.submit(job, lambda _: self._on_saved(path), lambda exc: self._on_save_failed(exc, what))

    def _on_saved(self, path: str) -> None:
        self.status_label.setText(f"Saved to {path}")
        self.saved.emit(path)

    def _on_save_failed(self, exc: Exception, what: str) -> None:
        self.status_label.setText("")
        self._show_failure(exc, what)

    # ------------------------------------------------------------------ life

    def closeEvent(self, event: QCloseEvent) -> None:
        """Let go of the central store; a report still running finishes on its thread and is dropped."""
        if self._own_runner:
            self._runner.worker.submit(self._backend.close)
            self._runner.worker.stop(timeout=0)  # no wait for a query in flight: it ends on its own
        super().closeEvent(event)
