"""WAL checkpoints off the writers' path.

SQLite's own checkpoint runs inside the COMMIT that pushes the WAL past 1,000
pages: copying the pages into the database file and syncing it cost ~55 ms of
approving 1,000 drafts on a store of 1,000,000 entries (``bench/store_scale.py``).
The store's connections turn that off (``wal_autocheckpoint = 0``) and a
:class:`Checkpointer` thread does it on a connection of its own: after each
commit it reads how many frames the WAL holds that the database file does not
(two words of the ``-shm`` file's header, see https://sqlite.org/walformat.html)
and, from :data:`PAGES` on, runs a PASSIVE checkpoint, which never waits for a
reader or writer. A run that cannot finish (a reader holds old pages) is
repeated after a later commit. Closing the store checkpoints as before (the last
connection to close does it).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
from pathlib import Path

log = logging.getLogger("softclock.store")

PAGES = 1000  # SQLite's own default threshold
_MX_FRAME = 16  # WalIndexHdr.mxFrame: frames in the WAL
_BACKFILL = 96  # WalCkptInfo.nBackfill: frames already copied into the database (after two 48-byte headers)


class Checkpointer:
    def __init__(self, db: Path, pages: int = PAGES) -> None:
        self._db = db
        self._shm = db.with_name(db.name + "-shm")
        self._pages = pages
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.ran = threading.Event()  # set after each run of the thread (tests wait on it)

    def waiting(self) -> int:
        """Frames in the WAL not yet in the database file (0 when unknown)."""
        try:
            with open(self._shm, "rb") as f:
                head = os.pread(f.fileno(), _BACKFILL + 4, 0)
        except OSError:
            return 0
        if len(head) < _BACKFILL + 4:
            return 0
        (frames,) = struct.unpack_from("=I", head, _MX_FRAME)
        (backfilled,) = struct.unpack_from("=I", head, _BACKFILL)
        return max(0, int(frames) - int(backfilled))

    def after_commit(self) -> None:
        """Called after each commit: wakes the thread when the WAL is long enough."""
        if self._stopping or self.waiting() < self._pages:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
                self._thread.start()
        self._wake.set()

    def run_once(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint on a connection of its own: (busy, frames in the WAL, frames copied)."""
        conn = sqlite3.connect(self._db, timeout=0)
        try:
            row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        return int(row[0]), int(row[1]), int(row[2])

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                busy, frames, copied = self.run_once()
                log.debug("checkpoint: %d of %d frames copied (busy %d)", copied, frames, busy)
            except sqlite3.Error as exc:  # the store went away, or a lock: the next commit tries again
                log.debug("checkpoint: %s", exc)
            self.ran.set()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
