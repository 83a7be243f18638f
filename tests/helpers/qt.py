"""Small helpers for driving real Qt widgets in tests."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox


def answer_when_shown(
    box_of: Callable[[], QMessageBox | None], button: QMessageBox.StandardButton, seen: list[str] | None = None
) -> None:
    """Click ``button`` of the question ``box_of()`` returns once it is up (it runs its own event
    loop); gives up after about 5 s (a question that was not asked)."""
    tries = [250]

    def click() -> None:
        box = box_of()
        if box is None or not box.isVisible():
            tries[0] -= 1
            if tries[0] > 0:
                QTimer.singleShot(20, click)
            return
        if seen is not None:
            seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, click)
