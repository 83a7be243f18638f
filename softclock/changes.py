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


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    sip_call_id: str = ""
    entry_id: str = ""
