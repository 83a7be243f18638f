"""Settings > Preferences…: start at login, and the billing policy in force.

The policy is read on the database worker (the central store's copy is in the local
store), never on the UI thread; it is editable here only when there is no central store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from softclock.billing import INCREMENTS_MIN, Policy

ROUNDING_NAMES = {"up": "Up to the next increment", "nearest": "To the nearest increment"}


@dataclass(frozen=True)
class PolicyChoice:
    """The four policy figures a person may set here."""

    increment_min: int
    rounding: str
    minimum_units: int
    short_call_s: int


class SettingsDialog(QDialog):
    """Preferences: start at login and the billing policy.

    Args:
        autostart_on: whether Softclock starts at login now.
        central: whether a central store sets the policy (then it is read-only here).
        load_policy: called with a callback; hands the policy in force to it on the main thread.
    """

    def __init__(
        self,
        autostart_on: bool,
        central: bool,
        load_policy: Callable[[Callable[[Policy], None]], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Softclock preferences")
        self.central = central
        self.autostart = QCheckBox("Start Softclock when I log in")
        self.autostart.setChecked(autostart_on)

        group = QGroupBox("Billing policy")
        self.source = QLabel(
            "From the firm's central store (change it there)." if central else "From this computer's settings."
        )
        self.source.setWordWrap(True)
        self.increment = QComboBox()
        for minutes in INCREMENTS_MIN:
            self.increment.addItem(f"{minutes} min", minutes)
        self.rounding = QComboBox()
        for key, name in ROUNDING_NAMES.items():
            self.rounding.addItem(name, key)
        self.minimum = QSpinBox()
        self.minimum.setRange(0, 100)
        self.minimum.setSuffix(" increment(s)")
        self.short = QSpinBox()
        self.short.setRange(0, 3600)
        self.short.setSuffix(" s")
        form = QFormLayout(group)
        form.addRow(self.source)
        form.addRow("Increment", self.increment)
        form.addRow("Rounding", self.rounding)
        form.addRow("Minimum", self.minimum)
        form.addRow("Short calls (not billed) under", self.short)
        self.policy_fields: tuple[QWidget, ...] = (self.increment, self.rounding, self.minimum, self.short)
        for w in self.policy_fields:
            w.setEnabled(False)  # until the policy in force is read
        self.loaded = False

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.autostart)
        layout.addWidget(group)
        layout.addWidget(buttons)
        load_policy(self._on_policy_loaded)

    def _on_policy_loaded(self, policy: Policy) -> None:
        self.increment.setCurrentIndex(self.increment.findData(policy.increment_min))
        self.rounding.setCurrentIndex(self.rounding.findData(policy.rounding))
        self.minimum.setValue(policy.minimum_units)
        self.short.setValue(policy.short_call_s)
        for w in self.policy_fields:
            w.setEnabled(not self.central)
        self.loaded = True

    def policy_choice(self) -> PolicyChoice | None:
        """The policy as set here, or None when it is not this computer's to set (or not read yet)."""
        if self.central or not self.loaded:
            return None
        return PolicyChoice(
            int(self.increment.currentData()),
            str(self.rounding.currentData()),
            self.minimum.value(),
            self.short.value(),
        )
