"""The matter prompt: opens beside a call, never blocks it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from softclock.formatting import MatterRow

Search = Callable[[str], list[MatterRow]]
# The preselected matter: a row, a function that finds it (run off the UI thread with the search), or none.
Suggestion = MatterRow | Callable[[], MatterRow | None] | None


class MatterPrompt(QFrame):
    """Pick the client/matter for a call by typing; Enter picks.

    With a ``runner`` (a :class:`softclock.ui.background.BackgroundRunner`) each
    search runs off the UI thread: typing never waits on the store, only the
    newest search's results are shown, and Enter pressed before they arrive
    picks the first of them when they do.

    Signals:
        matter_chosen(str, object): the key the prompt was opened for (the window uses the call's engine
            handle) and the matter id, or None for "decide later".
        results_shown(): the list shows the results of the text as it is now.
    """

    matter_chosen = Signal(str, object)
    results_shown = Signal()

    def __init__(self, search: Search, parent: QWidget | None = None, runner: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("matterPrompt")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._search = search
        self._runner = runner
        self._asked = 0  # generation of the newest search asked for
        self._shown = 0  # generation of the results on screen
        self._pick_when_shown = False
        self._call_id = ""
        self._title = QLabel("Which matter is this call for?")
        self._title.setObjectName("promptTitle")
        self._title.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the caller's display name
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Type a client, matter code or name…")
        self.filter_edit.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setMinimumWidth(260)  # beside a call on a 683 px wide screen (200 % scaling)
        self.later_button = QPushButton("Decide later")
        self._hint = QLabel("Enter picks · Esc decides later")
        self._hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.results, 1)
        row = QHBoxLayout()
        row.addWidget(self._hint, 1)
        row.addWidget(self.later_button)
        layout.addLayout(row)
        self._connect_signals()
        self.hide()

    def _connect_signals(self) -> None:
        self.filter_edit.textChanged.connect(self._on_filter_text_changed)
        self.filter_edit.returnPressed.connect(self._on_filter_return_pressed)
        self.filter_edit.installEventFilter(self)
        self.results.itemActivated.connect(self._on_results_item_activated)
        self.later_button.clicked.connect(self._on_later_button_clicked)

    @property
    def call_id(self) -> str:
        return self._call_id

    def open_for(self, call_id: str, who: str, suggestion: Suggestion = None) -> None:
        """Show the prompt for the call ``call_id``; ``suggestion`` (a row, or a function
        finding it, run with the first search) is preselected."""
        self._call_id = call_id
        self._pick_when_shown = False
        self._title.setText(f"Which matter is the call with {who} for?" if who else "Which matter is this call for?")
        self.filter_edit.blockSignals(True)
        self.filter_edit.clear()
        self.filter_edit.blockSignals(False)
        self._refresh("", suggestion)
        self.show()
        self.filter_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def close_prompt(self) -> None:
        self.hide()

    @property
    def searching(self) -> bool:
        return self._shown != self._asked

    def _refresh(self, text: str, suggestion: Suggestion = None) -> None:
        self._asked += 1
        generation = self._asked
        search = self._search

        def job() -> tuple[list[MatterRow], MatterRow | None]:
            return search(text), suggestion() if callable(suggestion) else suggestion

        if self._runner is None:
            self._show(generation, *job())
            return
        self._runner.submit(job, lambda found: self._show(generation, *found))

    def _show(self, generation: int, rows: list[MatterRow], suggestion: MatterRow | None) -> None:
        if generation != self._asked:
            return  # a newer search is on its way
        self._shown = generation
        if suggestion is not None:
            rows = [suggestion] + [r for r in rows if r.id != suggestion.id]
        self.results.clear()
        for row in rows:
            item = QListWidgetItem(row.label)
            item.setData(Qt.ItemDataRole.UserRole, row.id)
            self.results.addItem(item)
        if rows:
            self.results.setCurrentRow(0)
        if suggestion is not None and self.results.count():
            self.results.item(0).setText(f"{suggestion.label}   (suggested)")
        self.results_shown.emit()
        if self._pick_when_shown:
            self._pick_when_shown = False
            self._pick(self.results.currentItem())

    def _pick(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.hide()
        self.matter_chosen.emit(self._call_id, int(item.data(Qt.ItemDataRole.UserRole)))

    def _on_filter_text_changed(self, text: str) -> None:
        self._refresh(text)

    def _on_filter_return_pressed(self) -> None:
        if self.searching:
            self._pick_when_shown = True
            return
        self._pick(self.results.currentItem())

    def _on_results_item_activated(self, item: QListWidgetItem) -> None:
        self._pick(item)

    def _on_later_button_clicked(self) -> None:
        self._pick_when_shown = False
        self.hide()
        self.matter_chosen.emit(self._call_id, None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.filter_edit and event.type() == QEvent.Type.KeyPress:
            if not isinstance(event, QKeyEvent):
                return super().eventFilter(watched, event)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                return True
            if key == Qt.Key.Key_Escape:
                self._on_later_button_clicked()
                return True
        return super().eventFilter(watched, event)
