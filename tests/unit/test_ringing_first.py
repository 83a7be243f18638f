"""An incoming call's ringing reaches the window before capture's store write
(issue 13: the ringing window within 14 ms of the INVITE); every other call
event still reaches it after capture recorded it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from softclock import events as ev
from softclock.app import event_pipeline
from softclock.capture import Capture
from softclock.store.db import Store, open_store
from softclock.store.models import Call
from softclock.worker import DbWorker


class SlowStore:
    """The store, whose every session waits until ``gate`` is set (a slow disk, a cold start)."""

    def __init__(self, store: Store, gate: threading.Event, log: list[str]) -> None:
        self._store, self._gate, self._log = store, gate, log

    def session(self) -> Session:
        self._log.append("store write starts")
        assert self._gate.wait(10), "nobody let the store write"
        return self._store.session()


def ringing(handle: int, call_id: str = "") -> ev.CallRinging:
    """An incoming call from Bob's number ringing here (Call-ID call-HANDLE unless given)."""
    return ev.CallRinging(
        mono=time.monotonic(),
        utc=datetime.now(UTC),
        call_id=call_id or f"call-{handle}",
        handle=handle,
        direction=ev.Direction.INCOMING,
        account="sip:me@example.com",
        remote_uri="sip:+12125550100@example.com",
        display_name="Bob",
        remote_tag="tag",
    )


def _ended(handle: int) -> ev.CallEnded:
    return ev.CallEnded(
        mono=time.monotonic(),
        utc=datetime.now(UTC),
        call_id=f"call-{handle}",
        handle=handle,
        sip_status=487,
        reason="Request Terminated",
        connect_duration_s=0.0,
        local_hangup=False,
    )


def test_the_ringing_window_is_told_before_the_store_write_and_the_end_after(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    gate = threading.Event()
    log: list[str] = []
    worker = DbWorker()
    try:
        capture = Capture(SlowStore(store, gate, log), timekeeper=lambda: "me")  # type: ignore[arg-type]

        def sink(event: ev.Event) -> None:  # the bridge to the window
            log.append(f"window: {type(event).__name__}")

        pipeline = event_pipeline(worker, capture, sink)
        pipeline(ringing(1))
        # The window has the ringing call although the store has not been asked yet,
        # let alone written (the worker is held at the store's door until the gate opens).
        assert log[0] == "window: CallRinging"
        gate.set()
        pipeline(_ended(1))
        worker.drain(10)
        assert log == [
            "window: CallRinging",
            "store write starts",  # the ringing call
            "store write starts",  # its end ...
            "window: CallEnded",  # ... reaches the window only once recorded
        ]
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Call)) == 1
        summary = capture.summary(1)
        assert summary is not None and summary.sip_call_id == "call-1"
    finally:
        gate.set()
        worker.stop()
        store.close()
