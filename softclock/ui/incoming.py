"""The ringing window: who is calling, answer or decline."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from softclock.textsafe import printable
from softclock.ui.call_widget import plain_label


class IncomingCallWindow(QWidget):
    """A small top-level window raised for an incoming call; Enter answers, Esc declines.

    :meth:`take` hands out one built ahead (:meth:`prepare`, at idle): building a
    top-level window (widgets, style sheet polish, its native window) is most of
    the main thread's work between the INVITE and the window on screen.

    Signals:
        answer_clicked(int), decline_clicked(int): the engine handle.
    """

    answer_clicked = Signal(int)
    decline_clicked = Signal(int)

    _spare: IncomingCallWindow | None = None

    def __init__(
        self, handle: int = 0, name: str = "", number: str = "", hint: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("incomingCall")
        self.handle = handle
        title = QLabel("Incoming call")
        title.setObjectName("incomingTitle")
        self.name_label = plain_label()
        self.name_label.setObjectName("callWho")
        self.number_label = plain_label()
        self.hint_label = plain_label()
        self.hint_label.setObjectName("hint")
        self.answer_button = QPushButton("Answer")
        self.answer_button.setObjectName("answerButton")
        self.answer_button.setDefault(True)
        self.decline_button = QPushButton("Decline")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.name_label)
        layout.addWidget(self.number_label)
        layout.addWidget(self.hint_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.answer_button)
        layout.addLayout(buttons)
        self.answer_button.clicked.connect(lambda: self.answer_clicked.emit(self.handle))
        self.decline_button.clicked.connect(lambda: self.decline_clicked.emit(self.handle))
        self.set_call(handle, name, number, hint)

    def set_call(self, handle: int, name: str, number: str, hint: str) -> None:
        """Show the call ``handle`` from ``name`` / ``number`` (``hint``: what else is known)."""
        # The caller chose the name: shown inert (no controls, no direction changes, no HTML).
        name, number, hint = printable(name), printable(number), printable(hint)
        self.handle = handle
        self.setWindowTitle(f"Incoming call — {name or number}")
        self.name_label.setText(name or number)
        self.number_label.setText(number if name else "")
        self.hint_label.setText(hint)
        self.answer_button.setAccessibleName(f"Answer the call from {name or number}")
        self.decline_button.setAccessibleName(f"Decline the call from {name or number}")
        # Wide enough for its title and a long name; never a sliver in a corner.
        self.setMinimumWidth(max(360, self.fontMetrics().horizontalAdvance(self.windowTitle()) + 80))

    @classmethod
    def prepare(cls) -> None:
        """Build the next ringing window now (hidden, polished, with its native window)."""
        if cls._spare is None:
            spare = cls()
            spare.ensurePolished()
            spare.winId()  # the native window exists: showing it only maps it
            cls._spare = spare

    @classmethod
    def take(cls, handle: int, name: str, number: str, hint: str) -> IncomingCallWindow:
        """A ringing window for this call: the one :meth:`prepare` built, else a new one."""
        window, cls._spare = cls._spare, None
        if window is None:
            return cls(handle, name, number, hint)
        window.set_call(handle, name, number, hint)
        return window

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.answer_clicked.emit(self.handle)
            return
        if event.key() == Qt.Key.Key_Escape:
            self.decline_clicked.emit(self.handle)
            return
        super().keyPressEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:  # centred near the top of the screen the pointer is on, not in a corner
            self.move(screen.center().x() - self.width() // 2, screen.top() + screen.height() // 5)
