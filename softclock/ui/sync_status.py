"""The status bar's word on sync: "Synced 2 min ago", "3 waiting, central store unreachable since 10:02"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:  # the status module reads the store: not imported before the window shows
    from softclock.sync.state import SyncStatus


class SyncStatusLabel(QLabel):
    """Shows the last :class:`SyncStatus` (the reason of a failure on hover); re-worded every 30 s
    so "2 min ago" stays true, without touching the database or the network."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("syncStatus")
        self._status: SyncStatus | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(30_000)
        self._timer.timeout.connect(self._render)

    @property
    def status(self) -> SyncStatus | None:
        return self._status

    def show_status(self, status: SyncStatus) -> None:
        self._status = status
        self._render()
        if status.configured and not self._timer.isActive():
            self._timer.start()
        elif not status.configured:
            self._timer.stop()

    def _render(self) -> None:
        status = self._status
        if status is None:
            return
        self.setText(status.summary())
        problem = status.last_error if status.down_since_utc is not None else ""
        conflicts = (
            f"{status.conflicts} entries conflict with the central store: see `softclock sync status`."
            if status.conflicts
            else ""
        )
        self.setToolTip("\n".join(t for t in (problem, conflicts) if t))
        self.setStyleSheet("color: #b00020;" if status.down_since_utc is not None or status.conflicts else "")
