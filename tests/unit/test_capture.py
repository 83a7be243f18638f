"""Capture with hand-made events on a real (in-memory) SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from softclock import audit
from softclock import events as ev
from softclock.capture import Capture, Change, ChangeKind
from softclock.store.db import Store, open_memory_store
from softclock.store.models import Call, Segment, TimeEntry
from softclock.store.queries import add_matter

# Relative to now, so nothing here depends on today's date; durations never use it.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


class Clock:
    """Monotonic and wall clocks that the test moves independently."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = T0

    def at(self, seconds: float, wall_jump: float = 0.0) -> tuple[float, datetime]:
        return self.mono + seconds, self.wall + timedelta(seconds=seconds + wall_jump)


@pytest.fixture
def store() -> Store:
    return open_memory_store()


@pytest.fixture
def changes() -> list[Change]:
    return []


@pytest.fixture
def capture(store: Store, changes: list[Change]) -> Capture:
    return Capture(store, timekeeper=lambda: "alice", on_change=changes.append, mono=lambda: 1000.0)


def outgoing(clock: Clock, call_id: str = "c1") -> ev.CallStarted:
    return ev.CallStarted(*clock.at(0), call_id, 1, "alice@sip.test", "sip:+12025550143@sip.test", "")


def test_answered_call_bills_confirmed_to_disconnected(capture: Capture, store: Store) -> None:
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.handle(ev.CallRinging(*clock.at(0.1), "c1", 1, ev.Direction.OUTGOING, "a", "sip:x@y", ""))
    capture.handle(ev.CallConnected(*clock.at(4.0), "c1", 1))
    capture.handle(ev.CallEnded(*clock.at(7.25), "c1", 1, 200, "Normal call clearing", 3.25, False))
    with store.session() as s:
        call = s.scalars(select(Call)).one()
        entry = s.scalars(select(TimeEntry)).one()
    assert call.disposition == "answered"
    assert call.ring_seconds == pytest.approx(4.0)
    assert call.talk_seconds == pytest.approx(3.25)
    assert call.remote_number == "+12025550143"
    assert entry.raw_seconds == pytest.approx(3.25)
    assert entry.status == "draft"
    assert entry.matter_id is None
    assert entry.timekeeper == "alice"


def test_hangup_press_ends_billing_before_disconnected(capture: Capture, store: Store) -> None:
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    capture.handle(ev.CallHangupRequested(*clock.at(11.0), "c1", 1))
    capture.handle(ev.CallEnded(*clock.at(13.5), "c1", 1, 200, "OK", 12.5, True))
    with store.session() as s:
        assert s.scalars(select(TimeEntry.raw_seconds)).one() == pytest.approx(10.0)


def test_wall_clock_jump_does_not_change_duration(capture: Capture, store: Store) -> None:
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    # The system clock is set back an hour mid-call; the monotonic clock is not.
    capture.handle(ev.CallEnded(*clock.at(61.0, wall_jump=-3600), "c1", 1, 200, "OK", 60.0, False))
    with store.session() as s:
        assert s.scalars(select(TimeEntry.raw_seconds)).one() == pytest.approx(60.0)


@pytest.mark.parametrize(
    ("direction", "local_hangup", "status", "disposition"),
    [
        (ev.Direction.INCOMING, False, 487, "missed"),
        (ev.Direction.INCOMING, True, 486, "declined"),
        (ev.Direction.OUTGOING, True, 487, "cancelled"),
        (ev.Direction.OUTGOING, False, 486, "busy"),
        (ev.Direction.OUTGOING, False, 603, "declined"),
        (ev.Direction.OUTGOING, False, 404, "failed"),
    ],
)
def test_unanswered_calls_are_recorded_without_billable_time(
    capture: Capture, store: Store, direction: ev.Direction, local_hangup: bool, status: int, disposition: str
) -> None:
    clock = Clock()
    if direction is ev.Direction.INCOMING:
        capture.handle(ev.CallRinging(*clock.at(0), "c1", 1, direction, "a", '"Pat" <sip:+12025550143@x>', "Pat"))
    else:
        capture.handle(outgoing(clock))
    capture.handle(ev.CallEnded(*clock.at(5.0), "c1", 1, status, "r", 0.0, local_hangup))
    with store.session() as s:
        call = s.scalars(select(Call)).one()
        assert s.scalars(select(TimeEntry)).all() == []
    assert call.disposition == disposition
    assert call.talk_seconds == 0.0
    assert call.ring_seconds == pytest.approx(5.0)
    assert call.sip_status == status


def test_matter_chosen_before_answer_lands_on_the_entry(capture: Capture, store: Store) -> None:
    with store.session() as s, s.begin():
        matter_id = add_matter(s, "M-7", "Lease", "Acme").id
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.assign_matter(1, matter_id)
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    capture.handle(ev.CallEnded(*clock.at(2.0), "c1", 1, 200, "OK", 1.0, False))
    with store.session() as s:
        entry = s.scalars(select(TimeEntry)).one()
        segment = s.scalars(select(Segment)).one()
    assert entry.matter_id == matter_id
    assert entry.activity_code == "A108"  # the number is nobody's we know: "Communicate (other external)"
    assert segment.matter_id == matter_id


