"""The sync service: one worker thread that pushes the outbox and pulls reference data.

It never runs on the UI thread. Failures a person can do something about (the
central store down or refusing, a password, TLS, settings: see
:func:`known_failure`) are recorded in words in the local store
(softclock.sync.state) and retried with exponential backoff and jitter;
approvals keep queueing meanwhile. Anything else is a bug: :meth:`Sync.once`
lets it through with its traceback, and the worker hands it to ``on_bug``
(the desktop app's bug reporter) and backs off. ``kick()`` asks for a push
now (after an approval), but never shortens a backoff that is under way.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy import exc as sa_exc

from softclock.changes import Change, ChangeKind
from softclock.errors import UserError
from softclock.formatting import utc_now
from softclock.settings import CentralSettings
from softclock.store.db import Store
from softclock.sync import anchor, state
from softclock.sync.connect import Target, describe, parse_url
from softclock.sync.proposals import pull_proposals
from softclock.sync.pull import PullResult, pull
from softclock.sync.push import PushResult, note_failure, push_anchor, push_batch

log = logging.getLogger("softclock.sync")

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0


def backoff_s(failures: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: half fixed, half random, capped."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, failures - 1))
    return float(ceiling / 2 + rng() * ceiling / 2)


# SQLSTATE classes and codes of a central store that is down, refusing, not set up or short of
# something an administrator gives: a person can act on them. Any other database error (a syntax
# error, a wrong column, a unique key our own checks should have seen coming) is a bug.
_KNOWN_SQLSTATE_CLASSES = ("08", "28", "3D", "40", "53", "54", "55", "57", "58", "XX")
_KNOWN_SQLSTATES = ("42501", "42P01", "23503", "P0001", "25006")


def known_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the environment's doing (said in words and retried) rather than a bug."""
    if isinstance(exc, UserError | OSError | TimeoutError):
        return True
    if isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError
    ):
        return True  # connection refused or lost, authentication, TLS, a locked or missing SQLite file
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if getattr(exc.orig, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_TRIGGER":
            return True  # the embedded store's rules refused the change (RAISE in a trigger)
        code = getattr(exc.orig, "sqlstate", None) or ""
        return code.startswith(_KNOWN_SQLSTATE_CLASSES) or code in _KNOWN_SQLSTATES
    return False


def identity_of(central: CentralSettings, timekeeper: str) -> str:
    """Who pushes: on PostgreSQL the login (row-level security checks it); on SQLite, the timekeeper."""
    if central.url:
        target = Target(parse_url(central.url), central.sslmode, central.sslrootcert)
        if target.is_postgres and target.user:
            return target.user
    return timekeeper


@dataclass(frozen=True)
class SyncReport:
    push: PushResult
    pull: PullResult | None


class Sync:
    """Push and pull between one local store and the central store."""

    def __init__(
        self,
        store: Store,
        central: CentralSettings,
        timekeeper: str,
        engine: Engine | None = None,
        on_change: Callable[[Change], object] | None = None,
    ) -> None:
        self.store = store
        self.timekeeper = timekeeper
        self.on_change = on_change
        self.settings = central
        self.configured = bool(central.url)
        self.target = Target(parse_url(central.url), central.sslmode, central.sslrootcert) if central.url else None
        self.identity = identity_of(central, timekeeper)
        self._engine = engine
        self._known = False
        self._device: anchor.Device | None = None

    @property
    def device(self) -> anchor.Device:
        """This computer, as the chain anchors name it."""
        if self._device is None:
            self._device = anchor.device(self.store)
        return self._device

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
        """Push every waiting version, each batch anchoring the audit chain's head; with nothing to push,
        the head alone is anchored when it moved since the last anchor."""
        self._ensure_timekeeper()
        sent = already = conflicts = 0
        while True:
            r = push_batch(self.store, self.engine, self.identity, self.settings.privacy, device=self.device)
            sent, already, conflicts = sent + r.sent, already + r.already, conflicts + r.conflicts
            if r.done + r.conflicts == 0:
                push_anchor(self.store, self.engine, self.identity, self.device)
                return PushResult(sent, already, conflicts)

    def once(self, pull_too: bool = True) -> SyncReport:
        """Push everything waiting, then pull.

        A failure a person can act on (:func:`known_failure`) is recorded in
        words and raised as :class:`SyncFailed`; anything else is a bug and
        goes through as it is, traceback and all.
        """
        try:
            pushed = self.push_all()
            pulled = pull(self.store, self.engine, self.identity) if pull_too else None
            if pulled is not None:
                proposed = pull_proposals(self.store, self.engine, self.identity, self.timekeeper, utc_now())
                if proposed:
                    pulled.rows["phone-system calls"] = proposed
                    if self.on_change is not None:
                        self.on_change(Change(ChangeKind.ENTRY_CHANGED, reason="calls from the phone system"))
        except Exception as exc:
            if not known_failure(exc):
                raise
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


def _log_bug(where: str, exc: BaseException) -> None:
    log.error("bug in %s", where, exc_info=exc)


class SyncWorker:
    """Runs :class:`Sync` on its own thread; reports status through ``on_status`` (called on that thread).

    A bug in a round (anything but :class:`SyncFailed`) goes to ``on_bug(where, exception)``, by default
    the log with its traceback; the desktop app passes its bug reporter. The worker backs off and goes on.
    """

    def __init__(
        self,
        sync: Sync,
        on_status: Callable[[state.SyncStatus], None] | None = None,
        interval_s: float | None = None,
        on_bug: Callable[[str, BaseException], object] = _log_bug,
    ) -> None:
        self.sync = sync
        self.on_status = on_status
        self.on_bug = on_bug
        self.bugs = 0
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
            except Exception as exc:  # a bug: reported as one, and sync goes on for the session
                self.bugs += 1
                self.failures += 1
                wait = backoff_s(self.failures)
                try:
                    self.on_bug("a sync round", exc)
                except Exception:
                    log.exception("the bug hook failed on a sync bug")
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
        except Exception as exc:
            self.on_bug("the sync status", exc)
