"""Slow work off the UI thread: one worker thread, results delivered back on the main thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger("softclock.ui")


def _log_bug(where: str, exc: BaseException) -> None:
    log.error("bug in %s", where, exc_info=exc)


# Where bugs of background jobs go: the desktop app sets its BugReporter's report here.
on_bug: Callable[[str, BaseException], object] = _log_bug


class BackgroundRunner(QObject):
    """Runs jobs (database queries) one at a time on its own thread.

    ``submit(job, on_done, on_error)`` returns at once; ``on_done(result)`` (or
    ``on_error(exception)``) runs later on the thread that owns the runner (the UI
    thread). A job that raises without an ``on_error`` is logged.
    """

    _finished = Signal(object, object)
    _shared: BackgroundRunner | None = None

    @classmethod
    def shared(cls) -> BackgroundRunner:
        """The process's runner: created on first use (from the UI thread) and never deleted, so a
        result can never arrive at a destroyed object; a receiver that is gone is skipped."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Callable[[Any], None], Any] | None] = queue.SimpleQueue()
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name="ui-background", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[Exception], None] | None = None) -> None:  # fmt: skip
        """Run ``job``; then ``on_done(result)``, or ``on_error(exception)`` if it raised (else it is logged)."""
        self._jobs.put((job, on_done, on_error))

    def stop(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, on_done, on_error = item
            try:
                result = job()
            except Exception as exc:
                if on_error is None:
                    on_bug("a background job", exc)
                else:
                    self._finished.emit(on_error, exc)
                continue
            self._finished.emit(on_done, result)

    @Slot(object, object)
    def _on_finished(self, on_done: Callable[[Any], None], result: Any) -> None:
        try:
            on_done(result)
        except RuntimeError as exc:
            if "already deleted" not in str(exc):
                on_bug("a background result", exc)
                return
            log.debug("background result dropped, its widget was closed meanwhile: %s", exc)
        except Exception as exc:  # a bug in the receiver: reported, the runner carries on
            on_bug("a background result", exc)
