"""What capture changed: one broadcast, each view decides whether to refresh."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ChangeKind(enum.Enum):
    CALL_STARTED = "call_started"
    CALL_CONNECTED = "call_connected"
    CALL_ENDED = "call_ended"
    ENTRY_CHANGED = "entry_changed"
    RECOVERED = "recovered"
    STORE_UNAVAILABLE = "store_unavailable"  # calls are kept in memory: the store refuses writes (reason says why)
    STORE_AVAILABLE = "store_available"  # the store took everything kept in memory


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    sip_call_id: str = ""
    entry_id: str = ""
    reason: str = ""
