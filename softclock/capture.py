"""Call events -> call records, segments and draft time entries.

Capture is the single writer of capture data. It runs on the thread that
delivers events (the UI's main thread in the app).

Time semantics (docs/architecture.md): billable talk time runs from the SIP
answer (CONFIRMED) to DISCONNECTED, or to the moment the user pressed hang up
if that was earlier. Durations are differences of the monotonic clock read in
the SIP callbacks; wall-clock UTC only stamps when things happened. Ring time
is recorded, never billed. A call that never connected still gets a call
record, with a disposition and no entry.

No call is lost to the store. Each call lives in memory (:class:`_Call`) from
its first event until the store has its final state; every event changes that
memory and then writes the call's whole state (idempotent: rows are keyed by
ids decided in memory). A write the store refuses (locked by another writer
past a short wait, disk full, read-only, I/O error) leaves the work queued, the
person is told at once (``ChangeKind.STORE_UNAVAILABLE``), and the queue is
written again on the next event, heartbeat or :meth:`Capture.retry`. Calls are
keyed by the engine's handle (one per dialog), so a second dialog that reuses
a live call's Call-ID is a call of its own.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from softclock import audit
from softclock import events as ev
from softclock.changes import Change, ChangeKind
from softclock.formatting import utc_now
from softclock.matching import number_from_uri
from softclock.states import Disposition, EntryStatus
from softclock.store.db import Store
from softclock.store.models import Call, ContactNumber, Segment, TimeEntry
from softclock.store.queries import utc_naive

log = logging.getLogger("softclock.capture")

AUDIT_ACTOR = "capture"  # who the trail names for what capture writes

# How far the monotonic duration may differ from pjsua2's connectDuration
# before we log it (pjsua2 counts from its own CONFIRMED timestamp).
CROSS_CHECK_TOLERANCE_S = 1.0

# How long one capture write waits for another writer's lock (it runs on the
# UI thread). Past it the write stays queued and is tried again; nothing waits
# longer and nothing is lost.
BUSY_TIMEOUT_MS = 250
_NORMAL_BUSY_TIMEOUT_MS = 5000  # the store's own (softclock.store.db)

HEARTBEAT_S = 1.0  # how often a live call's running talk time is written (crash insurance)
RETRY_S = 2.0  # how often a store that refused writes is tried again

# Ended calls kept in memory for a matter chosen after the call, by handle.
_RECENT = 200

_Births = list[tuple[str, str, object, object, str]]


@dataclass(frozen=True)
class CallSummary:
    """What the window shows of an ended call, straight from capture's memory."""

    disposition: Disposition
    talk_seconds: float
    sip_call_id: str


@dataclass
class _Seg:
    matter_id: int | None
    start: float  # monotonic
    held: bool
    end: float | None = None
    row: int | None = None  # set once the store has it


@dataclass
class _Entry:
    id: str  # a UUID decided here, so a repeated write finds the same row
    matter_id: int | None
    activity_code: str
    first_seg: int  # index of its first segment
    written: bool = False


