"""The sync service: one worker thread that pushes the outbox and pulls reference data.

It never runs on the UI thread. Failures are recorded in words in the local
store (softclock.sync.state) and retried with exponential backoff and jitter;
approvals keep queueing meanwhile. ``kick()`` asks for a push now (after an
approval), but never shortens a backoff that is under way.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from softclock.formatting import utc_now
from softclock.settings import CentralSettings
from softclock.store.db import Store
from softclock.sync import state
from softclock.sync.connect import Target, describe, parse_url
from softclock.sync.pull import PullResult, pull
from softclock.sync.push import PushResult, note_failure, push_batch

log = logging.getLogger("softclock.sync")

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0


def backoff_s(failures: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: half fixed, half random, capped."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, failures - 1))
    return ceiling / 2 + rng() * ceiling / 2


@dataclass(frozen=True)
class SyncReport:
    push: PushResult
    pull: PullResult | None


class Sync:
    """Push and pull between one local store and the central store."""

    def __init__(self, store: Store, central: CentralSettings, timekeeper: str, engine: Engine | None = None) -> None:
        self.store = store
        self.settings = central
        self.configured = bool(central.url)
        self.target = Target(parse_url(central.url), central.sslmode, central.sslrootcert) if central.url else None
        # On PostgreSQL the login is the timekeeper (row-level security checks it); on SQLite, the settings say.
        self.identity = (self.target.user if self.target and self.target.is_postgres else "") or timekeeper
        self._engine = engine
        self._known = False

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            assert self.target is not None, "no central store configured"
            self._engine = self.target.engine()
        return self._engine

    def _ensure_timekeeper(self) -> None:
        """An embedded (SQLite) store is one person's: they are its timekeeper. On PostgreSQL an admin adds them."""
        if self._known or self.engine.dialect.name != "sqlite":
            return
        from softclock.sync.admin import NewTimekeeper, add_timekeeper
        from softclock.sync.central import Timekeeper

        with self.engine.connect() as conn:
            known = conn.execute(select(Timekeeper.id).where(Timekeeper.id == self.identity)).first()
        if not known:
            add_timekeeper(self.engine, NewTimekeeper(self.identity, self.identity), None)
        self._known = True

    def push_all(self) -> PushResult:
        self._ensure_timekeeper()
        sent = already = conflicts = 0
        while True:
            r = push_batch(self.store, self.engine, self.identity, self.settings.privacy)
            sent, already, conflicts = sent + r.sent, already + r.already, conflicts + r.conflicts
            if r.done + r.conflicts == 0:
                return PushResult(sent, already, conflicts)

    def once(self, pull_too: bool = True) -> SyncReport:
        """Push everything waiting, then pull; raises on failure after recording it."""
        try:
            pushed = self.push_all()
            pulled = pull(self.store, self.engine, self.identity) if pull_too else None
        except Exception as exc:
            message = describe(exc, self.target) if self.target else str(exc)
            log.warning("sync failed: %s", message)
            note_failure(self.store, message)
            raise SyncFailed(message) from None
        if pulled is not None:
            with self.store.session() as s, s.begin():
                state.put(s, state.LAST_OK, utc_now().isoformat())
        return SyncReport(pushed, pulled)

    def status(self) -> state.SyncStatus:
        with self.store.session() as s:
            return state.status(s, self.configured)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class SyncFailed(Exception):
    """The central store could not be used; the message says why in words."""


class SyncWorker:
    """Runs :class:`Sync` on its own thread; reports status through ``on_status`` (called on that thread)."""

    def __init__(self, sync: Sync, on_status: Callable[[state.SyncStatus], None] | None = None,
                 interval_s: float | None = None) -> None:  # fmt: skip
        self.sync = sync
        self.on_status = on_status
        self.interval_s = interval_s if interval_s is not None else max(5, sync.settings.interval_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.rounds = 0
        self._round_done = threading.Condition()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="softclock-sync", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Push soon (called after an approval); never waits."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_rounds(self, n: int, timeout: float) -> bool:
        """Block until ``n`` rounds have finished in total (for tests and the CLI)."""
        with self._round_done:
            return self._round_done.wait_for(lambda: self.rounds >= n, timeout)

    def _run(self) -> None:
        next_pull = 0.0
        while not self._stop.is_set():
            wait = self.interval_s
            try:
                now = time.monotonic()
                self.sync.once(pull_too=now >= next_pull)
                if now >= next_pull:
                    next_pull = now + self.interval_s
                self.failures = 0
            except SyncFailed:
                self.failures += 1
                wait = backoff_s(self.failures)
            except Exception:  # a bug must not kill sync for the session: log it and back off
                log.exception("sync round failed unexpectedly")
                self.failures += 1
                wait = backoff_s(self.failures)
            self._report()
            with self._round_done:
                self.rounds += 1
                self._round_done.notify_all()
            if self.failures:
                self._stop.wait(wait)  # a kick does not shorten a backoff
                self._wake.clear()
            else:
                self._wake.wait(wait)
                self._wake.clear()

    def _report(self) -> None:
        if self.on_status is None:
            return
        try:
            self.on_status(self.sync.status())
        except Exception:
            log.exception("sync status callback failed")
