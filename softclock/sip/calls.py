"""Call control: placing, ringing, answering, holding, transferring and ending calls.

Each call is a :class:`~softclock.sip.pjwrap.Call` known by the engine's handle;
each pjsua2 callback about it becomes one frozen event (see
:mod:`softclock.events`), the call's first event (CallStarted or CallRinging)
always going out first. The ``do_*``-style methods here run on the engine's
command thread; the ``on_*`` methods are pjsua2's callbacks.

Who calls is read from the INVITE itself (:mod:`.sipmsg`), not from pjsua2's
``remoteUri`` (which truncates long display names and loses names holding
``<``). An INVITE pjsua refuses 486 by itself because every call slot is taken
is seen only in pjsip's message log (:class:`~softclock.sip.pjwrap.LogWriter`)
and reported as a ringing call that ended busy.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import pjsua2 as pj

from softclock import events as ev
from softclock.sip import messages
from softclock.sip.inbound import Refusal
from softclock.sip.media import CallSound
from softclock.sip.pjwrap import Account, Call
from softclock.sip.recording import Recording
from softclock.sip.registration import Registration
from softclock.sip.runtime import CallTable, Dispatcher, now
from softclock.sip.sipmsg import (
    Caller,
    Message,
    caller,
    clean,
    from_wire,
    parse_message,
    parse_name_addr,
    parse_rx_log,
)

log = logging.getLogger("softclock.sip")

PJ_EINVALIDOP = 70013  # pjsip: not now (e.g. an SDP offer/answer is still in progress)
BUSY_REASON = "Busy Here (all lines in use)"
_BUSY_REMEMBERED = 256  # INVITEs refused busy whose retransmissions are recognised


def to_tag(prm: pj.OnCallStateParam) -> str:
    """The To tag of the response that changed an outgoing call's state ("" if none came with it)."""
    event = prm.e
    if event.type != pj.PJSIP_EVENT_TSX_STATE or event.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
        return ""
    to = parse_message(from_wire(event.body.tsxState.src.rdata.wholeMsg)).header("to")
    return parse_name_addr(to).tag if to is not None else ""


def incoming_caller(message: Message, info: pj.CallInfo) -> Caller:
    """Who calls, from the INVITE itself (pjsua2's remoteUri truncates long names, see .sipmsg)."""
    who = caller(message)
    call_id = who.call_id or clean(info.callIdString)
    if who.uri:
        return Caller(call_id, who.uri, who.display_name, who.tag)
    fallback = parse_name_addr(info.remoteUri)
    return Caller(call_id, fallback.uri or clean(info.remoteUri), fallback.display_name, who.tag)


