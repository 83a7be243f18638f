import os
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from softclock.recordings import apply_retention, recording_path
from softclock.store.db import open_store
from softclock.store.models import Call


def test_old_recordings_are_deleted_and_unlinked(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    old, new = recording_path(tmp_path, "old-call"), tmp_path / "recordings" / "new.wav"
    old.write_bytes(b"RIFF")
    new.write_bytes(b"RIFF")
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    with store.session() as s, s.begin():
        for cid, path in (("old-call", old), ("new-call", new)):
            s.add(
                Call(
                    sip_call_id=cid,
                    direction="outgoing",
                    account="a",
                    remote_uri="sip:x@y",
                    invited_utc=datetime.now(UTC).replace(tzinfo=None),
                    recording_path=str(path),
                )
            )
    assert (tmp_path / "recordings").stat().st_mode & 0o777 == 0o700
    assert apply_retention(store, tmp_path, days=30) == 1
    assert not old.exists() and new.exists()
    with store.session() as s:
        paths = dict(s.execute(select(Call.sip_call_id, Call.recording_path)).all())
    assert paths == {"old-call": None, "new-call": str(new)}
    assert apply_retention(store, tmp_path, days=0) == 0
    store.close()
