"""Capture when the store refuses writes, and calls keyed by their dialog.

Real SQLite files: one held locked by another connection, one on a small tmpfs
that is filled up and one remounted read-only. Every call made meanwhile must
reach the store with its right duration once the store takes writes again.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from softclock import audit
from softclock import events as ev
from softclock.capture import Capture, Change, ChangeKind
from softclock.store.db import DB_NAME, Store, open_memory_store, open_store
from softclock.store.models import Call, TimeEntry

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


class Phone:
    """Hand-made SIP events on a monotonic clock the test moves."""

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.mono = 5000.0
        self.handle = 0

    def call(self, talk_s: float, call_id: str | None = None, tag: str = "") -> int:
        self.handle += 1
        h = self.handle
        cid = call_id or f"call-{h}"
        utc = T0 + timedelta(seconds=self.mono - 5000.0)
        self.capture.handle(
            ev.CallRinging(self.mono, utc, cid, h, ev.Direction.INCOMING, "a", "sip:+12025550143@x", "", remote_tag=tag)
        )
        self.capture.handle(ev.CallConnected(self.mono + 1, utc, cid, h))
        self.capture.handle(ev.CallEnded(self.mono + 1 + talk_s, utc, cid, h, 200, "OK", talk_s, False))
        self.mono += 100
        return h


def _stored(store: Store) -> list[tuple[str, float, float]]:
    with store.session() as s:
        rows = s.execute(
            select(Call.sip_call_id, Call.talk_seconds, TimeEntry.raw_seconds)
            .join(TimeEntry, TimeEntry.call_id == Call.id)
            .order_by(Call.id)
        ).all()
    return [(r[0], round(r[1], 3), round(r[2], 3)) for r in rows]


def test_a_second_dialog_reusing_a_live_calls_call_id_is_a_call_of_its_own() -> None:
    store = open_memory_store()
    capture = Capture(store, timekeeper=lambda: "alice")
    capture.handle(
        ev.CallRinging(100.0, T0, "dup", 1, ev.Direction.INCOMING, "a", "sip:+12025550143@x", "", remote_tag="tagA")
    )
    capture.handle(ev.CallConnected(101.0, T0, "dup", 1))
    # A second INVITE with the same Call-ID and another From tag: another dialog.
    capture.handle(
        ev.CallRinging(102.0, T0, "dup", 2, ev.Direction.INCOMING, "a", "sip:+12025550199@x", "", remote_tag="tagB")
    )
    capture.handle(ev.CallConnected(102.5, T0, "dup", 2))
    capture.handle(ev.CallEnded(104.0, T0, "dup", 2, 200, "OK", 1.5, False))  # the stranger hangs up after 1.5 s
    capture.handle(ev.CallEnded(110.0, T0, "dup", 1, 200, "OK", 9.0, False))  # the real call lasted 9 s
    with store.session() as s:
        calls = {c.dialog_tag: c for c in s.scalars(select(Call))}
        assert set(calls) == {"tagA", "tagB"}
        assert calls["tagA"].talk_seconds == pytest.approx(9.0)
        assert calls["tagB"].talk_seconds == pytest.approx(1.5)
        assert calls["tagA"].remote_number == "+12025550143"
        raws = sorted(s.scalars(select(TimeEntry.raw_seconds)))
    assert raws == [pytest.approx(1.5), pytest.approx(9.0)]


def test_an_incoming_call_refused_busy_is_recorded_busy() -> None:
    store = open_memory_store()
    capture = Capture(store, timekeeper=lambda: "alice")
    capture.handle(ev.CallRinging(100.0, T0, "b1", 7, ev.Direction.INCOMING, "a", "sip:+12025550143@x", ""))
    capture.handle(ev.CallEnded(100.01, T0, "b1", 7, 486, "Busy Here (all lines in use)", 0.0, False))
    with store.session() as s:
        call = s.scalars(select(Call)).one()
    assert (call.disposition, call.sip_status) == ("busy", 486)


def test_a_locked_store_keeps_calls_in_memory_and_writes_them_when_free(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    changes: list[Change] = []
    capture = Capture(store, timekeeper=lambda: "alice", on_change=changes.append, busy_timeout_ms=50)
    phone = Phone(capture)
    phone.call(3.0)
    # Another program (a long import) holds the write lock.
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    for talk in (4.0, 5.5, 7.25):
        phone.call(talk)
    assert capture.unavailable and "locked" in capture.unavailable
    unavailable = [c for c in changes if c.kind is ChangeKind.STORE_UNAVAILABLE]
    assert len(unavailable) == 1 and "locked" in unavailable[0].reason
    assert capture.retry() is False  # still locked: nothing is dropped
    other.execute("ROLLBACK")
    other.close()
    assert capture.retry() is True
    assert changes[-1].kind is ChangeKind.STORE_AVAILABLE and capture.unavailable == ""
    assert [(talk, raw) for _, talk, raw in _stored(store)] == [(3.0, 3.0), (4.0, 4.0), (5.5, 5.5), (7.25, 7.25)]
    with store.session() as s:
        assert audit.verify(s, full=True).ok
        assert {c.disposition for c in s.scalars(select(Call))} == {"answered"}


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs for the disk-full test: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    _mount_tmpfs(where, "2m")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(directory: Path) -> Path:
    """Take every free byte of the file system."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512):  # then the last partial blocks
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_loses_no_call(small_disk: Path) -> None:
    store = open_store(small_disk / "data")
    changes: list[Change] = []
    capture = Capture(store, timekeeper=lambda: "alice", on_change=changes.append)
    phone = Phone(capture)
    for i in range(15):
        phone.call(2.0 + i)
    filler = _fill(small_disk)
    for i in range(15, 25):
        phone.call(2.0 + i)
    assert capture.unavailable, "the full disk was not noticed"
    assert any(c.kind is ChangeKind.STORE_UNAVAILABLE for c in changes)
    filler.unlink()
    assert capture.retry() is True
    stored = _stored(store)
    assert [raw for _, _, raw in stored] == [2.0 + i for i in range(25)]
    assert [talk for _, talk, _ in stored] == [2.0 + i for i in range(25)]
    with store.session() as s:
        assert audit.verify(s, full=True).ok
    store.close()


def test_a_read_only_data_directory_at_start_holds_calls_until_it_can_be_written(small_disk: Path) -> None:
    from softclock.errors import StoreError

    data = small_disk / "data"
    open_store(data).close()  # yesterday's store
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            open_store(data)
        store = open_memory_store()  # what the app holds calls in meanwhile (softclock.app.build_core)
        changes: list[Change] = []
        capture = Capture(store, timekeeper=lambda: "alice", on_change=changes.append)
        capture.hold_until(lambda: open_store(data), "Cannot write the data directory: it is read-only")
        assert changes[-1].kind is ChangeKind.STORE_UNAVAILABLE and "read-only" in changes[-1].reason
        phone = Phone(capture)
        phone.call(3.0)
        phone.call(5.0)
        assert capture.retry() is False and capture.unavailable
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert capture.retry() is True
    assert changes[-1].kind is ChangeKind.STORE_AVAILABLE
    assert store.path == data / DB_NAME  # the holding store became the real one in place
    assert [raw for _, _, raw in _stored(store)] == [3.0, 5.0]
    with store.session() as s:
        assert audit.verify(s, full=True).ok
    store.close()
