"""WAL checkpoints leave the writers' COMMIT: the store's connections do not checkpoint, a thread does."""

from __future__ import annotations

from pathlib import Path

import pytest

from softclock.store.checkpoint import Checkpointer
from softclock.store.db import open_store


def _write_pages(store, n: int) -> None:  # type: ignore[no-untyped-def]
    """About ``n`` pages of new rows in one commit (4 KiB pages)."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
        conn.exec_driver_sql(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?) "
            "INSERT INTO filler SELECT randomblob(4000) FROM g",
            (n,),
        )


def test_a_commit_leaves_the_checkpoint_to_the_checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    woken = []
    monkeypatch.setattr(Checkpointer, "after_commit", lambda self: woken.append(self.waiting()))
    store = open_store(tmp_path)
    try:
        checkpointer = store._checkpointer
        assert checkpointer is not None
        _write_pages(store, 1500)
        # SQLite would have checkpointed inside that COMMIT (past 1,000 pages); the frames are still waiting.
        assert checkpointer.waiting() >= 1500
        assert woken and max(woken) >= 1500  # the connection came back to the pool: the checkpointer was asked
        busy, frames, copied = checkpointer.run_once()
        assert busy == 0 and copied == frames >= 1500
        assert checkpointer.waiting() == 0
    finally:
        store.close()


def test_the_thread_checkpoints_a_long_wal_after_a_commit(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        checkpointer = store._checkpointer
        assert checkpointer is not None
        _write_pages(store, 1200)  # past PAGES: the commit's check-in wakes the thread
        assert checkpointer.ran.wait(10)
        assert checkpointer.waiting() == 0
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == 1200
    finally:
        store.close()
