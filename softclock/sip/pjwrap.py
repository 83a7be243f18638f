"""pjsua2's callback classes: each hands its callback to a handler's public method.

pjsua2 calls these on the engine's command or event thread. A callback never
raises into pjsua2 (a Python exception there is lost or aborts): :func:`guarded`
logs a bug and returns. The wrappers hold no logic of their own beyond a call's
bookkeeping (:class:`Call`: its handle, flags, and the events held back until the
call is announced).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import pjsua2 as pj

from softclock import events as ev
from softclock.sip.builders import MESSAGE_LOG_LEVEL
from softclock.sip.config import AccountConfig, Sink
from softclock.sip.sipmsg import clean

log = logging.getLogger("softclock.sip")
pjlog = logging.getLogger("softclock.pjsip")


def guarded(fn: Callable[..., None], *args: object) -> None:
    """Run a callback body; a bug is logged, never thrown back into pjsua2."""
    try:
        fn(*args)
    except pj.Error as exc:
        log.error("pjsua2 error in %s: %s", fn.__name__, clean(exc.info()))
    except Exception:
        log.exception("bug in SIP callback %s", fn.__name__)


class AccountHandler(Protocol):
    def on_reg_state(self, account: Account, prm: pj.OnRegStateParam) -> None: ...
    def on_incoming_call(self, account: Account, prm: pj.OnIncomingCallParam) -> None: ...
    def on_mwi_info(self, account: Account, prm: pj.OnMwiInfoParam) -> None: ...
    def on_incoming_subscribe(self, account: Account, prm: pj.OnIncomingSubscribeParam) -> None: ...


class CallHandler(Protocol):
    def on_call_state(self, call: Call, prm: pj.OnCallStateParam) -> None: ...
    def on_call_media_state(self, call: Call, prm: pj.OnCallMediaStateParam) -> None: ...
    def on_dtmf_digit(self, call: Call, prm: pj.OnDtmfDigitParam) -> None: ...
    def on_transfer_status(self, call: Call, prm: pj.OnCallTransferStatusParam) -> None: ...


class Endpoint(pj.Endpoint):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    """Reports the last TLS verification complaint so registration can name it."""

    def __init__(self, on_tls_problem: Callable[[str], None]) -> None:
        super().__init__()
        self._on_tls_problem = on_tls_problem

    def onTransportState(self, prm: pj.OnTransportStateParam) -> None:
        try:
            tls = prm.tlsInfo
            if not tls.isEmpty() and tls.verifyStatus != 0:
                self._on_tls_problem("; ".join(clean(str(m)) for m in tls.verifyMsgs) or "certificate rejected")
        except Exception:
            log.exception("bug in onTransportState")


class Announcement(pj.AudioMediaPlayer):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    """A consent announcement (WAV) that reports its end."""

    def __init__(self, on_end: Callable[[], None]) -> None:
        super().__init__()
        self._on_end = on_end

    def onEof2(self) -> None:
        try:
            self._on_end()
        except Exception:
            log.exception("bug in the announcement's end callback")


# pjsip's message log (level 4) prints each request as it arrives; when every call
# slot is taken pjsua answers a new INVITE 486 by itself, before any callback, and
# says only this (level 2). The log is the one place that call can be seen.
_BUSY_LINE = "Unable to accept incoming call (too many calls)"


class LogWriter(pj.LogWriter):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    """pjsip's log into ours (up to ``level``), watching for INVITEs pjsua refuses busy.

    ``on_busy`` gets pjsip's log line of the refused INVITE (as received), on the
    thread that received it.
    """

    def __init__(self, level: int, on_busy: Callable[[str], None]) -> None:
        super().__init__()
        self.level = level
        self._on_busy = on_busy
        self._last_invite = threading.local()  # per pjsip thread: the last INVITE it received

    def write(self, entry: pj.LogEntry) -> None:
        try:
            level, msg = entry.level, entry.msg
            if level == MESSAGE_LOG_LEVEL and msg.startswith("RX ") and " Request msg INVITE/" in msg[:80]:
                self._last_invite.msg = msg
            elif level <= 2 and _BUSY_LINE in msg:
                last = getattr(self._last_invite, "msg", "")
                self._last_invite.msg = ""
                if last:
                    self._on_busy(last)
            if level <= self.level:
                pjlog.debug("%s", clean(msg.rstrip()))
        except Exception:
            log.exception("bug in the pjsip log writer")


class Account(pj.Account):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    def __init__(self, handler: AccountHandler, config: AccountConfig) -> None:
        super().__init__()
        self._handler = handler
        self.config = config
        self.server = config.server  # the registrar in use (a backup after failover)

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        guarded(self._handler.on_reg_state, self, prm)

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        guarded(self._handler.on_incoming_call, self, prm)

    def onMwiInfo(self, prm: pj.OnMwiInfoParam) -> None:
        guarded(self._handler.on_mwi_info, self, prm)

    def onIncomingSubscribe(self, prm: pj.OnIncomingSubscribeParam) -> None:
        guarded(self._handler.on_incoming_subscribe, self, prm)


class Call(pj.Call):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    """One dialog, with the engine's handle for it and what the engine knows about it."""

    def __init__(self, handler: CallHandler, account: Account, handle: int, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self._handler = handler
        self.handle = handle
        self.sip_call_id = ""
        self.lock = threading.Lock()
        self.announced = False  # CallStarted/CallRinging sent; later events may flow
        self.pending: list[ev.Event] = []
        self.local_hangup = False
        self.rang = False
        self.connected = False
        self.ended = False
        self.hold = ev.HoldState.NONE
        self.muted = False
        self.recorder: pj.AudioMediaRecorder | None = None
        self.announcer: object | None = None  # the consent tone or player while it plays
        self.recording_path = ""
        self.replaces_handle: int | None = None  # attended transfer: our call to the target

    def deliver(self, event: ev.Event, emit: Sink) -> None:
        """Emit ``event`` now, or once the call is announced (its first event goes first)."""
        with self.lock:
            if not self.announced:
                self.pending.append(event)
                return
        emit(event)

    def announce(self, event: ev.Event, emit: Sink) -> None:
        """Emit the call's first event (CallStarted or CallRinging), then what waited for it."""
        with self.lock:
            emit(event)
            for later in self.pending:
                emit(later)
            self.pending.clear()
            self.announced = True

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        guarded(self._handler.on_call_state, self, prm)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        guarded(self._handler.on_call_media_state, self, prm)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        guarded(self._handler.on_dtmf_digit, self, prm)

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        guarded(self._handler.on_transfer_status, self, prm)
