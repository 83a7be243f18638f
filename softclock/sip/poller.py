"""The thread shared by the engine's watchers (:mod:`.netwatch`, :mod:`.failover`)."""

from __future__ import annotations

import logging
import threading


class Poller:
    """Calls :meth:`check_once` on a daemon thread every :meth:`_wait_s` seconds until :meth:`stop`.

    A bug in one poll is logged with its traceback and the next poll runs: a
    watcher that died silently would leave the phone deaf to what it watches.
    """

    def __init__(self, name: str, log: logging.Logger) -> None:
        self._log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for a poll in progress (not when called from a poll itself)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self._join_s())

    def check_once(self) -> object:
        raise NotImplementedError

    def _wait_s(self) -> float:
        raise NotImplementedError

    def _join_s(self) -> float:
        """How long one poll can take, at most."""
        return self._wait_s() + 1.0

    def _run(self) -> None:
        while not self._stop.wait(self._wait_s()):
            try:
                self.check_once()
            except Exception:
                self._log.exception("bug in %s", self._thread.name)
