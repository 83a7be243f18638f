"""A matter found by typing, for the dialogs that change or add an entry: a search box and
the matching matters in a list box ("Unassigned" first). Searches run on the database
worker once typing pauses; only the newest search's answer is shown."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QVBoxLayout, QWidget

from softclock.formatting import MatterRow
from softclock.textsafe import printable
from softclock.ui.background import BackgroundRunner

Search = Callable[[str], list[MatterRow]]
SEARCH_DELAY_MS = 150


class MatterPicker(QWidget):
    """Signals: matters_offered(): a search's results are in :attr:`matter_box`."""

    matters_offered = Signal()

    def __init__(self, search: Search, current: MatterRow | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._search = search
        self._searches = 0  # generation of the newest search
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Find a matter: client, code or name…")
        self.filter_edit.setAccessibleName("Find a matter")
        self.filter_edit.setClearButtonEnabled(True)
        self.matter_box = QComboBox()
        self.matter_box.setAccessibleName("Matter")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.matter_box)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self.filter_edit.textChanged.connect(self._timer.start)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._show([], current)

    def matter(self) -> MatterRow | None:
        row = self.matter_box.currentData()
        return row if isinstance(row, MatterRow) else None

    def matter_id(self) -> int | None:
        row = self.matter()
        return row.id if row else None

    def _on_timer_timeout(self) -> None:
        text = self.filter_edit.text()
        self._searches += 1
        generation = self._searches
        BackgroundRunner.shared().submit(lambda: self._search(text), lambda rows: self._offer(generation, rows))

    def _offer(self, generation: int, rows: list[MatterRow]) -> None:
        if generation != self._searches:
            return  # a newer search is on its way
        keep = self.matter()
        self._show(rows, keep if keep else (rows[0] if rows else None))
        self.matters_offered.emit()

    def _show(self, rows: list[MatterRow], selected: MatterRow | None) -> None:
        self.matter_box.blockSignals(True)
        self.matter_box.clear()
        self.matter_box.addItem("Unassigned", None)
        shown = ([selected] if selected else []) + [r for r in rows if selected is None or r.id != selected.id]
        for row in shown:
            self.matter_box.addItem(printable(row.label), row)
        self.matter_box.setCurrentIndex(1 if selected else 0)
        self.matter_box.blockSignals(False)
