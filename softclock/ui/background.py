"""Store work off the UI thread: on the one database worker, results delivered back on the main thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from softclock.worker import DbWorker, WorkerStopped

log = logging.getLogger("softclock.ui")


def _log_bug(where: str, exc: BaseException) -> None:
    log.error("bug in %s", where, exc_info=exc)


# Where bugs of background jobs go: the desktop app sets its BugReporter's report here.
on_bug: Callable[[str, BaseException], object] = _log_bug


class BackgroundRunner(QObject):
    """The UI's handle on the database worker (:class:`softclock.worker.DbWorker`).

    ``submit(job, on_done, on_error)`` returns at once; the job runs on the
    worker after everything submitted before it (by the UI, by capture, by a
    facade), and ``on_done(result)`` (or ``on_error(exception)``) runs later on
    the thread that owns the runner (the UI thread). A job that raises
    without an ``on_error`` is a bug: it goes to :data:`on_bug`.
    """

    _finished = Signal(object, object)
    _shared: BackgroundRunner | None = None

    @classmethod
    def shared(cls) -> BackgroundRunner:
        """The process's runner, on the process's one database worker: created on first use
        (from the UI thread) and never deleted, so a result can never arrive at a destroyed
        object; a receiver that is gone is skipped."""
        if cls._shared is None or cls._shared.worker.stopped:  # a stopped app's worker is not reused
            cls._shared = cls()
        return cls._shared

    def __init__(self, worker: DbWorker | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker or DbWorker(on_bug=lambda where, exc: on_bug(where, exc))
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        job: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``job``; then ``on_done(result)``, or ``on_error(exception)`` if it raised (else it is a bug)."""

        def delivered(future: Future[Any]) -> None:
            exc = future.exception()
            if isinstance(exc, WorkerStopped):
                log.debug("not run, the app is quitting: %s", job)
                return
            if exc is None:
                self._finished.emit(on_done, future.result())
            elif on_error is not None and isinstance(exc, Exception):
                self._finished.emit(on_error, exc)
            else:
                on_bug("a background job", exc)

        self.worker.submit(job).add_done_callback(delivered)

    def stop(self) -> None:
        self.worker.stop()

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
