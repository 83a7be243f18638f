"""The Review tab: drafts with raw and billed time side by side, inline
narrative editing, bulk approval, splitting one draft and merging several;
unassigned, short and recovered entries stand out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import MatterRow, as_local, fmt_duration
from softclock.textsafe import printable
from softclock.ui import palette
from softclock.ui.background import BackgroundRunner
from softclock.ui.split_dialog import SplitDialog, SplitTarget

log = logging.getLogger("softclock.ui")

if TYPE_CHECKING:
    from softclock.facades import DraftRow, EntryRow, MatterCatalog, ReviewService
    from softclock.review import Outcome
    from softclock.ui.entry_dialog import EntryDialog
    from softclock.ui.manual_entry_dialog import ManualEntryDialog

T = TypeVar("T")

COLUMNS = ("Date", "Start", "Matter", "Raw", "Billed", "Flag", "Narrative")
PAGE = 200  # newest drafts shown; approving makes room for the next


class ReviewView(QWidget):
    """Drafts awaiting review. Every change made here is signed by the acting person
    (the review service knows who) and announced on the change bus.

    Signals:
        drafts_shown(): the table shows the drafts as the store had them when last asked.
    """

    drafts_shown = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._review: ReviewService | None = None
        self._matters: MatterCatalog | None = None
        self._runner: BackgroundRunner | None = None
        self._asked = 0  # generation of the newest read of the drafts
        self._sized = False  # columns fitted to the first drafts shown
        self._shown: dict[str, DraftRow] = {}  # the drafts on screen, by id
        self.confirm_box: QMessageBox | None = None  # "before you approve" while it is open
        self._loading = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.approve_button = QPushButton("Approve selected")
        self.select_all_button = QPushButton("Select all")
        self.add_button = QPushButton("Add a mobile call…")
        self.add_button.setToolTip("Enter by hand a call made on a mobile phone")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Change the matter, codes, billable or billed units (double-click a row)")
        self.split_button = QPushButton("Split…")
        self.merge_button = QPushButton("Merge selected")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason for a merge (needed when billed units were set by hand)")
        self.split_dialog: SplitDialog | None = None
        self.entry_dialog: EntryDialog | None = None
        self.manual_dialog: ManualEntryDialog | None = None
        self.message = QLabel("")
        self.message.setObjectName("reviewMessage")  # red only for what went wrong (the "kind" property)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.select_all_button)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.split_button)
        buttons.addWidget(self.merge_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addWidget(self.reason_edit)  # a row of its own: the tab fits a 200 % laptop screen (683 px)
        self.approve_button.clicked.connect(self._on_approve_button_clicked)
        self.split_button.clicked.connect(self._on_split_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.table.cellDoubleClicked.connect(self._on_table_cell_double_clicked)
        self.merge_button.clicked.connect(self._on_merge_button_clicked)
        self.select_all_button.clicked.connect(self.table.selectAll)
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.table.installEventFilter(self)

    def attach(self, review: ReviewService, matters: MatterCatalog, runner: BackgroundRunner) -> None:
        """The review service and matter catalogue (softclock.facades), run on ``runner``'s database worker."""
        self._review = review
        self._matters = matters
        self._runner = runner
        self.refresh()

    def refresh(self) -> None:
        if self._review is None or self._runner is None:
            return
        self._asked += 1
        generation = self._asked
        self._runner.submit(self._review.drafts, lambda drafts: self._show_drafts(generation, drafts))

    def _show_drafts(self, generation: int, drafts: list[DraftRow]) -> None:
        if generation != self._asked:
            return  # a newer read is on its way
        self._shown = {draft.entry.id: draft for draft in drafts}
        self._loading = True
        self.table.setRowCount(0)
        for draft in drafts:
            entry = draft.entry
            started = as_local(entry.started_utc)
            flag = entry.flag or ("unassigned" if entry.matter is None else "")
            values = [
                entry.work_date.isoformat(),
                started.strftime("%H:%M") if started else "",
                printable(entry.matter_text),
                fmt_duration(entry.raw_seconds),
                f"{draft.preview_units} × {draft.increment_min} min" if entry.billable else "not billable",
                flag,
                printable(entry.narrative),  # controls shown as escapes; unchanged unless edited
            ]
            row = self.table.rowCount()
            self.table.insertRow(row)
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col != len(COLUMNS) - 1:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                self.table.setItem(row, col, item)
        self._colour_flagged()
        if not self._sized and drafts:  # once: afterwards the widths are the person's (and remembered)
            self._sized = True
            self.table.resizeColumnsToContents()
        self._loading = False
        self.drafts_shown.emit()

    def _colour_flagged(self) -> None:
        """Flagged rows in the palette's own colours (readable in dark themes too)."""
        background, text = palette.flagged(self.table.palette())
        was, self._loading = self._loading, True  # colouring is not an edit
        try:
            for row in range(self.table.rowCount()):
                flag = self.table.item(row, COLUMNS.index("Flag"))
                if flag is None or not flag.text():
                    continue
                for col in range(self.table.columnCount()):
                    item = self.table.item(row, col)
                    if item is not None:
                        item.setBackground(QBrush(background))
                        item.setForeground(QBrush(text))
        finally:
            self._loading = was

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The table's palette changed (a theme switched while the tab is open): recolour the flagged rows."""
        if watched is self.table and event.type() == QEvent.Type.PaletteChange:
            self._colour_flagged()
        return super().eventFilter(watched, event)

    def _selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        items = [self.table.item(row, 0) for row in rows]
        return [str(item.data(Qt.ItemDataRole.UserRole)) for item in items if item is not None]

    def _run(
        self, job: Callable[[], T], done: Callable[[T], None], refused: str, refresh: bool = True, busy: bool = True
    ) -> None:
        """``job`` on the database worker; ``done`` with its result here. A ReviewError (what a
        person can fix) is shown after ``refused``; anything else is a bug (softclock.bugs)."""
        from softclock.errors import UserError

        assert self._runner is not None

        def failed(exc: Exception) -> None:
            self._busy(False)
            if isinstance(exc, UserError):  # a refusal with its reason, or the store refusing writes
                self._say(f"{refused} — {exc}", error=True)
                return
            from softclock.ui import background

            self._say(f"{refused} — something went wrong (details in the log).", error=True)
            background.on_bug("the Review tab", exc)

        def finished(result: T) -> None:
            self._busy(False)
            done(result)
            if refresh:
                self.refresh()  # other views learn of it on the change bus

        if busy:  # the buttons wait for a bulk action; a narrative edit queues before whatever is clicked next
            self._busy(True)
        self._runner.submit(job, finished, failed)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("kind", "error" if error else "info")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _busy(self, busy: bool) -> None:
        for button in (self.approve_button, self.edit_button, self.split_button, self.merge_button):
            button.setEnabled(not busy)

    def _on_approve_button_clicked(self) -> None:
        if self._review is None:
            return
        ids = self._selected_ids()
        if not ids:
            self._say("Select the entries to approve.", error=True)
            return
        if not self._approval_confirmed(ids):
            return
        review = self._review
        self._say(f"Approving {len(ids)}…")
        self._run(lambda: review.approve(ids), self._on_approved, "Not approved")

    def _approval_confirmed(self, ids: list[str]) -> bool:
        """Say first what approval does to unassigned and short entries; True to go ahead."""
        drafts = [self._shown[i] for i in ids if i in self._shown]
        unassigned = sum(1 for d in drafts if d.entry.matter is None and d.entry.billable)
        short = sum(1 for d in drafts if d.entry.flag == "short")
        if not unassigned and not short:
            return True
        lines = []
        if unassigned:
            lines.append(
                f"{_count(unassigned, 'entry has', 'entries have')} no matter: a billable entry needs one, "
                "so they stay drafts (Edit… chooses a matter)."
            )
        if short:
            lines.append(f"{_count(short, 'short call is', 'short calls are')} approved as not billable (0 units).")
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Before you approve",
            "\n\n".join(lines),
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("approveBox")
        box.button(QMessageBox.StandardButton.Ok).setText("Approve")
        self.confirm_box = box
        try:
            return box.exec() == QMessageBox.StandardButton.Ok
        finally:
            self.confirm_box = None
            box.deleteLater()

    def _on_approved(self, outcome: Outcome) -> None:
        refused = [f"{entry_id[:8]}: {why}" for entry_id, why in outcome.refused.items()]
        done = f"Approved {len(outcome.done)}."
        self._say(done + (" Not approved — " + "; ".join(refused) if refused else ""), error=bool(refused))

    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if self._loading or self._review is None or item.column() != len(COLUMNS) - 1:
            return
        review, entry_id, text = self._review, item.data(Qt.ItemDataRole.UserRole), item.text()
        self._run(
            lambda: review.edit(entry_id, narrative=text), lambda _row: self._say(""), "Not changed", False, False
        )

    # ------------------------------------------------------------------ edit

    def _on_table_cell_double_clicked(self, row: int, column: int) -> None:
        if column != len(COLUMNS) - 1:  # the narrative is edited in place
            self.table.selectRow(row)
            self._on_edit_button_clicked()

    def _on_edit_button_clicked(self) -> None:
        if self._review is None:
            return
        ids = self._selected_ids()
        if len(ids) != 1:
            self._say("Select the one entry to edit.", error=True)
            return
        review, entry_id = self._review, ids[0]
        self._run(lambda: review.entry(entry_id), self._open_entry_dialog, "Not changed", False)

    def _open_entry_dialog(self, entry: EntryRow | None) -> None:
        from softclock.ui.entry_dialog import EntryDialog

        if entry is None:
            self.refresh()
            return
        assert self._matters is not None
        matters = self._matters
        self.entry_dialog = EntryDialog(entry, lambda text: matters.search(text, limit=30), self)
        self.entry_dialog.accepted.connect(self._on_entry_dialog_accepted)
        self.entry_dialog.open()

    def _on_entry_dialog_accepted(self) -> None:
        dialog, review = self.entry_dialog, self._review
        if dialog is None or review is None:
            return
        changes, reason, entry_id = dialog.changes(), dialog.reason(), dialog.entry.id
        if not changes:
            self._say("Nothing was changed.")
            return
        self._run(
            lambda: review.edit_fields(entry_id, reason, changes),
            lambda _row: self._say("Entry changed."),
            "Not changed",
        )

    def _on_add_button_clicked(self) -> None:
        from softclock.ui.manual_entry_dialog import ManualEntryDialog

        if self._matters is None:
            return
        matters = self._matters
        self.manual_dialog = ManualEntryDialog(lambda text: matters.search(text, limit=30), self)
        self.manual_dialog.accepted.connect(self._on_manual_dialog_accepted)
        self.manual_dialog.open()

    def _on_manual_dialog_accepted(self) -> None:
        dialog, review = self.manual_dialog, self._review
        if dialog is None or review is None or dialog.seconds() is None:
            return
        started, seconds, number = dialog.started(), float(dialog.seconds() or 0), dialog.number_edit.text()
        matter_id, narrative = dialog.matter_id(), dialog.narrative_edit.text().strip()
        self._run(
            lambda: review.add_manual(started, seconds, number, matter_id, narrative),
            lambda _row: self._say("Mobile call added as a draft."),
            "Not added",
        )

    # ------------------------------------------------------------------ split and merge

    def _on_split_button_clicked(self) -> None:
        if self._review is None:
            return
        ids = self._selected_ids()
        if len(ids) != 1:
            self._say("Select the one entry to split.", error=True)
            return
        review = self._review

        def target() -> SplitTarget | None:  # on the worker: the entry, and its matter's policy read ahead
            entry = review.entry(ids[0])
            if entry is None:
                return None
            review.policy(None)
            review.policy(entry.matter.id if entry.matter else None)
            return SplitTarget(entry.id, entry.raw_seconds, entry.matter, entry.billable)

        self._run(target, self._open_split_dialog, "Not split", False)

    def _open_split_dialog(self, target: SplitTarget | None) -> None:
        if target is None:
            self.refresh()
            return
        self.split_dialog = SplitDialog(target, self._piece_units(target.billable), self._search_matters, self)
        self.split_dialog.accepted.connect(self._on_split_dialog_accepted)
        self.split_dialog.open()

    def _piece_units(self, billable: bool) -> Callable[[list[float], list[int | None]], list[tuple[int, str]]]:
        """Billed units of split pieces, as the split will set them, and why a piece bills none,
        from the policies read on the worker (the entry's matter's, and each matter the search offered)."""
        from softclock.billing import Policy, piece_units, zero_piece_reasons

        review = self._review
        assert review is not None

        def units(seconds: list[float], matters: list[int | None]) -> list[tuple[int, str]]:
            base = review.known_policy(None)
            found = [review.known_policy(m) or base for m in matters]
            policies = [p for p in found if isinstance(p, Policy)]
            if len(policies) != len(found):
                return [(0, "")] * len(seconds)
            counts = piece_units(seconds, policies, billable)
            return list(zip(counts, zero_piece_reasons(seconds, policies, billable), strict=True))

        return units

    def _search_matters(self, text: str) -> list[MatterRow]:
        """On the worker (the split dialog's runner): matters, each with its policy read ahead."""
        assert self._matters is not None and self._review is not None
        rows = self._matters.search(text, limit=30)
        for row in rows:
            self._review.policy(row.id)
        return rows

    def _on_split_dialog_accepted(self) -> None:
        dialog = self.split_dialog
        if dialog is None or self._review is None:
            return
        seconds, matters = dialog.pieces()
        entry_id, reason, review = dialog.target.entry_id, dialog.reason(), self._review
        self._run(
            lambda: review.split(entry_id, seconds, reason, matters),
            lambda pieces: self._say(f"Split into {len(pieces)} entries."),
            "Not split",
        )

    def _on_merge_button_clicked(self) -> None:
        if self._review is None:
            return
        ids = self._selected_ids()
        if len(ids) < 2:
            self._say("Select the entries to merge (two or more, of one matter and day).", error=True)
            return
        review, reason = self._review, self.reason_edit.text().strip()

        def merged(row: EntryRow) -> None:
            self._say(f"Merged {len(ids)} entries into one of {fmt_duration(row.raw_seconds)}.")
            self.reason_edit.clear()

        self._run(lambda: review.merge(ids, reason), merged, "Not merged")


def _count(n: int, one: str, many: str) -> str:
    return f"1 {one}" if n == 1 else f"{n} {many}"