class CallControl:
    """The calls of the engine; their pjsua2 callbacks land here."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        calls: CallTable,
        registration: Registration,
        sound: CallSound,
        recording: Recording,
        verify_uri: Callable[[str], int],
    ) -> None:
        self._dispatcher = dispatcher
        self._calls = calls
        self._registration = registration
        self._sound = sound
        self._recording = recording
        self._verify_uri = verify_uri  # pjsua2's own SIP URI check: 0 if valid
        self._handles = itertools.count(1)
        self._busy_seen: dict[tuple[str, str], None] = {}  # INVITEs refused busy (retransmissions come again)
        self._refused: list[pj.Call] = []  # wrappers of refusals that did not end at once (none seen)

    def next_handle(self) -> int:
        return next(self._handles)

    def clear(self) -> None:
        """At shutdown, before ``libDestroy()``: no wrapper may outlive the endpoint."""
        self._calls.clear()
        self._refused.clear()

    # ------------------------------------------------------------------ outgoing

    def _fail(self, handle: int, uri: str, message: str) -> None:
        mono, utc = now()
        self._dispatcher.emit(ev.CallFailed(mono, utc, handle, uri, message))

    def make_call(self, handle: int, uri: str) -> None:
        account = self._registration.account
        if account is None:
            self._fail(handle, uri, "No account is set up: set up an account or start the demo line.")
            return
        if self._verify_uri(uri) != 0:
            self._fail(handle, uri, f"Cannot dial {uri!r}: it is not a valid SIP address.")
            return
        call = Call(self, account, handle)
        self._calls.add(call)
        prm = pj.CallOpParam(True)
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            self._calls.pop(handle)
            host = uri.split("@", 1)[-1].split(";", 1)[0]
            code = int(exc.status) if exc.status < 1000 else 503
            self._fail(handle, uri, messages.call_failure(code, clean(exc.reason), host))
            log.info("makeCall to %s failed: %s", uri, clean(exc.info()))
            return
        mono, utc = now()
        info = call.getInfo()
        call.sip_call_id = clean(info.callIdString)
        started = ev.CallStarted(mono, utc, call.sip_call_id, handle, account.config.address, clean(info.remoteUri), "")
        self._dispatcher.announce(call, started)

    # ------------------------------------------------------------------ incoming

    def on_incoming_call(self, account: Account, prm: pj.OnIncomingCallParam) -> None:
        """An INVITE: refused by the inbound guard, or answered 180 at once, then announced.

        pjsua sends an answer given inside this callback only after it returns, and
        logs it through our (Python) log writer first. Announcing the call hands the
        event to the sink (the UI's bridge wakes the Qt thread, which then holds the
        GIL for the ringing window for milliseconds), so the 180 waited for the
        window (bench/desktop.py: INVITE to 180 on the wire). The call is announced
        once pjsip's poll has returned, the 180 on the wire.
        """
        mono, utc = now()
        message = parse_message(from_wire(prm.rdata.wholeMsg))
        source = str(prm.rdata.srcAddress)
        inbound = self._registration.inbound
        refusal = inbound.check(source, message.request_uri)
        if refusal is not None or self._dispatcher.stopping:
            self._refuse(account, prm.callId, refusal)
            if refusal is not None:
                inbound.count("INVITE", source, refusal)
            return
        handle = self.next_handle()
        call = Call(self, account, handle, prm.callId)
        self._calls.add(call)
        ringing = pj.CallOpParam()
        ringing.statusCode = 180
        try:
            call.answer(ringing)  # its EARLY state change waits in call.pending until the announce
        except pj.Error as exc:  # e.g. already cancelled: the call is still announced, then ends
            log.info("180 Ringing not sent: %s", clean(exc.info()))
        info = call.getInfo()
        who = incoming_caller(message, info)
        call.sip_call_id = who.call_id
        ringing_event = ev.CallRinging(
            mono,
            utc,
            who.call_id,
            handle,
            ev.Direction.INCOMING,
            account.config.address,
            who.uri,
            who.display_name,
            who.tag,
        )
        self._dispatcher.after_poll(lambda: self._dispatcher.announce(call, ringing_event))
        if account.config.auto_answer:
            self._dispatcher.submit(lambda: self.answer(handle))

    def _refuse(self, account: Account, call_id: int, refusal: Refusal | None) -> None:
        """Answer an incoming INVITE with a final refusal, with no call and no event.

        The wrapper exists only for the answer: the refusal disconnects the call at
        once, inside this callback (pjsip holds its lock, so no other call can take
        the slot meanwhile), and the wrapper goes with it.
        """
        call = pj.Call(account, call_id)
        prm = pj.CallOpParam(True)
        if refusal is not None:
            prm.statusCode = refusal.code
        call.hangup(prm)
        if call.isActive():  # not expected: keep it until shutdown rather than hang up a reused slot
            self._refused.append(call)

    def on_refused_busy(self, logged: str) -> None:
        """pjsua answered an INVITE 486 before any callback (every call slot taken): a call too.

        Runs in the log writer on the thread that received the INVITE: it only parses and emits.
        """
        request = parse_rx_log(logged)
        account = self._registration.account
        if request is None or account is None or self._dispatcher.stopping:
            return
        message = parse_message(request.raw)
        inbound = self._registration.inbound
        refusal = inbound.check(request.source, message.request_uri)
        if refusal is not None:
            inbound.count("INVITE", request.source, refusal, answered="486 (all lines in use)")
            return
        who = caller(message)
        key = (who.call_id, who.tag)
        if key in self._busy_seen:
            return  # a retransmission of an INVITE already reported
        self._busy_seen[key] = None
        if len(self._busy_seen) > _BUSY_REMEMBERED:
            del self._busy_seen[next(iter(self._busy_seen))]
        handle = self.next_handle()
        mono, utc = now()
        log.info("incoming call %s refused 486: all lines in use", who.call_id)
        self._dispatcher.emit(
            ev.CallRinging(
                mono,
                utc,
                who.call_id,
                handle,
                ev.Direction.INCOMING,
                account.config.address,
                who.uri,
                who.display_name,
                who.tag,
            )
        )
        self._dispatcher.emit(ev.CallEnded(mono, utc, who.call_id, handle, 486, BUSY_REASON, 0.0, False))

    # ------------------------------------------------------------------ the calls' callbacks

    def on_call_state(self, call: Call, prm: pj.OnCallStateParam) -> None:
        info = call.getInfo()
        mono, utc = now()
        state = info.state
        call_id = call.sip_call_id or clean(info.callIdString)
        if state == pj.PJSIP_INV_STATE_EARLY and not call.rang and info.role == pj.PJSIP_ROLE_UAC:
            call.rang = True
            account = self._registration.account
            self._dispatcher.emit_call(
                call,
                ev.CallRinging(
                    mono,
                    utc,
                    call_id,
                    call.handle,
                    ev.Direction.OUTGOING,
                    account.config.address if account is not None else "",
                    clean(info.remoteUri),
                    "",
                    to_tag(prm),
                ),
            )
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not call.connected:
            call.connected = True
            self._dispatcher.emit_call(call, ev.CallConnected(mono, utc, call_id, call.handle))
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED and not call.ended:
            call.ended = True
            duration = info.connectDuration.sec + info.connectDuration.msec / 1000.0
            self._dispatcher.emit_call(
                call,
                ev.CallEnded(
                    mono,
                    utc,
                    call_id,
                    call.handle,
                    int(info.lastStatusCode),
                    clean(str(info.lastReason)),
                    duration if call.connected else 0.0,
                    call.local_hangup,
                ),
            )
            # The wrapper must outlive this callback: drop it on the command thread.
            # The job holds the handle, not the call, so nothing keeps a wrapper
            # alive past libDestroy() (its destructor would then abort the process).
            handle = call.handle
            self._dispatcher.put(lambda: self.forget(handle))

    def on_call_media_state(self, call: Call, prm: pj.OnCallMediaStateParam) -> None:
        self._sound.on_media_state(call)

    def on_dtmf_digit(self, call: Call, prm: pj.OnDtmfDigitParam) -> None:
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
        mono, utc = now()
        self._dispatcher.emit_call(
            call, ev.DtmfReceived(mono, utc, call.sip_call_id, call.handle, str(prm.digit), method)
        )

    def on_transfer_status(self, call: Call, prm: pj.OnCallTransferStatusParam) -> None:
        mono, utc = now()
        code = int(prm.statusCode)
        self._dispatcher.emit_call(
            call,
            ev.CallTransferProgress(
                mono, utc, call.sip_call_id, call.handle, code, clean(str(prm.reason)), bool(prm.finalNotify)
            ),
        )
        if 200 <= code < 300 and prm.finalNotify:
            # The far end reached the transfer target: our leg is done. After an
            # attended transfer the target should drop our call to it (Replaces);
            # if it has not within 2 s (not every phone supports Replaces), we do.
            handle = call.handle
            self._dispatcher.submit(lambda: self.hangup(handle, 0))
            target = call.replaces_handle
            if target is not None:
                self._dispatcher.submit_later(2.0, lambda: self.hangup(target, 0))

    def forget(self, handle: int) -> None:
        """A call ended: drop its wrapper (on the command thread) and, once idle, the sound device."""
        call = self._calls.pop(handle)
        released_ports = False
        if call is not None:
            released_ports = self._recording.release(call)
            del call
        if self._dispatcher.stopping:
            return
        if released_ports:
            # The bridge removes a deleted port on its next clock tick (that is
            # when a recorder finishes its WAV): keep the clock running a moment.
            self._dispatcher.submit_later(0.5, self._sound.close_if_idle)
        else:
            self._sound.close_if_idle()

    # ------------------------------------------------------------------ control (command thread)

    def answer(self, handle: int, hold_others: bool = False) -> None:
        call = self._calls.live(handle)
        if call is None:
            return
        if hold_others:
            for other in self._calls.connected_except(handle):
                if other.hold is not ev.HoldState.LOCAL:
                    other.setHold(pj.CallOpParam(True))
        prm = pj.CallOpParam()
        prm.statusCode = 200
        call.answer(prm)

    def hold(self, handle: int) -> None:
        self._when_idle(handle, lambda c: c.setHold(pj.CallOpParam(True)))

    def resume(self, handle: int) -> None:
        def go(call: Call) -> None:
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            call.reinvite(prm)

        self._when_idle(handle, go)

    def _when_idle(self, handle: int, action: Callable[[Call], object], attempt: int = 0) -> None:
        """Run a re-INVITE-type action; while another offer/answer is still in
        progress pjsip refuses it (PJ_EINVALIDOP), so try again a little later."""
        call = self._calls.live(handle)
        if call is None:
            return
        try:
            action(call)
        except pj.Error as exc:
            if exc.status != PJ_EINVALIDOP or attempt >= 25:
                raise
            self._dispatcher.submit_later(0.2, lambda: self._when_idle(handle, action, attempt + 1))

    def mute(self, handle: int, muted: bool) -> None:
        call = self._calls.live(handle)
        if call is None:
            return
        self._sound.set_muted(call, muted)
        mono, utc = now()
        self._dispatcher.emit_call(call, ev.CallMuteChanged(mono, utc, call.sip_call_id, handle, muted))

    def send_dtmf(self, handle: int, digits: str, method: str) -> None:
        call = self._calls.live(handle)
        if call is None:
            return
        prm = pj.CallSendDtmfParam()
        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        prm.digits = digits.upper()
        call.sendDtmf(prm)

    def transfer(self, handle: int, uri: str) -> None:
        call = self._calls.live(handle)
        if call is not None:
            call.xfer(uri, pj.CallOpParam(True))

    def transfer_to_call(self, handle: int, target_handle: int) -> None:
        def go(call: Call) -> None:
            target = self._calls.live(target_handle)
            if target is None:
                return
            call.replaces_handle = target_handle
            call.xferReplaces(target, pj.CallOpParam(True))

        self._when_idle(handle, go)

    def hangup_requested(self, handle: int) -> None:
        """The user pressed hang-up (any thread): billable time stops now, whatever the network does."""
        call = self._calls.get(handle)
        if call is not None and call.sip_call_id and call.connected and not call.ended:
            mono, utc = now()
            self._dispatcher.emit_call(call, ev.CallHangupRequested(mono, utc, call.sip_call_id, handle))

    def hangup(self, handle: int, code: int) -> None:
        """Hang up, cancel or decline (``code`` 486/603; 0: pjsip's choice)."""
        call = self._calls.live(handle)
        if call is None:
            return
        call.local_hangup = True
        prm = pj.CallOpParam(True)
        if code:
            prm.statusCode = code
        call.hangup(prm)
