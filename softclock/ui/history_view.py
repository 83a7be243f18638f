"""The History tab: every time entry, whatever its status, filtered by date range,
status and words; an approved entry can be reopened with a reason.

The table is a model that fetches pages of 500 rows on the database worker as
the person scrolls (keyset paging in ``ReviewService.history``), so a store of a
million entries scrolls as smoothly as one of ten.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import as_local, fmt_duration
from softclock.states import EntryStatus
from softclock.textsafe import printable

if TYPE_CHECKING:
    from softclock.facades import HistoryFilter, HistoryRow, ReviewService
    from softclock.ui.background import BackgroundRunner

log = logging.getLogger("softclock.ui")

COLUMNS = ("Date", "Start", "Who", "Matter", "Raw", "Billed", "Status", "Narrative")
PAGE = 500
SEARCH_DELAY_MS = 250
_ANY = "Any status"
_Index = QModelIndex | QPersistentModelIndex


class HistoryModel(QAbstractTableModel):
    """Rows fetched a page at a time on the database worker.

    Signals:
        page_shown(): a page arrived (or the first page of a new filter).
    """

    page_shown = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[HistoryRow] = []
        self._review: ReviewService | None = None
        self._runner: BackgroundRunner | None = None
        self._filter: HistoryFilter | None = None
        self._more = False
        self._loading = False
        self._generation = 0

    def attach(self, review: ReviewService, runner: BackgroundRunner) -> None:
        self._review, self._runner = review, runner

    def load(self, wanted: HistoryFilter) -> None:
        """Start over with ``wanted``: the first page replaces what is shown."""
        self._generation += 1
        self._filter = wanted
        self._loading = False
        self._fetch(replace=True)

    def row(self, index: int) -> HistoryRow:
        return self._rows[index]

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        row = self._rows[index.row()]
        entry = row.entry
        if index.column() == 0:
            return entry.work_date.isoformat()
        if index.column() == 1:
            started = as_local(entry.started_utc)
            return started.strftime("%H:%M") if started else ""
        if index.column() == 2:
            arrow = {"outgoing": "→ ", "incoming": "← "}.get(row.direction or "", "")
            who = row.who
            if who and who == row.number:  # no name: the number as the Today list shows it
                from softclock.matching import pretty

                who = pretty(who)
            return arrow + printable(who or "manual entry")
        if index.column() == 3:
            return printable(entry.matter.label) if entry.matter else "Unassigned"
        if index.column() == 4:
            return fmt_duration(entry.raw_seconds)
        if index.column() == 5:
            return "" if entry.billed_units is None else f"{entry.billed_units} units"
        if index.column() == 6:
            return entry.status.capitalize() + (f" · {entry.flag}" if entry.flag else "")
        return printable(entry.narrative)

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008 - Qt API
        return not parent.isValid() and self._more and not self._loading

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008 - Qt API
        if self.canFetchMore(parent):
            self._fetch(replace=False)

    # ------------------------------------------------------------------ paging

    def _fetch(self, replace: bool) -> None:
        if self._review is None or self._runner is None or self._filter is None:
            return
        review, wanted, generation = self._review, self._filter, self._generation
        after = None if replace or not self._rows else self._rows[-1].key
        self._loading = True
        self._runner.submit(
            lambda: review.history(wanted, after, PAGE), lambda rows: self._arrived(generation, replace, rows)
        )

    def _arrived(self, generation: int, replace: bool, rows: list[HistoryRow]) -> None:
        if generation != self._generation:
            return  # the filter changed meanwhile
        self._loading = False
        self._more = len(rows) == PAGE
        if replace:
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
        elif rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self.page_shown.emit()


class HistoryView(QWidget):
    """Every entry; filters; Reopen… for an approved entry (with a reason, into the trail)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._review: ReviewService | None = None
        self._runner: BackgroundRunner | None = None
        self.model = HistoryModel(self)
        today = QDate.currentDate()
        self.from_edit = QDateEdit(today.addDays(-30))
        self.from_edit.setCalendarPopup(True)
        self.from_edit.setAccessibleName("From date")
        self.to_edit = QDateEdit(today)
        self.to_edit.setCalendarPopup(True)
        self.to_edit.setAccessibleName("To date")
        self.status_box = QComboBox()
        self.status_box.addItems([_ANY, *(s.value.capitalize() for s in EntryStatus)])
        self.status_box.setAccessibleName("Status")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Client, matter, number, caller or narrative")
        self.search_edit.setAccessibleName("Search the history")
        self.search_edit.setClearButtonEnabled(True)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Time entries")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason for reopening (goes into the audit trail)")
        self.reason_edit.setAccessibleName("Reason for reopening")
        self.reopen_button = QPushButton("Reopen as draft")
        self.message = QLabel("")
        self.message.setObjectName("reviewMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)

        filters = QHBoxLayout()
        filters.addWidget(QLabel("From"))
        filters.addWidget(self.from_edit)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.to_edit)
        filters.addWidget(self.status_box)
        filters.addWidget(self.search_edit, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.reason_edit, 1)
        actions.addWidget(self.reopen_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(actions)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.from_edit.dateChanged.connect(self._on_filter_changed)
        self.to_edit.dateChanged.connect(self._on_filter_changed)
        self.status_box.currentIndexChanged.connect(self._on_filter_changed)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self._search_timer.timeout.connect(self._on_filter_changed)
        self.reopen_button.clicked.connect(self._on_reopen_button_clicked)

    def attach(self, review: ReviewService, runner: BackgroundRunner) -> None:
        self._review, self._runner = review, runner
        self.model.attach(review, runner)
        self.refresh()

    def current_filter(self) -> HistoryFilter:
        from softclock.facades import HistoryFilter

        status = self.status_box.currentText()
        return HistoryFilter(
            start=_day(self.from_edit.date()),
            end=_day(self.to_edit.date()),
            status=None if status == _ANY else status.lower(),
            text=self.search_edit.text().strip(),
        )

    def refresh(self) -> None:
        self.model.load(self.current_filter())

    def _on_filter_changed(self, *_args: object) -> None:
        self.refresh()

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("kind", "error" if error else "info")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _on_reopen_button_clicked(self) -> None:
        if self._review is None or self._runner is None:
            return
        rows = self.table.selectionModel().selectedRows()
        if len(rows) != 1:
            self._say("Select the entry to reopen.", error=True)
            return
        entry = self.model.row(rows[0].row()).entry
        if entry.status != EntryStatus.APPROVED:
            self._say(f"Only an approved entry can be reopened; this one is {entry.status}.", error=True)
            return
        reason = self.reason_edit.text().strip()
        if not reason:
            self._say("Say why it is reopened: the reason goes into the audit trail.", error=True)
            return
        review = self._review

        def failed(exc: Exception) -> None:
            from softclock.errors import UserError

            if isinstance(exc, UserError):
                self._say(f"Not reopened — {exc}", error=True)
                return
            from softclock.ui import background

            self._say("Not reopened — something went wrong (details in the log).", error=True)
            background.on_bug("the History tab", exc)

        def done(row: object) -> None:
            self.reason_edit.clear()
            self._say("Reopened as a draft: it is back in the Review tab.")
            self.refresh()

        self._runner.submit(lambda: review.reopen(entry.id, reason), done, failed)


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())
