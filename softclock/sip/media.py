"""A call's sound: the null device's clock, pjmedia's own devices or the Python sound bridge.

The sound device (even the null one, whose clock ticks every 20 ms) is open only
while a call has media: :meth:`CallSound.on_media_state` opens it, and
:meth:`CallSound.close_if_idle` closes it once no call is left (an idle phone
must not tick). Where the pjsua2 build has no sound device (the Linux wheel),
calls go through :class:`softclock.sip.audio.SoundBridge` to PulseAudio or
PortAudio, clocked by the null device. The media state also tells hold: the
SDP direction becomes :class:`softclock.events.CallHoldChanged`.
"""

from __future__ import annotations

import functools
import logging

import pjsua2 as pj

from softclock import events as ev
from softclock.sip.audio import SoundBridge
from softclock.sip.config import EngineConfig
from softclock.sip.pjwrap import Call
from softclock.sip.runtime import CallTable, Dispatcher, now
from softclock.sound.portaudio import SoundUnavailable
from softclock.states import DeviceKind

log = logging.getLogger("softclock.sip")

_HOLD_BY_STATUS = {
    pj.PJSUA_CALL_MEDIA_ACTIVE: ev.HoldState.NONE,
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: ev.HoldState.LOCAL,
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: ev.HoldState.REMOTE,
}

_LIVE_MEDIA = (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD)


class CallSound:
    """Wires each call's audio to the sound device; everything but :meth:`set_devices` runs
    on the engine's threads (the command thread, or a pjsua2 callback)."""

    def __init__(self, dispatcher: Dispatcher, calls: CallTable, config: EngineConfig) -> None:
        self._dispatcher = dispatcher
        self._calls = calls
        self._config = config
        self._ep: pj.Endpoint | None = None
        self._bridge: SoundBridge | None = None
        self._null_audio = True
        self._open = False

    def start(self, ep: pj.Endpoint) -> None:
        """After ``libStart()``: no sound device until a call has media."""
        cfg = self._config
        ep.audDevManager().setNoDev()
        # Sound: pjmedia's own devices where this build has them; else (the Linux
        # wheel has none) the Python bridge to PortAudio, clocked by the null device.
        self._null_audio = cfg.null_audio or ep.audDevManager().getDevCount() == 0
        self._bridge = None
        if not cfg.null_audio and ep.audDevManager().getDevCount() == 0:
            self._bridge = SoundBridge(
                ep,
                cfg.playback_device or None,
                cfg.capture_device or None,
                on_moved=lambda kind: self._dispatcher.submit(lambda: self._report_move(kind)),
            )
        self._open = False
        self._ep = ep

    def on_media_state(self, call: Call) -> None:
        """pjsua2's onCallMediaState: hold changes, and sound for each live audio stream."""
        if self._ep is None:
            return
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            hold = _HOLD_BY_STATUS.get(media.status)
            if hold is not None and hold is not call.hold:
                call.hold = hold
                mono, utc = now()
                self._dispatcher.emit_call(call, ev.CallHoldChanged(mono, utc, call.sip_call_id, call.handle, hold))
            if media.status in _LIVE_MEDIA:
                self._open_device()
                if self._bridge is not None:
                    # Opening sound streams is too slow for a callback.
                    self._dispatcher.put(functools.partial(self._attach_bridge, call.handle, index))
                    continue
                audio = call.getAudioMedia(index)
                self._wire_null(audio)
                # A re-INVITE can renew the stream's port: keep a mute in force.
                audio.adjustRxLevel(0.0 if call.muted else 1.0)

    def set_muted(self, call: Call, muted: bool) -> None:
        """Stop (or restart) sending our microphone on ``call``."""
        call.muted = muted
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in _LIVE_MEDIA:
                # Rx of the call's port = what the bridge hands it to send.
                call.getAudioMedia(index).adjustRxLevel(0.0 if muted else 1.0)

    def _wire_null(self, audio: pj.AudioMedia) -> None:
        assert self._ep is not None
        mgr = self._ep.audDevManager()
        audio.startTransmit(mgr.getPlaybackDevMedia())
        mgr.getCaptureDevMedia().startTransmit(audio)

    def _attach_bridge(self, handle: int, index: int) -> None:
        call = self._calls.live(handle)
        if call is None or self._bridge is None:
            return
        audio = call.getAudioMedia(index)
        try:
            self._bridge.connect(audio)
        except SoundUnavailable as exc:
            log.warning("no sound for this call: %s", str(exc))
            self._wire_null(audio)
        audio.adjustRxLevel(0.0 if call.muted else 1.0)

    def set_devices(self, playback: str | None, capture: str | None) -> None:
        """On the command thread: switch the bridge's devices; each direction's outcome is an event."""
        bridge = self._bridge
        for kind, device in ((DeviceKind.PLAYBACK, playback), (DeviceKind.CAPTURE, capture)):
            if device is None:
                continue
            error = ""
            if bridge is None:
                error = "this build plays sound through its own devices, chosen at start-up"
            else:
                try:
                    bridge.switch_device(kind, device or None)
                except SoundUnavailable as exc:
                    error = str(exc)
                    log.warning("sound %s device not changed: %s", kind, str(exc))
            current = bridge.current_devices().get(kind, "") if bridge is not None and bridge.is_open else device
            mono, utc = now()
            self._dispatcher.emit(ev.SoundDeviceChanged(mono, utc, kind, current, error))

    def _report_move(self, kind: DeviceKind) -> None:
        """The sound server moved a stream of the call (its device was unplugged)."""
        bridge = self._bridge
        if bridge is None or not bridge.is_open:
            return
        current = bridge.current_devices().get(kind, "")
        wanted = bridge.playback_device if kind == DeviceKind.PLAYBACK else bridge.capture_device
        error = f"{wanted} is gone; the call continues on {current}" if wanted and wanted != current else ""
        log.info("sound %s moved by the sound server to %s", kind, current)
        mono, utc = now()
        self._dispatcher.emit(ev.SoundDeviceChanged(mono, utc, kind, current, error))

    def microphone(self) -> pj.AudioMedia:
        """What the microphone sends into the conference bridge (the bridge's port, or the device)."""
        assert self._ep is not None
        if self._bridge is not None and self._bridge.is_open and self._bridge.media is not None:
            return self._bridge.media
        return self._ep.audDevManager().getCaptureDevMedia()

    def _open_device(self) -> None:
        if self._open or self._ep is None:
            return
        mgr = self._ep.audDevManager()
        if self._null_audio:
            mgr.setNullDev()  # also the bridge's clock
        else:
            mgr.setPlaybackDev(mgr.getPlaybackDev())
        self._open = True

    def close_if_idle(self) -> None:
        """Stop the sound clock once no call is left (an idle phone must not tick)."""
        if not self._open or self._ep is None:
            return
        if not self._calls.busy():
            if self._bridge is not None:
                self._bridge.close()  # while the null clock still ticks
            self._ep.audDevManager().setNoDev()
            self._open = False

    def close(self) -> None:
        """At shutdown, before ``libDestroy()``: the bridge's port must be gone by then."""
        if self._bridge is not None:
            try:
                self._bridge.close()
            except Exception:
                log.exception("closing the sound bridge failed")
            self._bridge = None

    def detach(self) -> None:
        """After the event thread stopped: let go of the endpoint (see Registration.forget)."""
        self._ep = None
