"""What the engine's parts share: the command queue, the event sink and the call table.

* :class:`Dispatcher`: jobs for the engine's command thread (the one thread that
  calls into pjsua2 on behalf of callers), jobs for later, and the sink that
  takes every event. A sink that raises is logged, never propagated.
* :class:`CallTable`: the live calls by the engine's handle, behind one lock
  (the command thread and the event thread both add, look up and drop calls).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from softclock import events as ev
from softclock.sip.config import Sink
from softclock.sip.pjwrap import Call

log = logging.getLogger("softclock.sip")

Job = Callable[[], None]


def now() -> tuple[float, datetime]:
    """The monotonic and the UTC time of a callback, for the event it becomes."""
    return time.monotonic(), datetime.now(UTC)


class Dispatcher:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._commands: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._after_poll: list[Job] = []  # event thread only

    def after_poll(self, job: Job) -> None:
        """Run ``job`` on the event thread once the current ``libHandleEvents`` has returned
        (call only from a callback on the event thread: pjsua sends what it queued first)."""
        self._after_poll.append(job)

    def run_after_poll(self) -> None:
        """On the event thread, after each poll: the jobs :meth:`after_poll` queued."""
        while self._after_poll:
            job = self._after_poll.pop(0)
            try:
                job()
            except Exception:
                log.exception("SIP job after the poll raised")

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def submit(self, job: Job) -> None:
        """Run ``job`` on the command thread (dropped once the engine is stopping)."""
        if self._stopping.is_set():
            log.debug("SIP engine is stopping; command dropped")
            return
        self._commands.put(job)

    def put(self, job: Job) -> None:
        """Run ``job`` on the command thread, even while stopping (clean-up a callback needs)."""
        self._commands.put(job)

    def submit_later(self, delay_s: float, job: Job) -> None:
        """Run ``job`` on the command thread after ``delay_s`` (dropped if the engine stops first)."""
        timer = threading.Timer(delay_s, lambda: self.submit(job))
        timer.daemon = True
        timer.start()

    def stop(self) -> None:
        """Drop further commands and end the command loop after the jobs already queued."""
        self._stopping.set()
        self._commands.put(None)

    def next_job(self, timeout: float | None = None) -> Job | None:
        """The next job for the command thread; None ends the loop. Raises queue.Empty on timeout."""
        return self._commands.get(timeout=timeout)

    def emit(self, event: ev.Event) -> None:
        try:
            self._sink(event)
        except Exception:
            log.exception("event sink raised on %s", type(event).__name__)

    def emit_call(self, call: Call, event: ev.Event) -> None:
        """An event about ``call``: held back until the call's first event went out."""
        call.deliver(event, self.emit)

    def announce(self, call: Call, event: ev.Event) -> None:
        call.announce(event, self.emit)


class CallTable:
    def __init__(self) -> None:
        self._calls: dict[int, Call] = {}
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls[call.handle] = call

    def get(self, handle: int) -> Call | None:
        with self._lock:
            return self._calls.get(handle)

    def live(self, handle: int) -> Call | None:
        """The call, unless it is gone or has ended."""
        call = self.get(handle)
        return None if call is None or call.ended else call

    def pop(self, handle: int) -> Call | None:
        with self._lock:
            return self._calls.pop(handle, None)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._calls)

    def connected_except(self, handle: int) -> list[Call]:
        """The other calls in progress (answered and not ended)."""
        with self._lock:
            return [c for h, c in self._calls.items() if h != handle and c.connected and not c.ended]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
