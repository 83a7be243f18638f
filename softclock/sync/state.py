"""Where sync stands, kept in the local store so the CLI and the UI read it without the network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from softclock.billing import Policy, PolicyError
from softclock.formatting import utc_now
from softclock.store.models import Outbox, SyncState

LAST_OK = "last_ok_utc"
DOWN_SINCE = "down_since_utc"
LAST_ERROR = "last_error"
FIRM_POLICY = "firm_policy"


def get(session: Session, key: str) -> str | None:
    return session.scalar(select(SyncState.value).where(SyncState.key == key))


def put(session: Session, key: str, value: str) -> None:
    stmt = sqlite_insert(SyncState).values(key=key, value=value)
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def drop(session: Session, key: str) -> None:
    session.query(SyncState).filter(SyncState.key == key).delete()


def cursor(session: Session, name: str) -> int:
    return int(get(session, f"cursor:{name}") or 0)


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class SyncStatus:
    configured: bool
    waiting: int  # approved versions not yet in the central store
    conflicts: int
    last_ok_utc: datetime | None
    down_since_utc: datetime | None
    last_error: str

    def summary(self, now: datetime | None = None) -> str:
        """ "Synced 2 min ago" / "3 waiting, central store unreachable since 10:02"."""
        if not self.configured:
            return "Sync off (no central store set)"
        now = now or utc_now()
        parts = []
        if self.down_since_utc is not None:
            local = self.down_since_utc.replace(tzinfo=UTC).astimezone()
            parts.append(f"{self.waiting} waiting, central store unreachable since {local:%H:%M}")
        elif self.waiting:
            parts.append(f"{self.waiting} waiting to sync")
        elif self.last_ok_utc is not None:
            parts.append(f"Synced {_ago(now - self.last_ok_utc)}")
        else:
            parts.append("Not synced yet")
        if self.conflicts:
            parts.append(f"{self.conflicts} conflict{'s' if self.conflicts != 1 else ''} to resolve")
        return "; ".join(parts)


def _ago(delta) -> str:  # type: ignore[no-untyped-def]
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def status(session: Session, configured: bool) -> SyncStatus:
    counts = dict(
        session.execute(
            select(Outbox.state, func.count()).where(Outbox.state.in_(("pending", "conflict"))).group_by(Outbox.state)
        ).all()
    )
    return SyncStatus(
        configured=configured,
        waiting=counts.get("pending", 0),
        conflicts=counts.get("conflict", 0),
        last_ok_utc=_parse_time(get(session, LAST_OK)),
        down_since_utc=_parse_time(get(session, DOWN_SINCE)),
        last_error=get(session, LAST_ERROR) or "",
    )


def firm_policy(session: Session, fallback: Policy) -> Policy:
    """The firm's policy as last pulled from the central store, else ``fallback`` (the settings)."""
    raw = get(session, FIRM_POLICY)
    if not raw:
        return fallback
    try:
        return Policy(**json.loads(raw))
    except (ValueError, TypeError, PolicyError):
        return fallback
