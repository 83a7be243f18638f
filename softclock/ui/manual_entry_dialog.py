"""Add by hand a call made on a mobile phone: date and start, duration (m:ss), number,
matter (found by typing) and narrative. The entry is a draft flagged "manual", with
its own call record, and its trail says it was entered by hand."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import parse_duration
from softclock.ui.matter_picker import MatterPicker, Search


class ManualEntryDialog(QDialog):
    """Signals: (QDialog's accepted / rejected); ``matters_offered`` is the matter picker's."""

    def __init__(self, search: Search, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a call made on a mobile phone")
        self.setObjectName("manualEntryDialog")
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
        self.picker = MatterPicker(search)
        self.matters_offered = self.picker.matters_offered
        self.filter_edit, self.matter_box = self.picker.filter_edit, self.picker.matter_box
        self.narrative_edit = QLineEdit()
        self.narrative_edit.setAccessibleName("Narrative")
        self.problem = QLabel("")
        self.problem.setObjectName("errorText")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("Started", self.started_edit)
        form.addRow("Duration", self.duration_edit)
        form.addRow("Number", self.number_edit)
        form.addRow("Matter", self.picker)
        form.addRow("Narrative", self.narrative_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
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
        return self.picker.matter_id()

    def _check(self, *_args: object) -> None:
        ok = self.seconds() is not None
        self.problem.setText("" if ok else "Type how long the call took, e.g. 4:30.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
