"""The audit chain anchored outside the laptop.

Whoever can write the local database file can rewrite the whole audit chain
with fresh hashes, its head and its checkpoint: nothing kept on the laptop
alone can tell. So each push carries the chain's head (how many events, the
last one's id and hash) to the central store, in the push's own transaction,
as a row of ``chain_anchors`` for this timekeeper and this computer (a device
id made once and kept in the local sync state); the central store never lets
an anchor change. :func:`compare` holds the local chain to every anchor the
firm holds for this computer: a chain rewritten after an anchor no longer has
the anchored hash at the anchored place, and the first anchor that no longer
matches says where.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from softclock.store.db import Store
from softclock.store.models import AuditHead
from softclock.sync import state
from softclock.sync.central import ChainAnchor

DEVICE_KEY = "device_id"
DEVICE_LABEL_KEY = "device_label"
ANCHORED_KEY = "anchored_head"  # "count:hash" of the last head the central store took


@dataclass(frozen=True)
class Device:
    id: str
    label: str


@dataclass(frozen=True)
class Head:
    """The audit chain's head as the local store's head row gives it."""

    seq: int  # how many events
    event_id: int
    hash: str

    @property
    def key(self) -> str:
        return f"{self.seq}:{self.hash}"


def device(store: Store) -> Device:
    """This computer's device id (made on first use) and a label people recognise (the host name)."""
    with store.session() as s:
        known, label = state.get(s, DEVICE_KEY), state.get(s, DEVICE_LABEL_KEY)
    if known:
        return Device(known, label or "")
    made = Device(str(uuid.uuid4()), socket.gethostname()[:200])
    with store.session() as s, s.begin():
        if state.get(s, DEVICE_KEY) is None:  # another writer may have made one meanwhile
            state.put(s, DEVICE_KEY, made.id)
            state.put(s, DEVICE_LABEL_KEY, made.label)
        return Device(state.get(s, DEVICE_KEY) or made.id, state.get(s, DEVICE_LABEL_KEY) or made.label)


def local_head(session: Session) -> Head | None:
    row = session.execute(
        select(AuditHead.count, AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
    ).first()
    if row is None:
        return None
    count, last_id, last_hash = row  # (not row.count: a Row is a tuple, and that is its count method)
    return Head(int(count), int(last_id), str(last_hash)) if count else None


def anchored(session: Session) -> str | None:
    """The key of the last head the central store took from this computer."""
    return state.get(session, ANCHORED_KEY)


def write(conn: Connection, identity: str, dev: Device, head: Head, now: datetime) -> None:
    """One anchor, in the caller's central transaction."""
    conn.execute(
        insert(ChainAnchor),
        [
            {
                "timekeeper_id": identity,
                "device_id": dev.id,
                "device_label": dev.label,
                "seq": head.seq,
                "event_id": head.event_id,
                "head_hash": head.hash,
                "anchored_utc": now,
            }
        ],
    )


def remember(session: Session, head: Head) -> None:
    """After the central commit: this head is anchored (the next push anchors only a newer one)."""
    state.put(session, ANCHORED_KEY, head.key)


@dataclass(frozen=True)
class Anchor:
    seq: int
    event_id: int
    hash: str
    at: datetime


@dataclass(frozen=True)
class Comparison:
    ok: bool
    anchors: int  # anchors the firm holds for this computer
    message: str
    event_id: int | None = None  # the anchored event that no longer matches
    other_devices: int = 0


def compare(session: Session, central: Engine, identity: str, device_id: str | None) -> Comparison:
    """Hold the local chain to the anchors the central store holds for this computer.

    The local chain should itself be intact (``audit.verify``): then matching the
    newest anchor means matching them all, since each hash covers every event
    before it; otherwise the first anchor that no longer matches is found by
    halving, and named with the last one that still does.
    """
    with central.connect() as conn:
        rows = conn.execute(
            select(
                ChainAnchor.device_id,
                ChainAnchor.device_label,
                ChainAnchor.seq,
                ChainAnchor.event_id,
                ChainAnchor.head_hash,
                ChainAnchor.anchored_utc,
            )
            .where(ChainAnchor.timekeeper_id == identity)
            .order_by(ChainAnchor.seq, ChainAnchor.id)
        ).all()
    mine = [Anchor(r.seq, r.event_id, r.head_hash, r.anchored_utc) for r in rows if r.device_id == device_id]
    others = {r.device_id: r.device_label for r in rows if r.device_id != device_id}
    if not mine:
        told = ""
        if others:
            labels = ", ".join(sorted(label or "unnamed" for label in others.values()))
            told = f"; it holds anchors of {len(others)} other computer(s) of {identity} ({labels})"
        return Comparison(
            True,
            0,
            f"The central store holds no anchor of this computer's audit chain yet{told}.",
            other_devices=len(others),
        )
    dbapi = session.connection().connection.driver_connection
    assert dbapi is not None

    def differs(anchor: Anchor) -> str:
        found = dbapi.execute("SELECT hash FROM audit_events WHERE id = ?", (anchor.event_id,)).fetchone()
        if found is None:
            return "is missing here"
        position = dbapi.execute("SELECT count(*) FROM audit_events WHERE id <= ?", (anchor.event_id,)).fetchone()[0]
        if found[0] != anchor.hash:
            return f"has hash {found[0][:12]}… here but the firm holds {anchor.hash[:12]}…"
        if position != anchor.seq:
            return f"is event number {position} of the chain here but was number {anchor.seq}"
        return ""

    newest = mine[-1]
    if not differs(newest):
        return Comparison(
            True,
            len(mine),
            f"The audit chain matches the {len(mine)} anchor(s) the central store holds "
            f"for this computer, the newest at event {newest.event_id} ({newest.seq} events, "
            f"{newest.at:%Y-%m-%d %H:%M} UTC).",
            other_devices=len(others),
        )
    low, high = 0, len(mine) - 1  # mine[high] differs; find the first that does
    while low < high:
        middle = (low + high) // 2
        if differs(mine[middle]):
            high = middle
        else:
            low = middle + 1
    first = mine[high]
    since = (
        (
            f"; it still matches at event {mine[high - 1].event_id} (anchored {mine[high - 1].at:%Y-%m-%d %H:%M} UTC), "
            f"so the chain was rewritten after that event"
        )
        if high
        else "; no anchor of the firm's matches, so the chain was rewritten from its start"
    )
    return Comparison(
        False,
        len(mine),
        f"the audit chain is not the one the central store anchored: event {first.event_id} (number {first.seq}, "
        f"anchored {first.at:%Y-%m-%d %H:%M} UTC) {differs(first)}{since}",
        first.event_id,
        len(others),
    )