def test_a_call_with_a_clients_number_is_communicate_with_client(capture: Capture, store: Store) -> None:
    from softclock.store.queries import add_number

    with store.session() as s, s.begin():
        add_matter(s, "M-7", "Lease", "Acme")
        add_number(s, "+12025550143", "Acme")
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    capture.handle(ev.CallEnded(*clock.at(2.0), "c1", 1, 200, "OK", 1.0, False))
    with store.session() as s:
        assert s.scalars(select(TimeEntry.activity_code)).one() == "A106"


def test_matter_chosen_after_the_call_ended(capture: Capture, store: Store, changes: list[Change]) -> None:
    with store.session() as s, s.begin():
        matter_id = add_matter(s, "M-8", "Will", "Beta").id
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    capture.handle(ev.CallEnded(*clock.at(2.0), "c1", 1, 200, "OK", 1.0, False))
    capture.assign_matter(1, matter_id)
    with store.session() as s:
        assert s.scalars(select(TimeEntry.matter_id)).one() == matter_id
    assert changes[-1].kind is ChangeKind.ENTRY_CHANGED
    # The entry was born when the call ended: the matter chosen after that is a change to it.
    assert _trail(store) == [("capture", "created", None, "1.000"), ("alice", "matter_id", None, str(matter_id))]


def _answered_call(store: Store, now: list[float]) -> Capture:
    """A Capture whose monotonic clock reads ``now[0]``, with call c1 started at 1000 and answered at 1001."""
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: now[0])
    capture.handle(ev.CallStarted(1000.0, T0, "c1", 1, "a", "sip:x@y", ""))
    capture.handle(ev.CallConnected(1001.0, T0 + timedelta(seconds=1), "c1", 1))
    return capture


def test_heartbeat_writes_running_time(store: Store) -> None:
    now = [1000.0]
    capture = _answered_call(store, now)
    now[0] = 1005.5
    capture.heartbeat()
    with store.session() as s:
        assert s.scalars(select(TimeEntry.raw_seconds)).one() == pytest.approx(4.5)
        assert s.scalars(select(Call.talk_seconds)).one() == pytest.approx(4.5)


def test_recover_closes_a_crashed_call_at_its_last_heartbeat(store: Store) -> None:
    now = [1000.0]
    first = _answered_call(store, now)
    now[0] = 1009.0
    first.heartbeat()
    # The process dies here; a new one starts and recovers.
    second = Capture(store, timekeeper=lambda: "alice")
    assert second.recover() == 1
    with store.session() as s:
        call = s.scalars(select(Call)).one()
        entry = s.scalars(select(TimeEntry)).one()
    assert call.recovered is True
    assert call.disposition == "answered"
    assert entry.raw_seconds == pytest.approx(8.0, abs=0.01)
    assert call.talk_seconds == pytest.approx(8.0, abs=0.01)
    assert call.ended_utc == call.answered_utc + timedelta(seconds=8)
    assert second.recover() == 0


@pytest.mark.parametrize("wall_jump_days", [-400, 400])
def test_recovered_talk_time_ignores_a_wall_clock_jump(store: Store, wall_jump_days: int) -> None:
    """The heartbeat's wall stamp is far from the answer's (the clock was changed mid-call):
    recovery uses the monotonic seconds the heartbeat wrote, not the stamps' difference."""
    now = [1000.0]
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: now[0])
    answered = datetime.now(UTC) + timedelta(days=wall_jump_days)
    capture.handle(ev.CallStarted(1000.0, answered, "c1", 1, "a", "sip:x@y", ""))
    capture.handle(ev.CallConnected(1001.0, answered, "c1", 1))
    now[0] = 1013.5
    capture.heartbeat()
    assert Capture(store, timekeeper=lambda: "alice").recover() == 1
    with store.session() as s:
        assert s.scalars(select(TimeEntry.raw_seconds)).one() == pytest.approx(12.5)
        assert s.scalars(select(Call.talk_seconds)).one() == pytest.approx(12.5)


def test_a_recovered_short_call_is_short_and_not_billable(store: Store) -> None:
    now = [1000.0]
    first = _answered_call(store, now)
    now[0] = 1004.0
    first.heartbeat()
    second = Capture(store, timekeeper=lambda: "alice", short_call_s=lambda: 30)
    assert second.recover() == 1
    with store.session() as s:
        entry = s.scalars(select(TimeEntry)).one()
        assert s.scalars(select(Call.recovered)).one() is True
        assert audit.verify(s, full=True).ok
    assert (entry.flag, entry.billable, entry.raw_seconds) == ("short", False, pytest.approx(3.0))
    assert [(f, new) for _, f, _, new in _trail(store)] == [
        ("created", "3.000"),
        ("flag", "short"),
        ("billable", "False"),
    ]


