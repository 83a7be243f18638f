"""The thread shared by the engine's watchers (:mod:`.netwatch`, :mod:`.failover`)."""

from __future__ import annotations

import logging
import select
import socket
import threading


class Poller:
    """Calls :meth:`check_once` on a daemon thread every :meth:`_wait_s` seconds until :meth:`stop`.

    The thread sleeps in ``select`` on the sockets :meth:`_sockets` names (e.g. a
    netlink socket): one becoming readable calls :meth:`on_readable` at once, so a
    watcher can be told by the kernel instead of asking it on a short period. A
    bug in one poll is logged with its traceback and the next poll runs: a
    watcher that died silently would leave the phone deaf to what it watches.
    """

    def __init__(self, name: str, log: logging.Logger) -> None:
        self._log = log
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for a poll in progress (not when called from a poll itself)."""
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self._join_s())

    def check_once(self) -> object:
        raise NotImplementedError

    def _wait_s(self) -> float:
        raise NotImplementedError

    def _sockets(self) -> list[socket.socket]:
        """Sockets whose data wakes the thread (none: a plain timer)."""
        return []

    def on_readable(self, sock: socket.socket) -> None:
        """``sock`` has data (on the watcher's thread)."""

    def _join_s(self) -> float:
        """How long one poll can take, at most."""
        return self._wait_s() + 1.0

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                watched = [self._wake_r, *self._sockets()]
                ready, _, _ = select.select(watched, [], [], max(0.0, self._wait_s()))
                if self._stop.is_set():
                    break
                try:
                    for sock in ready:
                        if sock is not self._wake_r:
                            self.on_readable(sock)
                    if not ready:
                        self.check_once()
                except Exception:
                    self._log.exception("bug in %s", self._thread.name)
        finally:
            self._wake_r.close()
            self._wake_w.close()
