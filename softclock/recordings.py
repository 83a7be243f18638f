"""Where call recordings live, and their retention."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from softclock.paths import ensure_private_dir
from softclock.store.db import Store
from softclock.store.models import Call

log = logging.getLogger("softclock.recordings")


def recording_path(data_dir: Path, sip_call_id: str) -> Path:
    """A new private file name for a call's recording."""
    folder = ensure_private_dir(data_dir / "recordings")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c for c in sip_call_id if c.isalnum())[:16] or "call"
    return folder / f"{stamp}-{safe}.wav"


def apply_retention(store: Store, data_dir: Path, days: int, now: float | None = None) -> int:
    """Delete recordings older than ``days`` and unlink them from their calls."""
    folder = data_dir / "recordings"
    if days <= 0 or not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - days * 86400
    removed = []
    for path in folder.glob("*.wav"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(str(path))
        except OSError as exc:
            log.warning("cannot delete old recording %s: %s", path.name, exc.strerror)
    if removed:
        with store.session() as s, s.begin():
            s.execute(update(Call).where(Call.recording_path.in_(removed)).values(recording_path=None))
        log.info("deleted %d recordings older than %d days", len(removed), days)
    return len(removed)
