"""The Review tab: drafts with raw and billed time side by side, inline
narrative editing, bulk approval, splitting one draft and merging several;
unassigned, short and recovered entries stand out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import MatterRow, as_local, fmt_duration
from softclock.textsafe import printable
from softclock.ui.background import BackgroundRunner
from softclock.ui.split_dialog import SplitDialog, SplitTarget

log = logging.getLogger("softclock.ui")

if TYPE_CHECKING:
    from softclock.billing import Policy
    from softclock.store.db import Store

COLUMNS = ("Date", "Start", "Matter", "Raw", "Billed", "Flag", "Narrative")
_HIGHLIGHT = QColor("#fff4ce")
PAGE = 200  # newest drafts shown; approving makes room for the next


class ReviewView(QWidget):
    """Drafts awaiting review.

    Signals:
        entries_changed(): an entry was edited or approved here.
    """

    entries_changed = Signal()

    def __init__(self, actor: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._actor = actor
        self._store: Store | None = None
        self._policy: Callable[[], Policy] | None = None
        self._loading = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.approve_button = QPushButton("Approve selected")
        self.select_all_button = QPushButton("Select all")
        self.split_button = QPushButton("Split…")
        self.merge_button = QPushButton("Merge selected")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason for a merge (needed when billed units were set by hand)")
        self.split_dialog: SplitDialog | None = None
        self.message = QLabel("")
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.select_all_button)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.split_button)
        buttons.addWidget(self.merge_button)
        buttons.addWidget(self.reason_edit, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.approve_button.clicked.connect(self._on_approve_button_clicked)
        self.split_button.clicked.connect(self._on_split_button_clicked)
        self.merge_button.clicked.connect(self._on_merge_button_clicked)
        self.select_all_button.clicked.connect(self.table.selectAll)
        self.table.itemChanged.connect(self._on_table_item_changed)

    def attach(self, store: Store, policy: Callable[[], Policy]) -> None:
        self._store = store
        self._policy = policy
        self.refresh()

    def refresh(self) -> None:
        if self._store is None or self._policy is None:
            return
        from softclock.review import policy_for, units_preview
        from softclock.store import queries

        self._loading = True
        self.table.setRowCount(0)
        with self._store.session() as s:
            drafts = queries.review_page(s, "draft", limit=PAGE)
            base = self._policy()
            policies: dict[int | None, Policy] = {}
            for entry in drafts:
                if entry.matter_id not in policies:
                    policies[entry.matter_id] = policy_for(s, base, entry.matter_id)
            preview = units_preview(s, drafts, lambda e: policies[e.matter_id])
            for entry in drafts:
                policy = policies[entry.matter_id]
                billed = preview[entry.id]
                started = as_local(entry.started_utc)
                flag = entry.flag or ("unassigned" if entry.matter is None else "")
                matter = printable(f"{entry.matter.code} — {entry.matter.client.name}") if entry.matter else "Unassigned"
                values = [
                    entry.work_date.isoformat(),
                    started.strftime("%H:%M") if started else "",
                    matter,
                    fmt_duration(entry.raw_seconds),
                    f"{billed} × {policy.increment_min} min" if entry.billable else "not billable",
                    flag,
                    printable(entry.narrative),  # controls shown as escapes; unchanged unless edited
                ]
                row = self.table.rowCount()
                self.table.insertRow(row)
                for col, value in enumerate(values):
                    item = QTableWidgetItem(value)
                    if col != len(COLUMNS) - 1:
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    if flag:
                        item.setBackground(QBrush(_HIGHLIGHT))
                    item.setData(Qt.ItemDataRole.UserRole, entry.id)
                    self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self._loading = False

    def _selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) for row in rows]

    def _on_approve_button_clicked(self) -> None:
        if self._store is None or self._policy is None:
            return
        from softclock import review

        ids = self._selected_ids()
        if not ids:
            self.message.setText("Select the entries to approve.")
            return
        store, actor, policy = self._store, self._actor(), self._policy()

        def approve() -> review.Outcome:  # on the background runner: a bulk approval is a big write
            with store.session() as s, s.begin():
                return review.approve(s, ids, actor, policy)

        self.approve_button.setEnabled(False)
        self.message.setText(f"Approving {len(ids)}…")
        BackgroundRunner.shared().submit(approve, self._on_approved, self._on_approve_failed)

    def _on_approve_failed(self, exc: Exception) -> None:
        log.exception("approval failed", exc_info=exc)
        self.approve_button.setEnabled(True)
        self.message.setText(f"Not approved — the store failed: {exc}")

    def _on_approved(self, outcome: object) -> None:
        from softclock.review import Outcome

        assert isinstance(outcome, Outcome)
        self.approve_button.setEnabled(True)
        refused = [f"{entry_id[:8]}: {why}" for entry_id, why in outcome.refused.items()]
        done = f"Approved {len(outcome.done)}."
        self.message.setText(done + (" Not approved — " + "; ".join(refused) if refused else ""))
        self.refresh()
        self.entries_changed.emit()

    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if self._loading or self._store is None or item.column() != len(COLUMNS) - 1:
            return
        from softclock import review

        entry_id = item.data(Qt.ItemDataRole.UserRole)
        try:
            with self._store.session() as s, s.begin():
                review.edit(s, entry_id, self._actor(), narrative=item.text())
        except review.ReviewError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        self.entries_changed.emit()

    # ------------------------------------------------------------------ split and merge

    def _on_split_button_clicked(self) -> None:
        if self._store is None or self._policy is None:
            return
        from softclock.store.models import TimeEntry
        from softclock.store.queries import matter_row

        ids = self._selected_ids()
        if len(ids) != 1:
            self.message.setText("Select the one entry to split.")
            return
        with self._store.session() as s:
            entry = s.get(TimeEntry, ids[0])
            if entry is None:
                self.refresh()
                return
            matter = matter_row(s, entry.matter_id) if entry.matter_id is not None else None
            target = SplitTarget(entry.id, entry.raw_seconds, matter, entry.billable)
        self.split_dialog = SplitDialog(target, self._piece_units(target.billable), self._search_matters, self)
        self.split_dialog.accepted.connect(self._on_split_dialog_accepted)
        self.split_dialog.open()

    def _piece_units(self, billable: bool) -> Callable[[list[float], list[int | None]], list[int]]:
        """Billed units of split pieces, as review.split will set them; each
        matter's policy is read once per dialog."""
        assert self._store is not None and self._policy is not None
        from softclock.review import ReviewError, piece_units, policy_for

        store, base = self._store, self._policy()
        policies: dict[int | None, Policy] = {}

        def units(seconds: list[float], matters: list[int | None]) -> list[int]:
            for matter_id in matters:
                if matter_id not in policies:
                    with store.session() as s:
                        try:
                            policies[matter_id] = policy_for(s, base, matter_id)
                        except ReviewError:
                            policies[matter_id] = base  # split itself refuses it, with the reason
            return piece_units(seconds, [policies[m] for m in matters], billable)

        return units

    def _search_matters(self, text: str) -> list[MatterRow]:
        assert self._store is not None
        from softclock.store.queries import search_matters

        with self._store.session() as s:
            return search_matters(s, text, limit=30)

    def _on_split_dialog_accepted(self) -> None:
        dialog = self.split_dialog
        if dialog is None or self._store is None or self._policy is None:
            return
        from softclock import review

        seconds, matters = dialog.pieces()
        entry_id = dialog.target.entry_id
        try:
            with self._store.session() as s, s.begin():
                pieces = review.split(s, entry_id, self._actor(), seconds, self._policy(), dialog.reason(), matters)
                count = len(pieces)
        except review.ReviewError as exc:
            self.message.setText(f"Not split — {exc}")
            return
        self.message.setText(f"Split {entry_id[:8]} into {count} entries.")
        self.refresh()
        self.entries_changed.emit()

    def _on_merge_button_clicked(self) -> None:
        if self._store is None or self._policy is None:
            return
        from softclock import review

        ids = self._selected_ids()
        if len(ids) < 2:
            self.message.setText("Select the entries to merge (two or more, of one matter and day).")
            return
        try:
            with self._store.session() as s, s.begin():
                merged = review.merge(s, ids, self._actor(), self._policy(), self.reason_edit.text().strip())
                kept = merged.id
        except review.ReviewError as exc:
            self.message.setText(f"Not merged — {exc}")
            return
        self.message.setText(f"Merged {len(ids)} entries into {kept[:8]}.")
        self.reason_edit.clear()
        self.refresh()
        self.entries_changed.emit()
