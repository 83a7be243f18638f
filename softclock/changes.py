"""What changed in the core: one broadcast (:class:`ChangeBus`), each view decides whether to refresh."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class ChangeKind(enum.Enum):
    CALL_STARTED = "call_started"
    CALL_CONNECTED = "call_connected"
    CALL_ENDED = "call_ended"
    ENTRY_CHANGED = "entry_changed"  # an entry was born, edited, approved, split, merged or reopened
    RECOVERED = "recovered"
    STORE_UNAVAILABLE = "store_unavailable"  # calls are kept in memory: the store refuses writes (reason says why)
    STORE_AVAILABLE = "store_available"  # the store took everything kept in memory


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    sip_call_id: str = ""
    entry_id: str = ""
    reason: str = ""


class ChangeBus:
    """The one channel on which the core says what changed: capture (calls and
    their entries, the store refusing or taking writes again) and the review
    service (entries approved, edited, split or merged). Views subscribe and
    decide whether to refresh; the sync worker subscribes to push.

    ``publish`` calls each subscriber on the publishing thread (capture's and
    the review service's: the database worker); a Qt view hands the change to
    its own thread (``softclock.ui.bridge``).
    """

    def __init__(self) -> None:
        import threading

        self._subscribers: list[Callable[[Change], object]] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Callable[[Change], object]) -> Callable[[], None]:
        """Call ``subscriber(change)`` on each change; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, change: Change) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber(change)
