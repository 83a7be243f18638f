"""The one database worker: every store operation of the desktop app runs here, one at a time.

One thread owns the store's writes, so two writers never wait on each other's
lock and the UI thread never waits on the store (Anki's collection executor
is the model). A job is a plain callable; :meth:`DbWorker.submit` returns a
:class:`concurrent.futures.Future` whose callbacks run on this thread (the UI
hands results to its own thread, see ``softclock.ui.background``).

Timers live here too (:meth:`DbWorker.later`): capture's crash heartbeat and
its retries of a store that refused writes. A timer is a job like any other,
so it never runs beside another store operation; the thread sleeps when
nothing is due.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger("softclock.worker")

T = TypeVar("T")


class WorkerStopped(RuntimeError):
    """Work handed to a worker that has stopped (the app is quitting): it is not run."""


def _log_bug(where: str, exc: BaseException) -> None:
    log.error("bug in %s", where, exc_info=exc)


class DbWorker:
    """A serial executor with timers, on one daemon thread.

    Args:
        name: the thread's name.
        on_bug: where an exception of a job nobody waits for goes (a timer's,
            or a submitted job whose future has no reader); the desktop app
            sets its bug reporter here.
        mono: the monotonic clock (timers).
    """

    def __init__(
        self,
        name: str = "db-worker",
        on_bug: Callable[[str, BaseException], object] = _log_bug,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_bug = on_bug
        self._mono = mono
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], object]]] = []
        self._timers_lock = threading.Lock()
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ API

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` after everything submitted before it; its result or exception lands in the future."""
        future: Future[T] = Future()
        if self._stopped:
            future.set_exception(WorkerStopped("the database worker has stopped"))
            return future
        self._jobs.put((job, future))
        return future

    def call(self, job: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``job`` on the worker and wait for its result (never from the UI thread).

        On the worker itself it runs at once (a job may call a facade)."""
        if threading.current_thread() is self._thread:
            return job()
        return self.submit(job).result(timeout)

    def later(self, delay_s: float, job: Callable[[], object]) -> None:
        """Run ``job`` on the worker in ``delay_s`` seconds (once)."""
        with self._timers_lock:
            heapq.heappush(self._timers, (self._mono() + delay_s, next(self._seq), job))
        self._jobs.put(_WAKE)  # the worker recomputes how long it may sleep

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every job submitted so far has run."""
        if threading.current_thread() is not self._thread and not self._stopped:
            self.submit(lambda: None).result(timeout)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Run what is queued, drop the timers, end the thread."""
        if self._stopped:
            return
        self._stopped = True
        with self._timers_lock:
            self._timers.clear()
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    # ------------------------------------------------------------------ thread

    def _next_timeout(self) -> float | None:
        with self._timers_lock:
            if not self._timers:
                return None
            return max(0.0, self._timers[0][0] - self._mono())

    def _due(self) -> list[Callable[[], object]]:
        now = self._mono()
        due: list[Callable[[], object]] = []
        with self._timers_lock:
            while self._timers and self._timers[0][0] <= now:
                due.append(heapq.heappop(self._timers)[2])
        return due

    def _run(self) -> None:
        while True:
            try:
                item = self._jobs.get(timeout=self._next_timeout())
            except queue.Empty:
                item = _WAKE
            if item is None:
                return
            if item is not _WAKE:
                job, future = item
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(job())
                    except BaseException as exc:
                        future.set_exception(exc)
            for timer in self._due():
                try:
                    timer()
                except Exception as exc:
                    self.on_bug("a timer on the database worker", exc)


_WAKE: Any = ("wake", None)
