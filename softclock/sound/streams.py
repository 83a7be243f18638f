"""The device half of the sound bridge: a speaker stream and a microphone stream.

No pjsua2 here: the bridge (:mod:`softclock.sip.audio`) hands each 20 ms frame
of the call to ``sink_write`` and takes the microphone's from ``source_read``,
the two callables :meth:`DeviceStreams.open` returns. Two ways to the device:

* Linux: straight to PulseAudio/PipeWire through libpulse
  (:mod:`softclock.sound.pulse_io`), driven from the bridge's clock thread itself,
  no other thread. Devices are PulseAudio names; a device that disappears
  mid-call is replaced by the default by the sound server, and reported
  (``on_moved``).
* elsewhere (and with ``SOFTCLOCK_SOUND_BACKEND=portaudio``): PortAudio callback
  streams (:mod:`softclock.sound.portaudio`) and two :class:`JitterRing` buffers.

``sink_write`` and ``source_read`` run on the bridge's clock thread: one
lock-protected ring-buffer operation, or a few non-blocking libpulse calls,
never a wait.
"""

from __future__ import annotations

import logging
from typing import Any

from softclock.sound import portaudio
from softclock.sound.jitter import FRAME_MS, MARGIN_MS, JitterRing
from softclock.sound.portaudio import CAPTURE_BLOCK_MS, PLAYBACK_BLOCK_MS, SoundUnavailable
from softclock.states import DeviceKind

log = logging.getLogger("softclock.sip.audio")  # the bridge's log, as before the split


