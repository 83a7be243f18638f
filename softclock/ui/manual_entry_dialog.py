"""Add by hand a call made on a mobile phone: date and start, duration (m:ss), number,
matter (found by typing) and narrative. The entry is a draft flagged "manual", with
its own call record, and its trail says it was entered by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QDateTime, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import MatterRow, parse_duration
from softclock.textsafe import printable
from softclock.ui.background import BackgroundRunner

Search = Callable[[str], list[MatterRow]]


class ManualEntryDialog(QDialog):
    """Signals: (QDialog's accepted / rejected); matters_offered(): a search's results are in the matter box."""

    matters_offered = Signal()

    def __init__(self, search: Search, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a call made on a mobile phone")
        self.setObjectName("manualEntryDialog")
        self._search = search
        self._searches = 0
        self.started_edit = QDateTimeEdit(QDateTime.currentDateTime().addSecs(-3600))
        self.started_edit.setCalendarPopup(True)
        self.started_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.started_edit.setAccessibleName("When the call started")
        self.duration_edit = QLineEdit()
        self.duration_edit.setPlaceholderText("m:ss or h:mm:ss")
        self.duration_edit.setAccessibleName("Duration")
        self.number_edit = QLineEdit()
        self.number_edit.setPlaceholderText("+1 202 555 0143")
        self.number_edit.setAccessibleName("Number")
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Find a matter: client, code or name…")
        self.filter_edit.setAccessibleName("Find a matter")
        self.matter_box = QComboBox()
        self.matter_box.setAccessibleName("Matter")
        self.matter_box.addItem("Unassigned", None)
        self.narrative_edit = QLineEdit()
        self.narrative_edit.setAccessibleName("Narrative")
        self.problem = QLabel("")
        self.problem.setObjectName("errorText")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("Started", self.started_edit)
        form.addRow("Duration", self.duration_edit)
        form.addRow("Number", self.number_edit)
        form.addRow("Matter", self.filter_edit)
        form.addRow("", self.matter_box)
        form.addRow("Narrative", self.narrative_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self.filter_edit.textChanged.connect(self._timer.start)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.duration_edit.textChanged.connect(self._check)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._check()

    def seconds(self) -> float | None:
        value = parse_duration(self.duration_edit.text())
        return value if value is not None and value > 0 else None

    def started(self) -> datetime:
        """The start as the person's local time, aware."""
        value = self.started_edit.dateTime().toPython()
        assert isinstance(value, datetime)
        return value.astimezone()

    def matter_id(self) -> int | None:
        row = self.matter_box.currentData()
        return row.id if isinstance(row, MatterRow) else None

    def _check(self, *_args: object) -> None:
        ok = self.seconds() is not None
        self.problem.setText("" if ok else "Type how long the call took, e.g. 4:30.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def _on_timer_timeout(self) -> None:
        text = self.filter_edit.text()
        self._searches += 1
        generation = self._searches
        BackgroundRunner.shared().submit(lambda: self._search(text), lambda rows: self._offer(generation, rows))

    def _offer(self, generation: int, rows: list[MatterRow]) -> None:
        if generation != self._searches:
            return
        self.matter_box.clear()
        self.matter_box.addItem("Unassigned", None)
        for row in rows:
            self.matter_box.addItem(printable(row.label), row)
        self.matter_box.setCurrentIndex(1 if rows else 0)
        self.matters_offered.emit()
