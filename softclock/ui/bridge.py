"""The one place where work crosses into the Qt main thread.

The SIP engine calls :meth:`EventBridge.sink` on its own threads; the signal is
delivered to receivers in the main thread through Qt's queued connections.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from softclock.events import Event


class EventBridge(QObject):
    """Carries SIP events to the main thread.

    Signals:
        event_arrived(object): a :class:`softclock.events.Event`, on the main thread.
    """

    event_arrived = Signal(object)
    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._on_posted, Qt.ConnectionType.QueuedConnection)

    def sink(self, event: Event) -> None:
        """Thread-safe: hand ``event`` to the main thread."""
        self._posted.emit(event)

    def run_on_main(self, job: Callable[[], None]) -> None:
        """Thread-safe: run ``job`` on the main thread."""
        self._posted.emit(job)

    @Slot(object)
    def _on_posted(self, item: object) -> None:
        if callable(item):
            item()
        else:
            self.event_arrived.emit(item)