class DeviceStreams:
    """A speaker and a microphone stream for one sound bridge.

    Devices are PortAudio device names (or a unique part of one), PulseAudio
    sink/source names (through ALSA's ``pulse`` device on PortAudio), or
    ``None`` for the default. ``on_moved(kind)`` is called on the clock thread
    when the sound server moved a stream (its device was unplugged): it must
    only queue work.
    """

    def __init__(
        self,
        playback_device: str | None = None,
        capture_device: str | None = None,
        playback_block_ms: int = PLAYBACK_BLOCK_MS,
        capture_block_ms: int = CAPTURE_BLOCK_MS,
        on_moved: Any = None,
    ) -> None:
        self._on_moved = on_moved
        self.playback_block_ms = playback_block_ms
        self.capture_block_ms = capture_block_ms
        self.playback_device = playback_device
        self.capture_device = capture_device
        self._out: Any = None
        self._in: Any = None
        self._playback: JitterRing | None = None
        self._capture: JitterRing | None = None
        self._device_xruns = {"output_underflow": 0, "input_overflow": 0}
        self._pulse_ctx: Any = None  # pulse_io.PulseContext (Linux) ...
        self._duplex: Any = None  # ... and its PulseDuplex, or PortAudio's two streams
        self.backend = ""
        self.rate = 0
        self._last_pulse: dict[str, Any] = {}
        self._callbacks: tuple[Any, Any] = (None, None)

    def open(self, rate: int) -> tuple[Any, Any]:
        """Start both streams at ``rate``; returns ``(sink_write, source_read)``.

        Raises :class:`SoundUnavailable` (nothing left open) on failure.
        """
        self.rate = rate
        if portaudio.use_pulse():
            return self._open_pulse()
        return self._open_portaudio()

    def _open_pulse(self) -> tuple[Any, Any]:
        from softclock.sound import pulse_io

        # The capture ring is written and read on the same (clock) thread, in
        # whatever pieces the server delivered (20 ms fragments asked for).
        self._capture = JitterRing(DeviceKind.CAPTURE, self.rate, FRAME_MS, FRAME_MS, MARGIN_MS)
        try:
            ctx = pulse_io.PulseContext()
        except pulse_io.PulseUnavailable as exc:
            raise SoundUnavailable(str(exc)) from exc
        try:
            # A remembered device that is gone opens on the default (logged by PulseDuplex).
            duplex = pulse_io.PulseDuplex(
                ctx,
                self.rate,
                FRAME_MS,
                self.playback_device,
                self.capture_device,
                self._capture,
                on_moved=self._on_moved,
            )
        except pulse_io.PulseUnavailable as exc:
            ctx.close()
            raise SoundUnavailable(str(exc)) from exc
        self._pulse_ctx, self._duplex, self.backend = ctx, duplex, "pulse"
        return duplex.write, duplex.read

    def set_device(self, kind: DeviceKind, device: str | None) -> None:
        """Remember the device for ``kind`` (used from the next :meth:`open` or :meth:`switch`)."""
        if kind == DeviceKind.PLAYBACK:
            self.playback_device = device
        else:
            self.capture_device = device

    def switch(self, kind: DeviceKind, device: str | None) -> None:
        """Reopen only the ``kind`` stream (``"playback"`` or ``"capture"``) on ``device``.

        Raises :class:`SoundUnavailable` (the old device stays in use) if it cannot be opened.
        """
        self.set_device(kind, device)
        if self.backend == "pulse":
            from softclock.sound import pulse_io

            try:
                self._duplex.switch(kind, device)
            except pulse_io.PulseUnavailable as exc:
                raise SoundUnavailable(str(exc)) from exc
        else:
            self._switch_portaudio(kind, device)

    def current_devices(self) -> dict[str, str]:
        """Where the streams are now (PulseAudio names; after a server-side move too)."""
        if self.backend == "pulse" and self._duplex is not None:
            d = self._duplex
            return {
                DeviceKind.PLAYBACK.value: d.play.device_name() if d.play else "",
                DeviceKind.CAPTURE.value: d.rec.device_name() if d.rec else "",
            }
        return {
            DeviceKind.PLAYBACK.value: self.playback_device or "",
            DeviceKind.CAPTURE.value: self.capture_device or "",
        }

    def _open_portaudio(self) -> tuple[Any, Any]:
        sd = portaudio.load()
        self._playback = JitterRing(DeviceKind.PLAYBACK, self.rate, FRAME_MS, self.playback_block_ms, MARGIN_MS)
        self._capture = JitterRing(DeviceKind.CAPTURE, self.rate, self.capture_block_ms, FRAME_MS, MARGIN_MS)
        playback, capture, xruns = self._playback, self._capture, self._device_xruns

        def out_cb(outdata, frames, _time, status):  # type: ignore[no-untyped-def]  # PortAudio's thread: no logging, no waiting
            if status:
                xruns["output_underflow"] += 1
            outdata[:] = playback.read(len(outdata))

        def in_cb(indata, frames, _time, status):  # type: ignore[no-untyped-def]
            if status:
                xruns["input_overflow"] += 1
            capture.write(bytes(indata))

        with portaudio.LOCK:
            try:
                out, inp = self._start_streams(sd, out_cb, in_cb)
            except SoundUnavailable:
                if portaudio.streams_open():
                    raise
                # PortAudio lists devices once, when initialized (at import): a
                # sound server that was not up then, or a device plugged in
                # since, needs a re-scan. Safe only while no stream is open.
                sd._terminate()
                sd._initialize()
                out, inp = self._start_streams(sd, out_cb, in_cb)
            portaudio.stream_opened()
        self._out, self._in = out, inp
        self._callbacks = (out_cb, in_cb)
        self.backend = "portaudio"
        return playback.write, capture.read

    def _switch_portaudio(self, kind: DeviceKind, device: str | None) -> None:
        sd = portaudio.load()
        out_cb, in_cb = self._callbacks
        with portaudio.LOCK:
            if kind == DeviceKind.PLAYBACK:
                new = portaudio.open_stream(sd, "output", device, self.rate, self.playback_block_ms, out_cb)
                new.start()
                old, self._out = self._out, new
            else:
                new = portaudio.open_stream(sd, "input", device, self.rate, self.capture_block_ms, in_cb)
                new.start()
                old, self._in = self._in, new
            if old is not None:
                old.abort(ignore_errors=True)
                old.close(ignore_errors=True)

    def _start_streams(self, sd: Any, out_cb: Any, in_cb: Any) -> tuple[Any, Any]:
        out = inp = None
        try:
            out = portaudio.open_stream(sd, "output", self.playback_device, self.rate, self.playback_block_ms, out_cb)
            inp = portaudio.open_stream(sd, "input", self.capture_device, self.rate, self.capture_block_ms, in_cb)
            out.start()
            inp.start()
        except BaseException as exc:
            for stream in (inp, out):
                if stream is not None:
                    try:
                        stream.close(ignore_errors=True)
                    except Exception:
                        pass
            if isinstance(exc, SoundUnavailable) or not isinstance(exc, Exception):
                raise
            raise SoundUnavailable(f"cannot start the sound streams: {exc}") from exc
        return out, inp

    def stop(self) -> None:
        """Stop and close both streams. Idempotent."""
        if self._duplex is not None or self._pulse_ctx is not None:
            duplex, ctx, self._duplex, self._pulse_ctx = self._duplex, self._pulse_ctx, None, None
            self._last_pulse = self._pulse_stats(duplex)
            if duplex is not None:
                duplex.close()
            if ctx is not None:
                ctx.close()
        streams = [s for s in (self._in, self._out) if s is not None]
        self._in = self._out = None
        if not streams:
            return
        with portaudio.LOCK:
            for stream in streams:
                try:
                    stream.abort(ignore_errors=True)
                    stream.close(ignore_errors=True)
                except Exception:
                    log.warning("closing a sound stream failed", exc_info=True)
            portaudio.stream_closed()

    # -- info ----------------------------------------------------------------------

    def latency_ms(self) -> dict[str, float]:
        """Estimated latency added per direction: ring level + device buffer.

        Excludes the sound server's own buffering (PulseAudio/PipeWire).
        """
        out, inp = self._out, self._in
        pb, cp = self._playback, self._capture
        result: dict[str, float] = {}
        duplex = self._duplex
        if duplex is not None and cp is not None:
            # Server-side queue as the clock thread saw it (PulseAudio's device
            # latency not included), capture ring + one 20 ms fragment.
            return {
                DeviceKind.PLAYBACK.value: duplex.level_ms(),
                DeviceKind.CAPTURE.value: round(cp.snapshot()["avg_level_ms"] + FRAME_MS, 1),
            }
        if out is not None and pb is not None:
            result[DeviceKind.PLAYBACK.value] = round(pb.snapshot()["avg_level_ms"] + out.latency * 1000, 1)
        if inp is not None and cp is not None:
            result[DeviceKind.CAPTURE.value] = round(cp.snapshot()["avg_level_ms"] + inp.latency * 1000, 1)
        return result

    def direction_stats(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(playback, capture) counters; safe from any thread."""
        if self.backend == "pulse":
            pb = self._pulse_stats(self._duplex) if self._duplex is not None else dict(self._last_pulse)
        else:
            pb = self._playback.snapshot() if self._playback else {}
        cp = self._capture.snapshot() if self._capture else {}
        return pb, cp

    @property
    def device_xruns(self) -> dict[str, int]:
        return dict(self._device_xruns)

    @staticmethod
    def _pulse_stats(duplex: Any) -> dict[str, Any]:
        if duplex is None:
            return {}
        return {
            "underruns": duplex.underflows,
            "overruns": duplex.dropped,
            "frames": duplex.written + duplex.dropped,
            "target_ms": duplex.target_ms,
            "avg_level_ms": duplex.level_ms(),
            "moved": duplex.moved,
            "skipped_ticks": duplex.busy,
        }
