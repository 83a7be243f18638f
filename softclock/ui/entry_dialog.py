"""Edit one draft in the Review tab: matter (found by typing, as in the matter prompt),
activity and task codes, billable, and billed units set by hand with a reason.

The dialog writes nothing: the Review tab reads :meth:`EntryDialog.changes` and
:meth:`EntryDialog.reason` when it is accepted and sends them to the review
service, which records each change in the audit trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from softclock.billing import ACTIVITY_CODES
from softclock.formatting import fmt_duration
from softclock.textsafe import printable
from softclock.ui.matter_picker import MatterPicker, Search

if TYPE_CHECKING:
    from softclock.facades import EntryRow

_BY_POLICY = -1  # the units box's "by policy" value


class EntryDialog(QDialog):
    """Signals: (QDialog's accepted / rejected); ``matters_offered`` is the matter picker's."""

    def __init__(self, entry: EntryRow, search: Search, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit entry")
        self.setObjectName("entryDialog")
        self.entry = entry
        head = QLabel(
            f"{entry.work_date.isoformat()} · {fmt_duration(entry.raw_seconds)} · {printable(entry.matter_text)}"
        )
        self.picker = MatterPicker(search, entry.matter)
        self.matters_offered = self.picker.matters_offered
        self.filter_edit, self.matter_box = self.picker.filter_edit, self.picker.matter_box
        self.activity_box = QComboBox()
        self.activity_box.setAccessibleName("Activity code")
        self.activity_box.addItem("(none)", "")
        for code, text in ACTIVITY_CODES.items():
            self.activity_box.addItem(f"{code} — {text}", code)
        index = self.activity_box.findData(entry.activity_code)
        self.activity_box.setCurrentIndex(max(0, index))
        self.task_edit = QLineEdit(entry.task_code)
        self.task_edit.setAccessibleName("Task code")
        self.task_edit.setPlaceholderText("UTBMS task code, e.g. L120")
        self.billable_box = QCheckBox("Billable")
        self.billable_box.setChecked(entry.billable)
        self.units_box = QSpinBox()
        self.units_box.setAccessibleName("Billed units")
        self.units_box.setRange(_BY_POLICY, 10000)
        self.units_box.setSpecialValueText("by policy")
        self.units_box.setValue(
            entry.billed_units if entry.billed_by_hand and entry.billed_units is not None else _BY_POLICY
        )
        self.reason_edit = QLineEdit()
        self.reason_edit.setAccessibleName("Reason")
        self.reason_edit.setPlaceholderText("Why (needed when billed units are set by hand)")
        self.problem = QLabel("")
        self.problem.setObjectName("errorText")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("Matter", self.picker)
        form.addRow("Activity", self.activity_box)
        form.addRow("Task", self.task_edit)
        form.addRow("", self.billable_box)
        form.addRow("Billed units", self.units_box)
        form.addRow("Reason", self.reason_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.units_box.valueChanged.connect(self._check)
        self.reason_edit.textChanged.connect(self._check)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._check()

    def changes(self) -> dict[str, object]:
        """The fields that differ from the entry, as the review service names them."""
        out: dict[str, object] = {}
        matter_id = self.picker.matter_id()
        if matter_id != (self.entry.matter.id if self.entry.matter else None):
            out["matter_id"] = matter_id
        if self.activity_box.currentData() != self.entry.activity_code:
            out["activity_code"] = self.activity_box.currentData()
        if self.task_edit.text().strip() != self.entry.task_code:
            out["task_code"] = self.task_edit.text().strip()
        if self.billable_box.isChecked() != self.entry.billable:
            out["billable"] = self.billable_box.isChecked()
        units = None if self.units_box.value() == _BY_POLICY else self.units_box.value()
        by_hand_before = self.entry.billed_units if self.entry.billed_by_hand else None
        if units != by_hand_before:
            out["billed_units"] = units
        return out

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    def _check(self, *_args: object) -> None:
        needs_reason = self.units_box.value() != _BY_POLICY and not self.reason()
        self.problem.setText("Billed units set by hand need a reason." if needs_reason else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not needs_reason)