@dataclass
class _Call:
    handle: int
    sip_call_id: str
    dialog_tag: str
    direction: ev.Direction
    account: str
    remote_uri: str
    display_name: str
    number: str | None
    invited_mono: float
    invited_utc: datetime
    row: int | None = None
    connected_mono: float | None = None
    connected_utc: datetime | None = None
    hangup_mono: float | None = None
    matter_id: int | None = None  # the matter of the open segment (or the first one, before the answer)
    segments: list[_Seg] = field(default_factory=list)
    entries: dict[int | None, _Entry] = field(default_factory=dict)
    hold_started: float | None = None
    hold_seconds: float = 0.0
    recording_path: str | None = None
    heartbeat_utc: datetime | None = None
    # Set at DISCONNECTED:
    end_mono: float | None = None
    end_utc: datetime | None = None
    disposition: Disposition = Disposition.IN_PROGRESS
    sip_status: int | None = None
    sip_reason: str = ""
    connect_duration_s: float | None = None
    short: bool = False
    closed: bool = False  # the store has the final state and the entries' births

    @property
    def held(self) -> bool:
        return bool(self.segments) and self.segments[-1].held and self.segments[-1].end is None

    def talk(self, now: float) -> float:
        if self.connected_mono is None:
            return 0.0
        end = now if self.end_mono is None else self.end_mono
        if self.hangup_mono is not None:
            end = min(end, self.hangup_mono)
        return max(0.0, end - self.connected_mono)

    def utc_at(self, mono: float) -> datetime:
        """Wall-clock stamp of a monotonic instant, anchored at the answer."""
        assert self.connected_mono is not None and self.connected_utc is not None
        return utc_naive(self.connected_utc + timedelta(seconds=mono - self.connected_mono))

    def seg_seconds(self, seg: _Seg, now: float) -> float:
        end = seg.end if seg.end is not None else (self.end_mono if self.end_mono is not None else now)
        return max(0.0, end - seg.start)

    def entry_raws(self, now: float) -> dict[str, tuple[float, float]]:
        """(raw seconds, held seconds) per entry id, an open segment up to ``now``."""
        raws = {e.id: (0.0, 0.0) for e in self.entries.values()}
        for seg in self.segments:
            entry = self.entries.get(seg.matter_id)
            if entry is None:
                continue
            raw, hold = raws[entry.id]
            seconds = self.seg_seconds(seg, now)
            raws[entry.id] = (raw + seconds, hold + (seconds if seg.held else 0.0))
        return raws

    @property
    def open_entry_id(self) -> str:
        entry = self.entries.get(self.matter_id)
        return entry.id if entry else ""


def _birth(entry_id: str, raw: float, sip_call_id: str, short: bool, recovered: bool = False) -> _Births:
    """The audit events of an entry capture has finished: created (raw seconds), and its flag."""
    events: _Births = [(entry_id, "created", None, f"{raw:.3f}", f"captured from call {sip_call_id}")]
    stopped = "the app stopped mid-call; closed at its last heartbeat"
    if short:
        why = (
            f"shorter than the firm's short-call threshold; {stopped}"
            if recovered
            else "shorter than the firm's short-call threshold"
        )
        events += [(entry_id, "flag", "", "short", why), (entry_id, "billable", True, False, "short call")]
    elif recovered:
        events.append((entry_id, "flag", "", "recovered", stopped))
    return events


