"""Windows that fit the screen they open on, whatever its scaling.

At 200 % a 1366x768 laptop screen is 683x384 logical pixels: a window's content
may need more than that, so it scrolls instead of pushing the window past the
screen, and what opens inside it later (the matter prompt beside a call) never
grows the window either.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

# What a default window leaves of the screen's free area for the window manager's
# title bar and borders (not known before the window maps): a tenth of the height,
# 20 pixels of the width.
_HEIGHT_SHARE = 0.9
_BORDERS = 20


def scrollable(content: QWidget) -> QScrollArea:
    """``content`` in a frameless scroll area that sizes it to the window when there is room
    (no scroll bars then) and scrolls it when there is not. The area's own minimum size is
    small and fixed: a larger minimum inside (a panel shown) no longer grows the window."""
    area = QScrollArea()
    area.setObjectName("fitArea")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(content)
    return area


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize ``window`` to ``width`` x ``height``, or less where the screen it opens on is smaller."""
    screen = window.screen()
    if screen is None:
        window.resize(width, height)
        return
    free = screen.availableGeometry()
    window.resize(min(width, free.width() - _BORDERS), min(height, int(free.height() * _HEIGHT_SHARE)))
