"""Call events -> call records, segments and draft time entries.

Capture is the single writer of capture data. It runs on the thread that
delivers events (the UI's main thread in the app); each event is one short
SQLite transaction in WAL mode (well under a millisecond on a laptop disk).

Time semantics (``../shared/DESIGN.md``): billable talk time runs from the
SIP answer (CONFIRMED) to DISCONNECTED, or to the moment the user pressed hang
up if that was earlier. Durations are differences of the monotonic clock read
in the SIP callbacks; wall-clock UTC only stamps when things happened. Ring
time is recorded, never billed. A call that never connected still gets a call
record, with a disposition and no entry.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from softclock import audit
from softclock import events as ev
from softclock.changes import Change, ChangeKind
from softclock.formatting import utc_now
from softclock.matching import number_from_uri
from softclock.store.db import Store
from softclock.store.models import Call, ContactNumber, Segment, TimeEntry
from softclock.store.queries import utc_naive

log = logging.getLogger("softclock.capture")

AUDIT_ACTOR = "capture"  # who the trail names for what capture writes

# How far the monotonic duration may differ from pjsua2's connectDuration
# before we log it (pjsua2 counts from its own CONFIRMED timestamp).
CROSS_CHECK_TOLERANCE_S = 1.0


class Disposition(enum.Enum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    MISSED = "missed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    BUSY = "busy"
    FAILED = "failed"


@dataclass
class _Live:
    call_row: int
    direction: ev.Direction
    invited_mono: float
    remote_number: str | None
    connected_mono: float | None = None
    connected_utc: datetime | None = None
    hangup_mono: float | None = None
    matter_id: int | None = None
    entry_id: str | None = None  # the entry of the open segment
    segment_id: int | None = None  # the open segment
    segment_start: float = 0.0  # monotonic start of the open segment
    held: bool = False
    hold_started: float | None = None
    hold_seconds: float = 0.0
    entry_by_matter: dict[int | None, str] = field(default_factory=dict)
    entry_seconds: dict[str, float] = field(default_factory=dict)  # closed segments, per entry
    entry_hold: dict[str, float] = field(default_factory=dict)

    def utc_at(self, mono: float) -> datetime:
        """Wall-clock stamp of a monotonic instant, anchored at the answer."""
        assert self.connected_mono is not None and self.connected_utc is not None
        return _naive(self.connected_utc + timedelta(seconds=mono - self.connected_mono))

    def entry_raws(self, now: float) -> dict[str, tuple[float, float]]:
        """(raw seconds, held seconds) per entry, the open segment up to ``now``."""
        raws = {e: (self.entry_seconds.get(e, 0.0), self.entry_hold.get(e, 0.0)) for e in self.entry_by_matter.values()}
        if self.entry_id is not None:
            raw, hold = raws.get(self.entry_id, (0.0, 0.0))
            open_s = max(0.0, now - self.segment_start)
            raws[self.entry_id] = (raw + open_s, hold + (open_s if self.held else 0.0))
        return raws


def _naive(dt: datetime) -> datetime:
    return utc_naive(dt)


def _birth(entry_id: str, raw: float, sip_call_id: str, flag: str) -> list[tuple[str, str, object, object, str]]:
    """The audit events of an entry capture has finished: created (raw seconds), and its flag."""
    events: list[tuple[str, str, object, object, str]] = [
        (entry_id, "created", None, f"{raw:.3f}", f"captured from call {sip_call_id}")
    ]
    if flag == "short":
        events += [(entry_id, "flag", "", "short", "shorter than the firm's short-call threshold"),
                   (entry_id, "billable", True, False, "short call")]  # fmt: skip
    elif flag == "recovered":
        events.append((entry_id, "flag", "", "recovered", "the app stopped mid-call; closed at its last heartbeat"))
    return events


class Capture:
    """Turns call events into stored calls and draft entries.

    Args:
        store: the local store.
        timekeeper: who the entries belong to (a callable, as it may change
            when the account does).
        region: default region for numbers without a country code.
        on_change: called after every committed change.
        mono: the monotonic clock (injectable for tests).
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
    ) -> None:
        self._short_call_s = short_call_s
        # The firm's default activity codes: (with a client, with anyone else).
        self._activity_codes = activity_codes
        self._store = store
        self._timekeeper = timekeeper
        self._region = region
        self._on_change = on_change or (lambda change: None)
        self._mono = mono
        self._live: dict[str, _Live] = {}

    # ------------------------------------------------------------------ queries

    def talk_seconds(self, sip_call_id: str, now: float | None = None) -> float:
        live = self._live.get(sip_call_id)
        if live is None or live.connected_mono is None:
            return 0.0
        end = now if now is not None else self._mono()
        if live.hangup_mono is not None:
            end = min(end, live.hangup_mono)
        return max(0.0, end - live.connected_mono)

    def matter_of(self, sip_call_id: str) -> int | None:
        live = self._live.get(sip_call_id)
        return live.matter_id if live else None

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
            live = self._live.get(event.call_id)
            if live is not None and live.hangup_mono is None:
                live.hangup_mono = event.mono
        elif isinstance(event, ev.CallEnded):
            self._ended(event)
        elif isinstance(event, ev.CallHoldChanged):
            self._hold_changed(event)
        elif isinstance(event, ev.RecordingChanged) and event.recording:
            with self._store.session() as s, s.begin():
                s.execute(update(Call).where(Call.sip_call_id == event.call_id).values(recording_path=event.path))

    def _hold_changed(self, event: ev.CallHoldChanged) -> None:
        # Held time is recorded on the call; whether it bills is firm policy.
        live = self._live.get(event.call_id)
        if live is None:
            return
        if event.hold is ev.HoldState.NONE:
            if live.hold_started is not None:
                live.hold_seconds += event.mono - live.hold_started
                live.hold_started = None
        elif live.hold_started is None:
            live.hold_started = event.mono
        held = event.hold is not ev.HoldState.NONE
        if live.connected_mono is not None and held != live.held:
            # Hold is a segment of its own: whether it bills is firm policy.
            self._switch_segment(live, live.matter_id, held, event.mono)

    def _start(self, event: ev.CallStarted | ev.CallRinging, direction: ev.Direction, uri: str, name: str) -> None:
        if event.call_id in self._live:
            return
        number = number_from_uri(uri, self._region())
        with self._store.session() as s, s.begin():
            if s.scalars(select(Call.id).where(Call.sip_call_id == event.call_id)).first() is not None:
                log.warning("call %s is recorded already; ignoring a repeated start", event.call_id)
                return
            call = Call(
                sip_call_id=event.call_id,
                direction=direction.value,
                account=event.account,
                remote_uri=uri,
                remote_number=number,
                display_name=name,
                invited_utc=_naive(event.utc),
                disposition=Disposition.IN_PROGRESS.value,
                last_heartbeat_utc=_naive(event.utc),
            )
            s.add(call)
            s.flush()
            row = call.id
        self._live[event.call_id] = _Live(row, direction, event.mono, number)
        self._on_change(Change(ChangeKind.CALL_STARTED, event.call_id))

    def _connected(self, event: ev.CallConnected) -> None:
        live = self._live.get(event.call_id)
        if live is None or live.connected_mono is not None:
            return
        live.connected_mono = event.mono
        live.connected_utc = event.utc
        started = _naive(event.utc)
        with self._store.session() as s, s.begin():
            s.execute(
                update(Call)
                .where(Call.id == live.call_row)
                .values(
                    answered_utc=started,
                    ring_seconds=max(0.0, event.mono - live.invited_mono),
                    last_heartbeat_utc=started,
                )
            )
            self._open_segment(s, live, live.matter_id, False, event.mono)
        self._on_change(Change(ChangeKind.CALL_CONNECTED, event.call_id, live.entry_id or ""))

    def _activity_for(self, s: Session, number: str | None) -> str:
        """UTBMS A106 "Communicate (with client)" when the number belongs to a client, else A108 (firm policy)."""
        with_client, other = self._activity_codes()
        if number and s.scalar(select(ContactNumber.id).where(ContactNumber.number == number).limit(1)) is not None:
            return with_client
        return other

    def _open_segment(self, s: Session, live: _Live, matter_id: int | None, held: bool, at: float) -> None:
        """Start a segment (and, for a matter new to this call, its entry)."""
        start = live.utc_at(at)
        entry_id = live.entry_by_matter.get(matter_id)
        if entry_id is None:
            entry = TimeEntry(
                call_id=live.call_row,
                timekeeper=self._timekeeper(),
                matter_id=matter_id,
                work_date=start.replace(tzinfo=UTC).astimezone().date(),
                started_utc=start,
                raw_seconds=0.0,
                activity_code=self._activity_for(s, live.remote_number),
                status="draft",
                created_utc=start,
                updated_utc=start,
            )
            s.add(entry)
            s.flush()
            entry_id = entry.id
            live.entry_by_matter[matter_id] = entry_id
        segment = Segment(call_id=live.call_row, matter_id=matter_id, start_utc=start, held=held)
        s.add(segment)
        s.flush()
        if live.segment_id is None:
            # The entry points at its first captured segment.
            s.execute(update(TimeEntry).where(TimeEntry.id == entry_id, TimeEntry.segment_id.is_(None))
                      .values(segment_id=segment.id))  # fmt: skip
        live.entry_id, live.segment_id, live.segment_start, live.held = entry_id, segment.id, at, held
        live.matter_id = matter_id

    def _close_segment(self, s: Session, live: _Live, at: float) -> None:
        if live.segment_id is None or live.entry_id is None:
            return
        seconds = max(0.0, at - live.segment_start)
        s.execute(
            update(Segment).where(Segment.id == live.segment_id).values(end_utc=live.utc_at(at), seconds=seconds)
        )
        live.entry_seconds[live.entry_id] = live.entry_seconds.get(live.entry_id, 0.0) + seconds
        if live.held:
            live.entry_hold[live.entry_id] = live.entry_hold.get(live.entry_id, 0.0) + seconds

    def _switch_segment(self, live: _Live, matter_id: int | None, held: bool, at: float) -> None:
        with self._store.session() as s, s.begin():
            self._close_segment(s, live, at)
            self._open_segment(s, live, matter_id, held, at)

    def _disposition(self, live: _Live, event: ev.CallEnded) -> Disposition:
        if live.connected_mono is not None:
            return Disposition.ANSWERED
        code = event.sip_status
        if live.direction is ev.Direction.INCOMING:
            if event.local_hangup:
                return Disposition.DECLINED
            return Disposition.MISSED
        if event.local_hangup or code == 487:
            return Disposition.CANCELLED
        if code in (486, 600):
            return Disposition.BUSY
        if code == 603:
            return Disposition.DECLINED
        return Disposition.FAILED

    def _ended(self, event: ev.CallEnded) -> None:
        live = self._live.pop(event.call_id, None)
        if live is None:
            return
        disposition = self._disposition(live, event)
        end_mono = event.mono if live.hangup_mono is None else min(event.mono, live.hangup_mono)
        talk = 0.0
        if live.connected_mono is not None:
            talk = max(0.0, end_mono - live.connected_mono)
            if abs(talk - event.connect_duration_s) > CROSS_CHECK_TOLERANCE_S and event.connect_duration_s > 0:
                log.warning(
                    "call %s: monotonic talk time %.3f s differs from pjsua2's %.3f s",
                    event.call_id,
                    talk,
                    event.connect_duration_s,
                )
        if live.hold_started is not None:
            live.hold_seconds += max(0.0, end_mono - live.hold_started)
        ring = (live.connected_mono if live.connected_mono is not None else end_mono) - live.invited_mono
        ended = _naive(event.utc)
        values: dict[str, object] = {
            "ended_utc": ended,
            "talk_seconds": talk,
            "disposition": disposition.value,
            "sip_status": event.sip_status,
            "sip_reason": event.reason[:255],
            "connect_duration_s": event.connect_duration_s,
            "hold_seconds": live.hold_seconds,
            "last_heartbeat_utc": ended,
        }
        if live.connected_mono is None:
            values["ring_seconds"] = max(0.0, ring)
        with self._store.session() as s, s.begin():
            s.execute(update(Call).where(Call.id == live.call_row).values(**values))
            self._close_segment(s, live, end_mono)
            short = talk < self._short_call_s()
            extra: dict[str, object] = {"flag": "short", "billable": False} if short else {}
            births: list[tuple[str, str, object, object, str]] = []
            for entry_id in live.entry_by_matter.values():
                raw = live.entry_seconds.get(entry_id, 0.0)
                s.execute(
                    update(TimeEntry)
                    .where(TimeEntry.id == entry_id)
                    .values(raw_seconds=raw, hold_seconds=live.entry_hold.get(entry_id, 0.0), updated_utc=ended, **extra)
                )
                births += _birth(entry_id, raw, event.call_id, "short" if short else "")
            # The trail explains every entry from birth: one executemany per call end.
            audit.record_many(s, AUDIT_ACTOR, "time_entry", births)
        log.info("call %s ended: %s, talk %.3f s", event.call_id, disposition.value, talk)
        self._on_change(Change(ChangeKind.CALL_ENDED, event.call_id, live.entry_id or ""))

    # ------------------------------------------------------------------ during a call

    def heartbeat(self) -> None:
        """Persist the running talk time of every live call (crash insurance)."""
        if not self._live:
            return
        now = self._mono()
        stamp = utc_now()
        with self._store.session() as s, s.begin():
            for call_id, live in self._live.items():
                talk = self.talk_seconds(call_id, now)
                s.execute(
                    update(Call).where(Call.id == live.call_row).values(last_heartbeat_utc=stamp, talk_seconds=talk)
                )
                for entry_id, (raw, hold) in live.entry_raws(now).items():
                    s.execute(
                        update(TimeEntry)
                        .where(TimeEntry.id == entry_id)
                        .values(raw_seconds=raw, hold_seconds=hold, updated_utc=stamp)
                    )

    def assign_matter(self, sip_call_id: str, matter_id: int | None) -> None:
        """Tag the call's current entry with ``matter_id`` (None: decide later)."""
        live = self._live.get(sip_call_id)
        stamp = utc_now()
        if live is not None:
            if live.entry_id is None:  # not answered yet: the first entry gets it
                live.matter_id = matter_id
                return
            if matter_id == live.matter_id:
                return
            if not (live.matter_id is None and len(live.entry_by_matter) == 1):
                # Switching matter mid-call closes the segment and opens the next;
                # each matter gets its own entry.
                self._switch_segment(live, matter_id, live.held, self._mono())
                self._on_change(Change(ChangeKind.ENTRY_CHANGED, sip_call_id, live.entry_id or ""))
                return
            # The call was unassigned so far: the whole of it goes to this matter.
            entry_id: str | None = live.entry_id
            segment_id, old_matter = None, None
            live.entry_by_matter = {matter_id: live.entry_id}
            live.matter_id = matter_id
            with self._store.session() as s, s.begin():
                s.execute(update(Segment).where(Segment.call_id == live.call_row).values(matter_id=matter_id))
        else:
            # After the call: the prompt may still be open when the far end hangs up.
            with self._store.session() as s:
                row = s.execute(
                    select(TimeEntry.id, TimeEntry.segment_id, TimeEntry.matter_id)
                    .join(Call, Call.id == TimeEntry.call_id)
                    .where(Call.sip_call_id == sip_call_id, TimeEntry.status == "draft")
                    .order_by(TimeEntry.started_utc.desc())
                ).first()
            if row is None:
                return
            entry_id, segment_id, old_matter = row
        with self._store.session() as s, s.begin():
            s.execute(
                update(TimeEntry)
                .where(TimeEntry.id == entry_id)
                .values(matter_id=matter_id, updated_utc=stamp)
            )
            if segment_id is not None:
                s.execute(update(Segment).where(Segment.id == segment_id).values(matter_id=matter_id))
            if live is None and old_matter != matter_id:
                # The entry was born at the call's end: a matter chosen after that is a change to it.
                audit.record(s, self._timekeeper(), "time_entry", str(entry_id), "matter_id", old_matter, matter_id,
                             "chosen in the matter prompt after the call")  # fmt: skip
        self._on_change(Change(ChangeKind.ENTRY_CHANGED, sip_call_id, entry_id or ""))

    # ------------------------------------------------------------------ start-up

    def recover(self) -> int:
        """Close calls a crash left open, at their last heartbeat; flag them.

        Returns how many calls were recovered.
        """
        with self._store.session() as s, s.begin():
            open_calls = list(s.scalars(select(Call).where(Call.disposition == Disposition.IN_PROGRESS.value)))
            for call in open_calls:
                if call.sip_call_id in self._live:
                    continue
                last = call.last_heartbeat_utc or call.invited_utc
                call.ended_utc = last
                call.recovered = True
                call.sip_reason = "recovered after the app stopped mid-call"
                if call.answered_utc is not None:
                    call.disposition = Disposition.ANSWERED.value
                    talk = max(call.talk_seconds, (last - call.answered_utc).total_seconds())
                    call.talk_seconds = talk
                    entries = list(s.scalars(select(TimeEntry).where(TimeEntry.call_id == call.id)))
                    births: list[tuple[str, str, object, object, str]] = []
                    for entry in entries:
                        if len(entries) == 1:
                            # One matter: the call's time up to its last heartbeat is the entry's.
                            # Several: each kept its own time at the heartbeat; the call's total
                            # would count the same seconds once per matter.
                            entry.raw_seconds = max(entry.raw_seconds, talk)
                        entry.updated_utc = last
                        entry.flag = "recovered"
                        births += _birth(entry.id, entry.raw_seconds, call.sip_call_id, "recovered")
                    audit.record_many(s, AUDIT_ACTOR, "time_entry", births)
                    for segment in call.segments:
                        if segment.end_utc is None:
                            segment.end_utc = last
                            segment.seconds = talk
                else:
                    call.disposition = (
                        Disposition.MISSED.value if call.direction == "incoming" else Disposition.FAILED.value
                    )
                log.warning("recovered call %s, closed at %s", call.sip_call_id, last)
        if open_calls:
            self._on_change(Change(ChangeKind.RECOVERED))
        return len(open_calls)