class Capture:
    """Turns call events into stored calls and draft entries.

    Args:
        store: the local store.
        timekeeper: who the entries belong to (a callable, as it may change
            when the account does).
        region: default region for numbers without a country code.
        on_change: called after every change (committed, or kept in memory
            while the store refuses writes: see ``STORE_UNAVAILABLE``).
        mono: the monotonic clock (injectable for tests).
        short_call_s: the firm's short-call threshold.
        activity_codes: the firm's default activity codes (with a client, with anyone else).
        busy_timeout_ms: how long one write waits for another writer's lock.
        schedule: ``schedule(delay_s, job)`` runs ``job`` later on capture's
            thread (the database worker's :meth:`~softclock.worker.DbWorker.later`).
            With it capture keeps its own crash heartbeat while a call is live
            and retries a store that refused writes; without it (tests) the
            caller calls :meth:`heartbeat` and :meth:`retry`.
    """

    def __init__(
        self,
        store: Store,
        timekeeper: Callable[[], str],
        region: Callable[[], str] = lambda: "US",
        on_change: Callable[[Change], None] | None = None,
        mono: Callable[[], float] = time.monotonic,
        short_call_s: Callable[[], float] = lambda: 0.0,
        activity_codes: Callable[[], tuple[str, str]] = lambda: ("A106", "A108"),
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        schedule: Callable[[float, Callable[[], object]], None] | None = None,
    ) -> None:
        self._schedule = schedule
        self._heartbeat_armed = False
        self._retry_armed = False
        self._short_call_s = short_call_s
        self._activity_codes = activity_codes
        self._store = store
        self._timekeeper = timekeeper
        self._region = region
        self._on_change = on_change or (lambda change: None)
        self._mono = mono
        self._busy_timeout_ms = busy_timeout_ms
        self._live: dict[int, _Call] = {}  # by engine handle, until closed in the store
        self._recent: OrderedDict[int, _Call] = OrderedDict()  # closed calls, for after-call changes
        # Work the store has not taken yet, in order: a call to write whole
        # (its handle), or a change to a closed call's entry (a closure).
        self._queue: list[int | Callable[[Session], None]] = []
        self._unavailable: str = ""  # why the store refuses writes; "" while it takes them
        # While the real store cannot be opened at all (a read-only data directory at start),
        # capture writes to a holding store in memory and tries this to open the real one.
        self._open_real: Callable[[], Store] | None = None

    # ------------------------------------------------------------------ queries

    @property
    def unavailable(self) -> str:
        """Why calls are not reaching the store right now ("" when they are)."""
        return self._unavailable

    @property
    def pending(self) -> int:
        """How many writes wait for the store."""
        return len(self._queue)

    def _find(self, handle: int) -> _Call | None:
        return self._live.get(handle) or self._recent.get(handle)

    def talk_seconds(self, handle: int, now: float | None = None) -> float:
        call = self._find(handle)
        if call is None:
            return 0.0
        return call.talk(now if now is not None else self._mono())

    def matter_of(self, handle: int) -> int | None:
        call = self._find(handle)
        return call.matter_id if call else None

    def summary(self, handle: int) -> CallSummary | None:
        """An ended (or live) call's disposition and talk time, without the store."""
        call = self._find(handle)
        if call is None:
            return None
        return CallSummary(call.disposition, call.talk(self._mono()), call.sip_call_id)

    # ------------------------------------------------------------------ events

    def handle(self, event: ev.Event) -> None:
        """Record one SIP event. Unknown calls and repeated events are ignored."""
        if isinstance(event, ev.CallStarted):
            self._start(event, ev.Direction.OUTGOING, event.remote_uri, event.display_name)
        elif isinstance(event, ev.CallRinging):
            if event.direction is ev.Direction.INCOMING:
                self._start(event, ev.Direction.INCOMING, event.remote_uri, event.display_name)
        elif isinstance(event, ev.CallConnected):
            self._connected(event)
        elif isinstance(event, ev.CallHangupRequested):
            call = self._live.get(event.handle)
            if call is not None and call.hangup_mono is None:
                call.hangup_mono = event.mono
        elif isinstance(event, ev.CallEnded):
            self._ended(event)
        elif isinstance(event, ev.CallHoldChanged):
            self._hold_changed(event)
        elif isinstance(event, ev.RecordingChanged) and event.recording:
            call = self._live.get(event.handle)
            if call is not None:
                call.recording_path = event.path
                self._write(call)

    def _start(self, event: ev.CallStarted | ev.CallRinging, direction: ev.Direction, uri: str, name: str) -> None:
        if event.handle in self._live or event.handle in self._recent:
            return
        call = _Call(
            handle=event.handle,
            sip_call_id=event.call_id,
            dialog_tag=getattr(event, "remote_tag", "") or "",
            direction=direction,
            account=event.account,
            remote_uri=uri,
            display_name=name,
            number=number_from_uri(uri, self._region()),
            invited_mono=event.mono,
            invited_utc=utc_naive(event.utc),
        )
        self._live[event.handle] = call
        self._write(call)
        self._arm_heartbeat()
        self._on_change(Change(ChangeKind.CALL_STARTED, event.call_id))

    def _connected(self, event: ev.CallConnected) -> None:
        call = self._live.get(event.handle)
        if call is None or call.connected_mono is not None:
            return
        call.connected_mono = event.mono
        call.connected_utc = event.utc
        self._open_segment(call, call.matter_id, False, event.mono)
        self._write(call)
        self._on_change(Change(ChangeKind.CALL_CONNECTED, call.sip_call_id, call.open_entry_id))

    def _hold_changed(self, event: ev.CallHoldChanged) -> None:
        call = self._live.get(event.handle)
        if call is None or call.end_mono is not None:
            return
        if event.hold is ev.HoldState.NONE:
            if call.hold_started is not None:
                call.hold_seconds += event.mono - call.hold_started
                call.hold_started = None
        elif call.hold_started is None:
            call.hold_started = event.mono
        held = event.hold is not ev.HoldState.NONE
        if call.connected_mono is not None and held != call.held:
            # Hold is a segment of its own: whether it bills is firm policy.
            self._switch_segment(call, call.matter_id, held, event.mono)
            self._write(call)

    def _open_segment(self, call: _Call, matter_id: int | None, held: bool, at: float) -> None:
        """Start a segment (and, for a matter new to this call, its entry) in memory."""
        call.segments.append(_Seg(matter_id, at, held))
        if matter_id not in call.entries:
            call.entries[matter_id] = _Entry(str(uuid.uuid4()), matter_id, "", len(call.segments) - 1)
        call.matter_id = matter_id

    def _switch_segment(self, call: _Call, matter_id: int | None, held: bool, at: float) -> None:
        if call.segments and call.segments[-1].end is None:
            call.segments[-1].end = at
        self._open_segment(call, matter_id, held, at)

    def _disposition(self, call: _Call, event: ev.CallEnded) -> Disposition:
        if call.connected_mono is not None:
            return Disposition.ANSWERED
        code = event.sip_status
        if call.direction is ev.Direction.INCOMING:
            if event.local_hangup:
                return Disposition.DECLINED
            if code == 486:  # refused by us: every line was in use
                return Disposition.BUSY
            return Disposition.MISSED
        if event.local_hangup or code == 487:
            return Disposition.CANCELLED
        if code in (486, 600):
            return Disposition.BUSY
        if code == 603:
            return Disposition.DECLINED
        return Disposition.FAILED

    def _ended(self, event: ev.CallEnded) -> None:
        call = self._live.get(event.handle)
        if call is None or call.end_mono is not None:
            return
        end_mono = event.mono if call.hangup_mono is None else min(event.mono, call.hangup_mono)
        call.end_mono, call.end_utc = end_mono, utc_naive(event.utc)
        call.disposition = self._disposition(call, event)
        call.sip_status, call.sip_reason = event.sip_status, event.reason[:255]
        call.connect_duration_s = event.connect_duration_s
        talk = call.talk(end_mono)
        if call.connected_mono is not None:
            if abs(talk - event.connect_duration_s) > CROSS_CHECK_TOLERANCE_S and event.connect_duration_s > 0:
                log.warning(
                    "call %s: monotonic talk time %.3f s differs from pjsua2's %.3f s",
                    event.call_id,
                    talk,
                    event.connect_duration_s,
                )
        if call.hold_started is not None:
            call.hold_seconds += max(0.0, end_mono - call.hold_started)
            call.hold_started = None
        if call.segments and call.segments[-1].end is None:
            call.segments[-1].end = end_mono
        call.short = bool(call.entries) and talk < self._short_call_s()
        self._write(call)
        log.info("call %s ended: %s, talk %.3f s", event.call_id, call.disposition.value, talk)
        self._on_change(Change(ChangeKind.CALL_ENDED, event.call_id, call.open_entry_id))

    # ------------------------------------------------------------------ during a call

    def heartbeat(self) -> None:
        """Persist the running talk time of every live call (crash insurance).

        Also writes whatever the store refused before, if it takes writes again.
        """
        stamp = utc_now()
        for call in self._live.values():
            if call.end_mono is None:
                call.heartbeat_utc = stamp
                self._queue_call(call)
        self._flush()

    def _arm_heartbeat(self) -> None:
        if self._schedule is None or self._heartbeat_armed:
            return
        if any(call.end_mono is None for call in self._live.values()):
            self._heartbeat_armed = True
            self._schedule(HEARTBEAT_S, self._on_heartbeat_due)

    def _on_heartbeat_due(self) -> None:
        self._heartbeat_armed = False
        self.heartbeat()
        self._arm_heartbeat()  # only while a call is live: an idle phone does not wake

    def _arm_retry(self) -> None:
        if self._schedule is not None and not self._retry_armed:
            self._retry_armed = True
            self._schedule(RETRY_S, self._on_retry_due)

    def _on_retry_due(self) -> None:
        self._retry_armed = False
        if not self.retry():
            self._arm_retry()

    def retry(self) -> bool:
        """Write what the store refused before; True when nothing is left waiting."""
        if self._open_real is not None:
            self._try_real_store()
        self._flush()
        return not self._queue and self._open_real is None

    def log_unwritten(self) -> None:
        """At exit with the store still refusing writes: what was not written, for a person to enter by hand."""
        held = self._open_real is not None  # then even the calls "closed" are only in the holding store
        for call in [*self._live.values(), *(c for c in self._recent.values() if held or not c.closed)]:
            # No number: privacy mode keeps numbers out of logs; the Call-ID finds the call at the PBX.
            log.error(
                "NOT RECORDED (%s): call %s %s at %s UTC, talk %.1f s, %s",
                self._unavailable,
                call.sip_call_id,
                call.direction.value,
                call.invited_utc,
                call.talk(self._mono()),
                call.disposition.value,
            )

    def hold_until(self, open_real: Callable[[], Store], reason: str) -> None:
        """The real store cannot be opened (``reason``): the store given is a
        holding one; every call of this run goes to the real store once
        ``open_real`` succeeds (tried on each :meth:`retry`)."""
        self._open_real = open_real
        self._set_unavailable(reason)

    def _try_real_store(self) -> None:
        from softclock.errors import StoreError

        assert self._open_real is not None
        try:
            real = self._open_real()
        except StoreError as exc:
            self._set_unavailable(str(exc))
            return
        self._open_real = None
        self._store.adopt(real)
        # Everything written to the holding store is written again, whole, to the real one.
        for call in [*self._recent.values(), *self._live.values()]:
            call.row, call.closed = None, False
            for seg in call.segments:
                seg.row = None
            for entry in call.entries.values():
                entry.written = False
            self._live[call.handle] = call
        self._recent.clear()
        requeued: list[int | Callable[[Session], None]] = [h for h in self._live if h not in self._queue]
        self._queue[:0] = [self._recovery([]), *requeued]
        self._unavailable = self._unavailable or "the store was being opened"

    def assign_matter(self, handle: int, matter_id: int | None) -> None:
        """Tag the call's current entry with ``matter_id`` (None: decide later)."""
        call = self._find(handle)
        if call is None:
            return
        if call.end_mono is None:
            if not call.entries:  # not answered yet: the first entry gets it
                call.matter_id = matter_id
                return
            if matter_id == call.matter_id:
                return
            if not (call.matter_id is None and len(call.entries) == 1):
                # Switching matter mid-call closes the segment and opens the next;
                # each matter gets its own entry.
                self._switch_segment(call, matter_id, call.held, self._mono())
            else:
                # The call was unassigned so far: the whole of it goes to this matter.
                entry = call.entries.pop(None)
                entry.matter_id = matter_id
                call.entries[matter_id] = entry
                for seg in call.segments:
                    seg.matter_id = matter_id
                call.matter_id = matter_id
            self._write(call)
            self._on_change(Change(ChangeKind.ENTRY_CHANGED, call.sip_call_id, call.open_entry_id))
            return
        # After the call: the prompt may still be open when the far end hangs up.
        kept = call.entries.get(call.matter_id)
        if kept is None or matter_id == call.matter_id or matter_id in call.entries:
            return
        old = call.matter_id
        del call.entries[old]
        kept.matter_id = matter_id
        call.entries[matter_id] = kept
        for seg in call.segments:
            if seg.matter_id == old:
                seg.matter_id = matter_id
        call.matter_id = matter_id
        if not call.closed:
            self._write(call)  # the entry is born with this matter
        else:
            actor, entry_id = self._timekeeper(), kept.id
            self._queue.append(lambda s: self._rematter(s, call, entry_id, old, matter_id, actor))
            self._flush()
        self._on_change(Change(ChangeKind.ENTRY_CHANGED, call.sip_call_id, kept.id))

    @staticmethod
    def _rematter(s: Session, call: _Call, entry_id: str, old: int | None, new: int | None, actor: str) -> None:
        """A matter chosen after the entry was born is a change to it, in the trail."""
        row = s.execute(
            select(TimeEntry.matter_id).where(TimeEntry.id == entry_id, TimeEntry.status == EntryStatus.DRAFT)
        ).first()
        if row is None:
            return  # approved or merged away meanwhile: the review's word stands
        s.execute(update(TimeEntry).where(TimeEntry.id == entry_id).values(matter_id=new, updated_utc=utc_now()))
        seg_rows = [seg.row for seg in call.segments if seg.matter_id == new and seg.row is not None]
        if seg_rows:
            s.execute(update(Segment).where(Segment.id.in_(seg_rows)).values(matter_id=new))
        if row.matter_id != new:
            audit.record(
                s,
                actor,
                "time_entry",
                entry_id,
                "matter_id",
                row.matter_id,
                new,
                "chosen in the matter prompt after the call",
            )

    # ------------------------------------------------------------------ writing

    def _write(self, call: _Call) -> None:
        self._queue_call(call)
        self._flush()

    def _queue_call(self, call: _Call) -> None:
        if call.handle not in self._queue:
            self._queue.append(call.handle)

    def _flush(self) -> None:
        """Write the queue in one transaction; on a refusal keep it all and say why."""
        if not self._queue:
            return
        work = list(self._queue)
        after: list[Callable[[], None]] = []
        try:
            with self._store.session() as s:
                try:
                    with s.begin():
                        s.connection().exec_driver_sql(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
                        for item in work:
                            if isinstance(item, int):
                                call = self._live.get(item)
                                if call is not None:
                                    after += self._persist(s, call)
                            else:
                                item(s)
                finally:
                    s.connection().exec_driver_sql(f"PRAGMA busy_timeout={_NORMAL_BUSY_TIMEOUT_MS}")
        except sa_exc.OperationalError as exc:
            # The environment's fault (locked past the wait, disk full, read-only, I/O):
            # everything stays in memory and is written when the store takes it.
            self._set_unavailable(_store_problem(exc))
            return
        except sa_exc.SQLAlchemyError:
            log.exception("capture could not write %d item(s); they are kept and tried again", len(work))
            self._set_unavailable("an internal error (details in the log)")
            return
        for apply in after:
            apply()
        del self._queue[: len(work)]
        for handle in [h for h in work if isinstance(h, int)]:
            call = self._live.get(handle)
            if call is not None and call.closed:
                del self._live[handle]
                self._recent[handle] = call
                while len(self._recent) > _RECENT and self._open_real is None:
                    self._recent.popitem(last=False)
        if self._unavailable and self._open_real is None:
            log.warning("the store takes writes again: %d queued item(s) written", len(work))
            self._unavailable = ""
            self._on_change(Change(ChangeKind.STORE_AVAILABLE))

    def _set_unavailable(self, reason: str) -> None:
        calls = len({h for h in self._queue if isinstance(h, int)})
        if reason != self._unavailable:
            log.error("calls are not being recorded in the store: %s (%d call(s) kept in memory)", reason, calls)
            self._unavailable = reason
            self._on_change(Change(ChangeKind.STORE_UNAVAILABLE, reason=reason))
        self._arm_retry()

    def _persist(self, s: Session, call: _Call) -> list[Callable[[], None]]:
        """Write the call's whole state; returns what to note in memory once committed."""
        after: list[Callable[[], None]] = []
        now = self._mono() if call.end_mono is None else call.end_mono
        talk = call.talk(now)
        values: dict[str, object] = {
            "talk_seconds": talk,
            "hold_seconds": call.hold_seconds + (max(0.0, now - call.hold_started) if call.hold_started else 0.0),
            "disposition": call.disposition,
            "last_heartbeat_utc": call.end_utc or call.heartbeat_utc or call.invited_utc,
            "recording_path": call.recording_path,
        }
        if call.connected_mono is not None:
            values["answered_utc"] = utc_naive(call.connected_utc) if call.connected_utc else None
            values["ring_seconds"] = max(0.0, call.connected_mono - call.invited_mono)
        elif call.end_mono is not None:
            values["ring_seconds"] = max(0.0, call.end_mono - call.invited_mono)
        if call.end_mono is not None:
            values.update(
                ended_utc=call.end_utc,
                sip_status=call.sip_status,
                sip_reason=call.sip_reason,
                connect_duration_s=call.connect_duration_s,
            )
        row = call.row
        if row is None:
            row = s.scalar(
                select(Call.id).where(Call.sip_call_id == call.sip_call_id, Call.dialog_tag == call.dialog_tag)
            )
            if row is not None:
                # Only a commit that reported failure after it had landed leaves this: adopt the row.
                log.warning("call %s is recorded already; writing to that record", call.sip_call_id)
                s.execute(update(Call).where(Call.id == row).values(**values))
            else:
                row = s.execute(
                    insert(Call).values(
                        sip_call_id=call.sip_call_id,
                        dialog_tag=call.dialog_tag,
                        direction=call.direction.value,
                        account=call.account,
                        remote_uri=call.remote_uri[:500],
                        remote_number=call.number,
                        display_name=call.display_name[:255],
                        invited_utc=call.invited_utc,
                        **values,
                    )
                ).inserted_primary_key[0]  # type: ignore[attr-defined]
            after.append(partial(setattr, call, "row", row))
        else:
            s.execute(update(Call).where(Call.id == row).values(**values))
        seg_rows: list[int] = []
        for seg in call.segments:
            seconds = call.seg_seconds(seg, now)
            start = call.utc_at(seg.start)
            end = call.utc_at(seg.end) if seg.end is not None else None
            if seg.row is None:
                seg_row = s.execute(
                    insert(Segment).values(
                        call_id=row,
                        matter_id=seg.matter_id,
                        start_utc=start,
                        end_utc=end,
                        seconds=seconds,
                        held=seg.held,
                    )
                ).inserted_primary_key[0]  # type: ignore[attr-defined]
                after.append(partial(setattr, seg, "row", seg_row))
            else:
                seg_row = seg.row
                s.execute(
                    update(Segment)
                    .where(Segment.id == seg_row)
                    .values(matter_id=seg.matter_id, end_utc=end, seconds=seconds)
                )
            seg_rows.append(seg_row)
        raws = call.entry_raws(now)
        stamp = call.end_utc or call.heartbeat_utc or utc_now()
        births: _Births = []
        for entry in call.entries.values():
            raw, hold = raws[entry.id]
            if not entry.written and s.get(TimeEntry, entry.id) is None:
                start = call.utc_at(call.segments[entry.first_seg].start)
                if not entry.activity_code:
                    entry.activity_code = self._activity_for(s, call.number)
                s.execute(
                    insert(TimeEntry).values(
                        id=entry.id,
                        call_id=row,
                        segment_id=seg_rows[entry.first_seg],
                        timekeeper=self._timekeeper(),
                        matter_id=entry.matter_id,
                        work_date=start.replace(tzinfo=UTC).astimezone().date(),
                        started_utc=start,
                        raw_seconds=raw,
                        hold_seconds=hold,
                        activity_code=entry.activity_code,
                        status=EntryStatus.DRAFT,
                        created_utc=start,
                        updated_utc=start,
                    )
                )
            else:
                s.execute(
                    update(TimeEntry)
                    .where(TimeEntry.id == entry.id)
                    .values(matter_id=entry.matter_id, raw_seconds=raw, hold_seconds=hold, updated_utc=stamp)
                )
            after.append(partial(setattr, entry, "written", True))
            if call.end_mono is not None:
                if call.short:
                    s.execute(update(TimeEntry).where(TimeEntry.id == entry.id).values(flag="short", billable=False))
                births += _birth(entry.id, raw, call.sip_call_id, call.short)
        if call.end_mono is not None:
            # The trail explains every entry from birth: one executemany per call end.
            audit.record_many(s, AUDIT_ACTOR, "time_entry", births)
            after.append(lambda: setattr(call, "closed", True))
        return after

    def _activity_for(self, s: Session, number: str | None) -> str:
        """UTBMS A106 "Communicate (with client)" when the number belongs to a client, else A108 (firm policy)."""
        with_client, other = self._activity_codes()
        if number and s.scalar(select(ContactNumber.id).where(ContactNumber.number == number).limit(1)) is not None:
            return with_client
        return other

    # ------------------------------------------------------------------ start-up

    def recover(self) -> int:
        """Close calls a crash left open, at their last heartbeat; flag them.

        Talk time is what the last heartbeat wrote, measured on the monotonic
        clock: a wall-clock change during the call does not change it. A
        recovered call shorter than the firm's short-call threshold is short,
        as it would have been had the app not stopped. Returns how many calls
        were recovered; 0 when the store refuses the write (it stays queued and
        runs when the store takes writes again).
        """
        found: list[int] = []
        self._queue.append(self._recovery(found))
        self._flush()
        return len(found)

    def _recovery(self, found: list[int]) -> Callable[[Session], None]:
        """The queued work of :meth:`recover`; it must run before this run's calls are first written."""

        def run(s: Session) -> None:
            ours = {c.row for c in self._live.values() if c.row is not None}
            short_s = self._short_call_s()
            open_calls = [
                c
                for c in s.scalars(select(Call).where(Call.disposition == Disposition.IN_PROGRESS))
                if c.id not in ours
            ]
            for call in open_calls:
                self._recover_one(s, call, short_s)
            found[:] = [c.id for c in open_calls]
            if open_calls:
                self._on_change(Change(ChangeKind.RECOVERED))

        return run

    @staticmethod
    def _recover_one(s: Session, call: Call, short_s: float) -> None:
        call.recovered = True
        call.sip_reason = "recovered after the app stopped mid-call"
        if call.answered_utc is None:
            call.ended_utc = call.last_heartbeat_utc or call.invited_utc
            incoming = call.direction == ev.Direction.INCOMING.value
            call.disposition = Disposition.MISSED if incoming else Disposition.FAILED
            log.warning("recovered call %s, never answered", call.sip_call_id)
            return
        talk = call.talk_seconds  # the heartbeat's monotonic figure
        call.disposition = Disposition.ANSWERED
        call.ended_utc = call.answered_utc + timedelta(seconds=talk)
        entries = list(s.scalars(select(TimeEntry).where(TimeEntry.call_id == call.id)))
        short = talk < short_s
        births: _Births = []
        for entry in entries:
            if len(entries) == 1:
                # One matter: the call's time up to its last heartbeat is the entry's.
                # Several: each kept its own time at the heartbeat; the call's total
                # would count the same seconds once per matter.
                entry.raw_seconds = max(entry.raw_seconds, talk)
            entry.updated_utc = call.ended_utc
            if short:
                entry.flag, entry.billable = "short", False
            else:
                entry.flag = "recovered"
            births += _birth(entry.id, entry.raw_seconds, call.sip_call_id, short, recovered=True)
        audit.record_many(s, AUDIT_ACTOR, "time_entry", births)
        for segment in call.segments:
            if segment.end_utc is None:
                segment.end_utc = segment.start_utc + timedelta(seconds=segment.seconds)
        log.warning("recovered call %s, closed at its last heartbeat after %.3f s", call.sip_call_id, talk)


def _store_problem(exc: sa_exc.OperationalError) -> str:
    """The store's refusal in words a person can act on."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return "the store is busy with another program's long write (database is locked)"
    if "full" in lowered:
        return "the disk is full"
    if "readonly" in lowered or "read-only" in lowered:
        return "the data directory is read-only"
    return f"the store cannot be written ({text})"
