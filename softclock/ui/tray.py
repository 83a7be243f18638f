"""The tray icon: the phone's state at a glance (registered, unreachable, on a call with its timer),
and a menu to show the window, dial, turn on do-not-disturb or quit.

Only where the desktop has a tray (``QSystemTrayIcon.isSystemTrayAvailable()``;
GNOME without the AppIndicator extension has none): without one the app
works the same and closing the window during a call asks first.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

# The dot in the corner of the icon, by state (palette-independent: the tray is the desktop's).
_STATE_COLOURS = {"registered": "#2e7d32", "local": "#2e7d32", "call": "#c62828", "failed": "#9e9e9e", "": "#9e9e9e"}


def state_icon(state: str) -> QIcon:
    """The app's icon with a dot for ``state`` (the packaged icon when there is one)."""
    from importlib.resources import files

    base = QPixmap(64, 64)
    base.fill(Qt.GlobalColor.transparent)
    painter = QPainter(base)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    packaged = files("softclock.resources").joinpath("icons", "softclock.svg")
    if packaged.is_file():
        QIcon(str(packaged)).paint(painter, 0, 0, 64, 64)
    else:  # a clock face
        painter.setBrush(QColor("#1565c0"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(4, 4, 56, 56)
        painter.setPen(QColor("white"))
        painter.drawLine(32, 32, 32, 14)
        painter.drawLine(32, 32, 46, 32)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(_STATE_COLOURS.get(state, "#9e9e9e")))
    painter.drawEllipse(40, 40, 22, 22)
    painter.end()
    return QIcon(base)


class Tray(QObject):
    """The tray icon and its menu.

    Signals:
        show_requested(), dial_requested(), quit_requested(): from the menu (or a click on the icon: show).
        do_not_disturb_toggled(bool)
    """

    show_requested = Signal()
    dial_requested = Signal()
    quit_requested = Signal()
    do_not_disturb_toggled = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(parent)
        self.menu = QMenu()
        self.show_action = QAction("Show Softclock", self.menu)
        self.dial_action = QAction("Dial…", self.menu)
        self.dnd_action = QAction("Do not disturb", self.menu)
        self.dnd_action.setCheckable(True)
        self.quit_action = QAction("Quit", self.menu)
        for action in (self.show_action, self.dial_action, self.dnd_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.show_action.triggered.connect(self.show_requested)
        self.dial_action.triggered.connect(self.dial_requested)
        self.quit_action.triggered.connect(self.quit_requested)
        self.dnd_action.toggled.connect(self.do_not_disturb_toggled)
        self.icon.activated.connect(self._on_icon_activated)
        self._state: str | None = None
        self.set_state("", "Softclock: starting")

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    @property
    def visible(self) -> bool:
        return self.icon.isVisible()

    @property
    def tooltip(self) -> str:
        return self.icon.toolTip()

    def set_state(self, state: str, text: str) -> None:
        """``state``: registered, local, failed, call (or "" before any); ``text`` is the tooltip."""
        if state != self._state:
            self._state = state
            self.icon.setIcon(state_icon(state))
        self.icon.setToolTip(text)

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_requested.emit()
