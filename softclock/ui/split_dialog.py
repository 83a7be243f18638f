"""Split one draft into pieces: durations typed as m:ss, a matter per piece,
and the billed units of each piece shown as they are typed (a piece that bills
none says why). The last piece takes what the others leave."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import MatterRow, fmt_minutes, parse_duration
from softclock.ui.background import BackgroundRunner

# A matter search runs once typing pauses this long: on 100,000 matters one
# search takes tens of milliseconds (bench/store_scale.py), too much per keystroke.
SEARCH_DELAY_MS = 150

# Seconds the pieces may miss the raw time by: whole seconds typed for a
# fractional time (review.split gives the difference to the last piece).
TOLERANCE_S = 0.5


@dataclass(frozen=True)
class SplitTarget:
    """The draft being split, as the dialog needs it."""

    entry_id: str
    raw_seconds: float
    matter: MatterRow | None
    billable: bool


# (seconds of each piece, matter id of each piece) -> billed units of each piece, and for a
# piece that bills none why not (billing.zero_piece_reasons; "" otherwise)
Units = Callable[[list[float], list[int | None]], list[tuple[int, str]]]
Search = Callable[[str], list[MatterRow]]


class _Piece:
    """One row of the dialog: duration, matter, billed units."""

    def __init__(self, seconds: float, matter: MatterRow | None) -> None:
        self.duration = QLineEdit(fmt_minutes(seconds))
        self.duration.setPlaceholderText("m:ss")
        self.matter = QComboBox()
        self.matter.setMinimumWidth(260)
        self.billed = QLabel("")
        self.offer([matter] if matter else [], matter)

    def seconds(self) -> float | None:
        return parse_duration(self.duration.text())

    def matter_id(self) -> int | None:
        row = self.matter.currentData()
        return row.id if isinstance(row, MatterRow) else None

    def offer(self, rows: list[MatterRow], keep: MatterRow | None) -> None:
        """Offer ``rows`` (and "Unassigned"), keeping ``keep`` selected."""
        self.matter.blockSignals(True)
        self.matter.clear()
        self.matter.addItem("Unassigned", None)
        shown = [keep] if keep else []
        shown += [r for r in rows if keep is None or r.id != keep.id]
        for row in shown:
            self.matter.addItem(row.label, row)
        self.matter.setCurrentIndex(1 if keep else 0)
        self.matter.blockSignals(False)


class SplitDialog(QDialog):
    """Pieces of one draft; OK only when they add up to its raw time.

    The dialog writes nothing: the Review tab reads :meth:`pieces` and
    :meth:`reason` when it is accepted.

    Signals:
        (QDialog's accepted / rejected)
        matters_offered(): the pieces' matter lists were refreshed after a search.
    """

    matters_offered = Signal()

    def __init__(self, target: SplitTarget, units: Units, search: Search, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Split entry")
        self._target = target
        self._units = units
        self._search = search
        self._pieces: list[_Piece] = []
        self.setObjectName("splitDialog")
        head = QLabel(
            f"Entry {target.entry_id[:8]}: {fmt_minutes(target.raw_seconds)} on "
            f"{target.matter.label if target.matter else 'no matter'}"
        )
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Find another matter for the pieces: client, code or name…")
        self.filter_edit.setClearButtonEnabled(True)
        self._searches = 0  # generation of the newest matter search
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._grid = QGridLayout()
        for col, title in enumerate(("Duration (m:ss)", "Matter", "Billed")):
            self._grid.addWidget(QLabel(title), 0, col)
        self.add_button = QPushButton("Add piece")
        self.remove_button = QPushButton("Remove last piece")
        self.total_label = QLabel("")
        self.total_label.setObjectName("hint")
        self.zero_label = QLabel("")  # why a piece bills 0 units
        self.zero_label.setObjectName("hint")
        self.zero_label.setWordWrap(True)
        self.zero_label.hide()
        self._filling = False  # the dialog itself is writing the last piece's duration
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason (needed when billed units were set by hand)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Split")
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(self.filter_edit)
        layout.addLayout(self._grid)
        layout.addLayout(row)
        layout.addWidget(self.total_label)
        layout.addWidget(self.zero_label)
        layout.addWidget(self.reason_edit)
        layout.addWidget(self.buttons)
        whole = round(target.raw_seconds)  # whole seconds shown; within the tolerance of the raw time
        self._add_piece(float(whole - whole // 2))
        self._add_piece(float(whole // 2))
        self._connect_signals()
        self._update()

    def _connect_signals(self) -> None:
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.filter_edit.textChanged.connect(self._search_timer.start)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    # ------------------------------------------------------------------ reading

    @property
    def target(self) -> SplitTarget:
        return self._target

    @property
    def piece_rows(self) -> list[_Piece]:
        return list(self._pieces)

    def pieces(self) -> tuple[list[float], list[int | None]]:
        """Seconds and matter id of each piece (valid once OK is enabled)."""
        return [p.seconds() or 0.0 for p in self._pieces], [p.matter_id() for p in self._pieces]

    def reason(self) -> str:
        return self.reason_edit.text().strip()

    # ------------------------------------------------------------------ rows

    def _add_piece(self, seconds: float) -> None:
        piece = _Piece(seconds, self._target.matter)
        row = len(self._pieces) + 1
        self._grid.addWidget(piece.duration, row, 0)
        self._grid.addWidget(piece.matter, row, 1)
        self._grid.addWidget(piece.billed, row, 2)
        piece.duration.textChanged.connect(partial(self._on_piece_duration_edited, piece))
        piece.matter.currentIndexChanged.connect(self._on_piece_changed)
        self._pieces.append(piece)

    def _set_duration(self, piece: _Piece, seconds: float) -> None:
        self._filling = True
        try:
            piece.duration.setText(fmt_minutes(seconds))
        finally:
            self._filling = False

    def _on_add_button_clicked(self) -> None:
        """The new piece takes half of the last one, so the pieces still add up."""
        last = self._pieces[-1].seconds()
        if last is None:
            seconds = [p.seconds() for p in self._pieces]
            self._add_piece(max(0.0, float(int(self._target.raw_seconds - sum(s for s in seconds if s)))))
        else:
            self._set_duration(self._pieces[-1], last - last // 2)
            self._add_piece(float(int(last // 2)))
        self._on_search_timer_timeout()
        self._update()

    def _on_remove_button_clicked(self) -> None:
        """The removed piece's time goes back to the one before it."""
        if len(self._pieces) <= 2:
            return
        piece = self._pieces.pop()
        removed, last = piece.seconds(), self._pieces[-1].seconds()
        for widget in (piece.duration, piece.matter, piece.billed):
            self._grid.removeWidget(widget)
            widget.deleteLater()
        if removed is not None and last is not None:
            self._set_duration(self._pieces[-1], last + removed)
        self._update()

    def _on_piece_duration_edited(self, piece: _Piece, _text: str) -> None:
        """A piece before the last was typed: the last piece takes what the others leave
        (when that is a second or more; else the total says the pieces are too long)."""
        if not self._filling and piece is not self._pieces[-1]:
            others = [p.seconds() for p in self._pieces[:-1]]
            if all(s is not None and s > 0 for s in others):
                left = round(self._target.raw_seconds) - sum(s for s in others if s is not None)
                if left >= 1:
                    self._set_duration(self._pieces[-1], float(left))
        self._update()

    def _on_search_timer_timeout(self) -> None:
        """Search on the background runner (tens of ms on 100,000 matters); only the newest answer is shown."""
        text = self.filter_edit.text()
        self._searches += 1
        generation = self._searches
        if not text.strip():
            self._offer(generation, [])
            return
        BackgroundRunner.shared().submit(lambda: self._search(text), lambda rows: self._offer(generation, rows))

    def _offer(self, generation: int, rows: list[MatterRow]) -> None:
        if generation != self._searches:
            return
        for piece in self._pieces:
            current = piece.matter.currentData()
            piece.offer(rows, current if isinstance(current, MatterRow) else None)
        self.matters_offered.emit()

    def _on_piece_changed(self, *_args: object) -> None:
        self._update()

    # ------------------------------------------------------------------ live check

    def _update(self) -> None:
        seconds = [p.seconds() for p in self._pieces]
        ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.remove_button.setEnabled(len(self._pieces) > 2)
        bad = [i + 1 for i, s in enumerate(seconds) if s is None or s <= 0]
        if bad:
            self.total_label.setText(f"Piece {bad[0]}: type a duration above zero as m:ss, e.g. 4:30.")
            for piece in self._pieces:
                piece.billed.setText("")
                piece.billed.setToolTip("")
            self.zero_label.hide()
            ok_button.setEnabled(False)
            return
        valid = [s for s in seconds if s is not None]
        bills = self._units(valid, [p.matter_id() for p in self._pieces])
        zero = []
        for number, (piece, (count, why)) in enumerate(zip(self._pieces, bills, strict=True), start=1):
            piece.billed.setText(
                f"{count} unit{'s' if count != 1 else ''}" if self._target.billable else "not billable"
            )
            piece.billed.setToolTip(f"0 units: {why}." if why else "")
            if why:
                zero.append(f"Piece {number} bills 0 units: {why}.")
        self.zero_label.setText("\n".join(zero))
        self.zero_label.setVisible(bool(zero))
        diff = self._target.raw_seconds - sum(valid)
        raw = fmt_minutes(self._target.raw_seconds)
        if abs(diff) <= TOLERANCE_S:
            self.total_label.setText(f"The pieces add up to the entry's {raw}.")
        elif diff > 0:
            self.total_label.setText(f"{fmt_minutes(diff)} of the entry's {raw} is not in a piece yet.")
        else:
            self.total_label.setText(f"The pieces are {fmt_minutes(-diff)} longer than the entry's {raw}.")
        ok_button.setEnabled(abs(diff) <= TOLERANCE_S)
