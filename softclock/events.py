"""Plain, frozen events that leave the SIP layer.

The SIP layer (``softclock.sip``) turns pjsua2 callbacks into these events;
nothing else in the program ever sees a pjsua2 type. Every event carries the
monotonic time (``time.monotonic()``) and the wall-clock UTC time at which the
callback fired, so durations never depend on the wall clock or on how long the
event waited in a queue.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from softclock.states import DeviceKind


class Direction(enum.Enum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


class RegState(enum.Enum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"
    LOCAL = "local"  # an account without a registrar (the demo line)


@dataclass(frozen=True)
class Event:
    mono: float
    utc: datetime


@dataclass(frozen=True)
class RegistrationChanged(Event):
    state: RegState
    account: str
    code: int
    reason: str
    message: str  # a sentence for the user
    retry_in_s: int | None = None
    server: str = ""  # the registrar this is about


@dataclass(frozen=True)
class CallStarted(Event):
    """An outgoing call was placed (the INVITE is on its way)."""

    call_id: str  # the SIP Call-ID
    handle: int  # the engine's handle for call control
    account: str
    remote_uri: str
    display_name: str
    remote_tag: str = ""  # the far end's dialog tag, once known: with the Call-ID it names the dialog


@dataclass(frozen=True)
class CallRinging(Event):
    """An incoming call is ringing here, or an outgoing one rings at the far end."""

    call_id: str
    handle: int
    direction: Direction
    account: str
    remote_uri: str
    display_name: str
    remote_tag: str = ""  # an incoming INVITE's From tag: with the Call-ID it names the dialog


@dataclass(frozen=True)
class CallConnected(Event):
    """The call was answered (INVITE session CONFIRMED): billable time starts."""

    call_id: str
    handle: int


@dataclass(frozen=True)
class CallHangupRequested(Event):
    """The user pressed hang up; billable time stops here at the latest."""

    call_id: str
    handle: int


@dataclass(frozen=True)
class CallEnded(Event):
    """The call is over (DISCONNECTED)."""

    call_id: str
    handle: int
    sip_status: int
    reason: str
    connect_duration_s: float  # pjsua2's own figure, for the cross-check
    local_hangup: bool


class HoldState(enum.Enum):
    NONE = "none"
    LOCAL = "local"  # we put the call on hold
    REMOTE = "remote"  # the far end did


@dataclass(frozen=True)
class CallHoldChanged(Event):
    """The call's media went on hold or came back (from the SDP direction)."""

    call_id: str
    handle: int
    hold: HoldState


@dataclass(frozen=True)
class CallMuteChanged(Event):
    call_id: str
    handle: int
    muted: bool


@dataclass(frozen=True)
class DtmfReceived(Event):
    call_id: str
    handle: int
    digit: str
    method: str  # "rfc2833" or "info"


@dataclass(frozen=True)
class CallTransferProgress(Event):
    """NOTIFY about a transfer we asked for (REFER): 1xx trying, 2xx done, else failed."""

    call_id: str
    handle: int
    code: int
    reason: str
    final: bool


@dataclass(frozen=True)
class RecordingChanged(Event):
    """Recording of a call started (after any consent announcement) or stopped."""

    call_id: str
    handle: int
    recording: bool
    path: str


@dataclass(frozen=True)
class MessageWaiting(Event):
    """Voicemail waiting indicator (MWI NOTIFY)."""

    account: str
    waiting: bool
    new: int
    old: int


@dataclass(frozen=True)
class CallFailed(Event):
    """A call could not even be placed (bad URI, unknown host ...)."""

    handle: int
    remote_uri: str
    message: str


@dataclass(frozen=True)
class SoundDeviceChanged(Event):
    """A direction of the sound bridge moved to another device mid-call (or failed to)."""

    kind: DeviceKind
    device: str  # the device identity now in use ("" = the system default)
    error: str = ""  # why the requested device is not the one in use, in words; "" if it is
