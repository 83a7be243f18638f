"""Windows that fit the screen they open on, whatever its scaling.

At 200 % a 1366x768 laptop screen is 683x384 logical pixels: a window's content
may need more than that, so it scrolls instead of pushing the window past the
screen, and what opens inside it later (the matter prompt beside a call) never
grows the window either.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

# What a default window leaves of the screen's free area for the window manager's
# title bar and borders (not known before the window maps): a tenth of the height,
# 20 pixels of the width.
_HEIGHT_SHARE = 0.9
_BORDERS = 20


def scrollable(content: QWidget, follow: QWidget | None = None) -> QScrollArea:
    """``content`` in a frameless scroll area that sizes it to the window when there is room
    (no scroll bars then) and scrolls it when there is not. The area's own minimum size is
    small and fixed: a larger minimum inside (a panel shown) no longer grows the window.
    ``follow``: a panel inside that is scrolled into view whenever it is shown."""
    area = _FitArea()
    area.setObjectName("fitArea")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(content)
    content.installEventFilter(area)
    if follow is not None:
        _Follow(area, follow)
    return area


class _FitArea(QScrollArea):
    """Gives its widget the viewport's size, or the widget's minimum where that is larger.

    Not ``widgetResizable``: with word-wrapped labels inside, Qt sizes a resizable
    widget by its height-for-width, i.e. every panel at its preferred height, and a
    small screen scrolls through a page twice as tall as it needs to be."""

    def resizeEvent(self, event: QResizeEvent) -> None:  # a Qt override
        super().resizeEvent(event)
        self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # a Qt override
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit()  # a panel was shown or hidden: the minimum may have changed
        return super().eventFilter(watched, event)

    def fit(self) -> None:
        content = self.widget()
        if content is None:
            return
        layout = content.layout()
        if layout is not None:
            layout.activate()
        least = content.minimumSizeHint().expandedTo(content.minimumSize())
        room = self.maximumViewportSize()  # the area less its frame, without scroll bars
        if least.height() > room.height():  # a vertical bar will show and take its width
            room.setWidth(room.width() - self.verticalScrollBar().sizeHint().width())
        if least.width() > room.width():
            room.setHeight(room.height() - self.horizontalScrollBar().sizeHint().height())
        content.resize(room.expandedTo(least))


class _Follow(QObject):
    """Scrolls to ``panel`` each time it is shown, once the layout has placed it."""

    def __init__(self, area: QScrollArea, panel: QWidget) -> None:
        super().__init__(area)
        self._panel = panel
        panel.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # a Qt override
        if watched is self._panel and event.type() == QEvent.Type.Show:
            QTimer.singleShot(0, self._scroll)  # after the layout request the showing posts
        return False

    def _scroll(self) -> None:
        """In this area and any around it (the window's own, on a narrow screen)."""
        holder = self._panel.parentWidget()
        while holder is not None:
            if isinstance(holder, QScrollArea):
                if isinstance(holder, _FitArea):
                    holder.fit()
                holder.ensureWidgetVisible(self._panel, 0, 0)
            holder = holder.parentWidget()


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width`` x ``height``, or less where the screen it opens on is smaller."""
    screen = window.screen()
    if screen is None:
        window.resize(width, height)
        return
    free = screen.availableGeometry()
    window.resize(min(width, free.width() - _BORDERS), min(height, int(free.height() * _HEIGHT_SHARE)))