def test_repeated_and_unknown_events_are_ignored(capture: Capture, store: Store) -> None:
    clock = Clock()
    capture.handle(ev.CallConnected(*clock.at(1.0), "nope", 9))
    capture.handle(ev.CallEnded(*clock.at(2.0), "nope", 9, 200, "OK", 1.0, False))
    capture.handle(outgoing(clock))
    capture.handle(outgoing(clock))
    with store.session() as s:
        assert len(s.scalars(select(Call)).all()) == 1


def test_short_call_becomes_a_non_billable_draft_marked_short(store: Store) -> None:
    capture = Capture(store, timekeeper=lambda: "alice", short_call_s=lambda: 30)
    clock = Clock()
    capture.handle(outgoing(clock))
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    capture.handle(ev.CallEnded(*clock.at(11.0), "c1", 1, 200, "OK", 10.0, False))
    with store.session() as s:
        entry = s.scalars(select(TimeEntry)).one()
    assert (entry.flag, entry.billable, entry.raw_seconds) == ("short", False, pytest.approx(10.0))
    assert _trail(store) == [
        ("capture", "created", None, "10.000"),
        ("capture", "flag", "", "short"),
        ("capture", "billable", "True", "False"),
    ]
    with store.session() as s:
        assert audit.verify(s, full=True).ok


def _entries_by_matter(store: Store) -> dict[int | None, TimeEntry]:
    with store.session() as s:
        return {e.matter_id: e for e in s.scalars(select(TimeEntry))}


def test_switching_matter_mid_call_gives_each_matter_its_own_entry(store: Store) -> None:
    with store.session() as s, s.begin():
        a = add_matter(s, "A-1", "Lease", "Acme").id
        b = add_matter(s, "B-1", "Will", "Beta").id
    now = [1000.0]
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: now[0])
    capture.handle(ev.CallStarted(1000.0, T0, "c1", 1, "a", "sip:x@y", ""))
    capture.handle(ev.CallConnected(1001.0, T0, "c1", 1))
    now[0] = 1003.0
    capture.assign_matter(1, a)  # the unassigned start goes to A as well
    now[0] = 1061.0
    capture.assign_matter(1, b)
    now[0] = 1091.0
    capture.assign_matter(1, a)  # back to A: A's entry grows again
    capture.handle(ev.CallEnded(1101.0, T0, "c1", 1, 200, "OK", 100.0, False))
    entries = _entries_by_matter(store)
    assert set(entries) == {a, b}
    assert entries[a].raw_seconds == pytest.approx(60 + 10)
    assert entries[b].raw_seconds == pytest.approx(30)
    with store.session() as s:
        segments = list(s.scalars(select(Segment).order_by(Segment.id)))
    assert [(seg.matter_id, round(seg.seconds)) for seg in segments] == [(a, 60), (b, 30), (a, 10)]


def test_hold_is_a_segment_and_held_seconds_are_on_the_entry(store: Store) -> None:
    capture = Capture(store, timekeeper=lambda: "alice")
    capture.handle(ev.CallStarted(1000.0, T0, "c1", 1, "a", "sip:x@y", ""))
    capture.handle(ev.CallConnected(1000.0, T0, "c1", 1))
    capture.handle(ev.CallHoldChanged(1020.0, T0, "c1", 1, ev.HoldState.LOCAL))
    capture.handle(ev.CallHoldChanged(1050.0, T0, "c1", 1, ev.HoldState.NONE))
    capture.handle(ev.CallEnded(1060.0, T0, "c1", 1, 200, "OK", 60.0, False))
    (entry,) = _entries_by_matter(store).values()
    assert (entry.raw_seconds, entry.hold_seconds) == (pytest.approx(60), pytest.approx(30))
    with store.session() as s:
        assert [seg.held for seg in s.scalars(select(Segment).order_by(Segment.id))] == [False, True, False]


def _trail(store: Store) -> list[tuple[str, str, str | None, str | None]]:
    from softclock.store.models import AuditEvent

    with store.session() as s:
        rows = s.execute(
            select(AuditEvent.actor, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value).order_by(
                AuditEvent.id
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_recovered_call_is_explained_in_the_trail(store: Store) -> None:
    now = [1000.0]
    first = _answered_call(store, now)
    now[0] = 1004.0
    with store.session() as s:
        other = add_matter(s, "M-2", "Will", "Beta").id
        s.commit()
    first.assign_matter(1, other)  # unassigned so far: the whole call goes to M-2
    now[0] = 1006.0
    first.assign_matter(1, None)  # back to "decide later": a second entry from here
    now[0] = 1010.0
    first.heartbeat()
    assert _trail(store) == []  # nothing is born before the call ends
    Capture(store, timekeeper=lambda: "alice").recover()
    with store.session() as s:
        raws = sorted(e.raw_seconds for e in s.scalars(select(TimeEntry)))
    assert raws == [pytest.approx(4.0), pytest.approx(5.0)]  # each its own time, not the call's 9 s twice
    assert sorted((f, new) for _, f, _, new in _trail(store)) == [
        ("created", "4.000"),
        ("created", "5.000"),
        ("flag", "recovered"),
        ("flag", "recovered"),
    ]
