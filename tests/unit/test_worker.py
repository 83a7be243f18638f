"""The one database worker, the one change channel, and capture's own heartbeat on them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from softclock import events as ev
from softclock.capture import HEARTBEAT_S, Capture
from softclock.changes import Change, ChangeBus, ChangeKind
from softclock.facades import facades
from softclock.store.db import open_memory_store
from softclock.store.models import Call
from softclock.worker import DbWorker, WorkerStopped
from tests.unit.test_capture import Clock, outgoing


def test_jobs_run_one_at_a_time_in_order_on_one_thread() -> None:
    worker = DbWorker()
    try:
        seen: list[tuple[int, str]] = []
        futures = [worker.submit(lambda i=i: seen.append((i, threading.current_thread().name))) for i in range(50)]
        for f in futures:
            f.result(5)
        assert [i for i, _ in seen] == list(range(50))
        assert {name for _, name in seen} == {"db-worker"}
    finally:
        worker.stop()


def test_a_job_error_reaches_whoever_waits_and_the_worker_carries_on() -> None:
    worker = DbWorker()
    try:
        with pytest.raises(ZeroDivisionError):
            worker.call(lambda: 1 / 0)
        assert worker.call(lambda: 2 + 2) == 4
    finally:
        worker.stop()
    with pytest.raises(WorkerStopped):
        worker.submit(lambda: 1).result(1)


def test_timers_run_on_the_worker_when_due_and_a_failing_timer_is_a_bug() -> None:
    now = [0.0]
    bugs: list[str] = []
    worker = DbWorker(mono=lambda: now[0], on_bug=lambda where, exc: bugs.append(f"{where}: {exc!r}"))
    try:
        ran = threading.Event()
        worker.later(5.0, ran.set)
        worker.drain(5)
        assert not ran.is_set()  # not due on the worker's clock
        now[0] = 5.0
        worker.later(0.0, lambda: 1 / 0)  # wakes the worker; both are due
        assert ran.wait(5)
        worker.drain(5)
        assert bugs and "ZeroDivisionError" in bugs[0]
    finally:
        worker.stop()


def test_the_bus_reaches_every_subscriber_until_it_unsubscribes() -> None:
    bus = ChangeBus()
    a: list[Change] = []
    b: list[Change] = []
    bus.subscribe(a.append)
    stop_b = bus.subscribe(b.append)
    bus.publish(Change(ChangeKind.ENTRY_CHANGED, entry_id="e1"))
    stop_b()
    bus.publish(Change(ChangeKind.CALL_ENDED, "c1"))
    assert [c.kind for c in a] == [ChangeKind.ENTRY_CHANGED, ChangeKind.CALL_ENDED]
    assert [c.entry_id for c in b] == ["e1"]


def test_capture_keeps_its_own_heartbeat_only_while_a_call_is_live() -> None:
    """No widget drives the crash heartbeat: capture schedules it on the worker while a call is
    live (the running talk time reaches the store) and stops once the call ended (an idle phone
    does not wake)."""
    store = open_memory_store()
    scheduled: list[tuple[float, object]] = []
    mono = [1000.0]
    capture = Capture(
        store,
        timekeeper=lambda: "alice",
        mono=lambda: mono[0],
        schedule=lambda delay, job: scheduled.append((delay, job)),
    )
    clock = Clock()
    capture.handle(outgoing(clock))
    assert [d for d, _ in scheduled] == [HEARTBEAT_S]
    capture.handle(ev.CallConnected(*clock.at(1.0), "c1", 1))
    assert len(scheduled) == 1  # one heartbeat armed at a time
    mono[0] = clock.mono + 4.0
    _, beat = scheduled.pop()
    beat()  # type: ignore[operator]
    with store.session() as s:
        call = s.scalars(select(Call)).one()
        assert call.talk_seconds == pytest.approx(3.0) and call.last_heartbeat_utc is not None
    assert len(scheduled) == 1  # armed again: the call is still live
    capture.handle(ev.CallEnded(*clock.at(6.0), "c1", 1, 200, "OK", 5.0, True))
    _, beat = scheduled.pop()
    beat()  # type: ignore[operator]
    assert scheduled == []  # nothing live: no more wake-ups


def test_the_review_service_announces_what_it_changed_on_the_bus() -> None:
    from softclock.billing import Policy
    from tests.helpers.entries import make_entry, make_matter

    store = open_memory_store()
    bus = ChangeBus()
    seen: list[Change] = []
    bus.subscribe(seen.append)
    views = facades(store, lambda: "atty-jones", Policy, bus)
    entry_id = make_entry(store, 400, make_matter(store, "M-1"))
    outcome = views.review.approve([entry_id])
    assert list(outcome.done) == [entry_id]
    assert [(c.kind, c.entry_id) for c in seen] == [(ChangeKind.ENTRY_CHANGED, entry_id)]
    (row,) = views.review.entries(status="approved")
    assert row.id == entry_id and row.matter is not None and row.matter.code == "M-1"
