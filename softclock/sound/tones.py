"""The ringtone and the "test sound": generated here, played on a chosen device.

No sound files: each tone is computed once (a few hundred kB of 16-bit PCM)
and looped. Playing happens on one worker thread ("sound-tones"); the calls
made from the UI thread (:meth:`Ringer.handle`, :meth:`Ringer.play_test`)
only queue a command, so the UI never waits for a device to open (measured:
opening a PulseAudio stream takes 2-15 ms, an idle sink's first stream up to
~1.3 s).

Devices are identities as in :mod:`softclock.sound.devices`; "" is the system
default. On Linux tones go straight to PulseAudio/PipeWire through
:mod:`softclock.sound.pulse_io` (``media.role=phone``... for the ringer:
``event``); elsewhere through sounddevice/PortAudio.
"""

from __future__ import annotations

import logging
import math
import queue
import struct
import threading
from collections.abc import Callable
from typing import Any

from softclock import events as ev
from softclock.states import DeviceKind

log = logging.getLogger("softclock.sip.tones")  # the name it had in softclock.sip (log filters)

RATE = 16000
RING_HZ = 880.0  # the ringer's carrier ...
RING_TRILL_HZ = 20.0  # ... warbled 20 times a second, like an electronic phone ringer
TEST_HZ = 660.0


def _pcm(samples: list[float]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *(int(max(-1.0, min(1.0, s)) * 32767) for s in samples))


def _burst(freq: float, seconds: float, amplitude: float, trill_hz: float = 0.0, rate: int = RATE) -> list[float]:
    n = int(seconds * rate)
    fade = int(0.01 * rate)  # 10 ms ramps: no clicks
    out = []
    for i in range(n):
        env = min(1.0, i / fade, (n - 1 - i) / fade)
        if trill_hz:
            env *= 0.6 + 0.4 * math.sin(2 * math.pi * trill_hz * i / rate)
        out.append(amplitude * env * math.sin(2 * math.pi * freq * i / rate))
    return out


def ringtone(rate: int = RATE, amplitude: float = 0.5) -> bytes:
    """One 3 s cycle: ring 0.4 s, pause 0.2 s, ring 0.4 s, silence 2 s (looped)."""
    # Only the burst is computed and packed (once); silence is zero bytes. Computed on the sound
    # thread when a call first rings, this holds the GIL that pjsip's callbacks need for the 180:
    # 140 -> 20 ms at 48 kHz, 41 -> 7 ms at 16 kHz, the same bytes.
    ring = _pcm(_burst(RING_HZ, 0.4, amplitude, RING_TRILL_HZ, rate))
    return ring + bytes(2 * int(0.2 * rate)) + ring + bytes(2 * int(2.0 * rate))


def test_sound(rate: int = RATE, amplitude: float = 0.4) -> bytes:
    """1.5 s of a soft 660 Hz tone: "can you hear this device?"."""
    return _pcm(_burst(TEST_HZ, 1.5, amplitude, 0.0, rate))


test_sound.__test__ = False  # type: ignore[attr-defined]  # pytest: not a test


# ---------------------------------------------------------------------- output


class _PulseOut:
    """A playback stream on its own (blocking) libpulse loop, fed from the worker thread."""

    def __init__(self, device: str, rate: int, role: str) -> None:
        from softclock.sound import pulse_io

        self._pio = pulse_io
        self.ctx = pulse_io.PulseContext(role=role)
        try:
            b = rate * 2 // 1000
            # 200 ms queued: the worker refills when the server asks (every 100 ms).
            self.stream = self.ctx.open_stream(
                DeviceKind.PLAYBACK,
                device or None,
                rate,
                {"tlength": 200 * b, "prebuf": 20 * b, "minreq": 100 * b},
                name="tone",
                role=role,
            )
            # More than this writable: less than 10 ms left to play.
            self._drained_room = 190 * b
        except pulse_io.PulseUnavailable:
            self.ctx.close()
            raise

    def feed(self, source: Any, stop: threading.Event) -> None:
        """Write from ``source.take(n)`` until it is exhausted or ``stop`` is set."""
        lib, ctx, ptr = self._pio._lib, self.ctx, self.stream.ptr
        with ctx.locked():
            while not stop.is_set():
                if lib.pa_stream_get_state(ptr) != self._pio.PA_STREAM_READY:
                    raise self._pio.PulseUnavailable("the tone's device went away")
                room = lib.pa_stream_writable_size(ptr)
                if room:
                    data = source.take(room)
                    if not data:
                        break
                    lib.pa_stream_write(ptr, data, len(data), None, 0, 0)
                ctx.iterate(100)  # waits for the server's next request (or a wake-up)
            # Let what was queued play out (test sound), unless stopped.
            while not stop.is_set() and lib.pa_stream_writable_size(ptr) < self._drained_room:
                ctx.iterate(50)

    def wake(self) -> None:
        self.ctx.wakeup()

    def close(self) -> None:
        self.ctx.close_stream(self.stream)
        self.ctx.close()


class _PortAudioOut:
    def __init__(self, device: str, rate: int, role: str) -> None:
        from softclock.sound import portaudio

        self._sd = portaudio.load()
        self._portaudio = portaudio
        self._rate = rate
        self._device = device
        self._done = threading.Event()  # set when the tone ran out, or by wake()

    def feed(self, source: Any, stop: threading.Event) -> None:
        done = self._done

        def cb(outdata: Any, frames: int, _time: Any, _status: Any) -> None:  # PortAudio's thread (a cffi buffer)
            data = source.take(len(outdata))
            outdata[: len(data)] = data
            if len(data) < len(outdata):
                outdata[len(data) :] = bytes(len(outdata) - len(data))
                done.set()

        stream = self._portaudio.open_stream(self._sd, "output", self._device or None, self._rate, 50, cb)
        with stream:
            done.wait()

    def wake(self) -> None:
        self._done.set()

    def close(self) -> None:
        pass


class _Source:
    """Bytes of a tone, once or looped."""

    def __init__(self, pcm: bytes, loop: bool) -> None:
        self.pcm, self.loop, self.pos = pcm, loop, 0

    def take(self, n: int) -> bytes:
        n -= n % 2
        out = bytearray()
        while len(out) < n:
            if self.pos >= len(self.pcm):
                if not self.loop:
                    break
                self.pos = 0
            chunk = self.pcm[self.pos : self.pos + n - len(out)]
            self.pos += len(chunk)
            out += chunk
        return bytes(out)


def _open_output(device: str, rate: int, role: str) -> Any:
    from softclock.sound import portaudio

    if portaudio.use_pulse():
        return _PulseOut(device, rate, role)
    return _PortAudioOut(device, rate, role)


# ---------------------------------------------------------------------- the ringer


class Ringer:
    """Rings incoming calls on the ringer device; plays the test sound.

    ``devices()`` returns ``(ringer, speaker)`` identities from the settings at
    the moment of use (a changed setting applies to the next ring). Feed it
    every SIP event with :meth:`handle` (cheap; from any thread).
    ``on_state(state, detail)`` is called on the worker thread with
    ``"ringing"``, ``"stopped"``, ``"test-done"`` (detail: "" or the error in
    words).
    """

    def __init__(
        self,
        devices: Callable[[], tuple[str, str]],
        on_state: Callable[[str, str], None] | None = None,
        rate: int = RATE,
    ) -> None:
        self._devices = devices
        self._on_state = on_state or (lambda state, detail: None)
        self._rate = rate
        # Computed on the worker, when first needed: ~85 ms of Python that
        # would otherwise run on the UI thread at start-up.
        self._pcm: dict[str, bytes] = {}
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._ringing: set[int] = set()
        self._lock = threading.Lock()
        self._stop_current = threading.Event()
        self._current: Any = None
        self._thread = threading.Thread(target=self._run, name="sound-tones", daemon=True)
        self._thread.start()

    # -- any thread --------------------------------------------------------------------

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.CallRinging) and event.direction is ev.Direction.INCOMING:
            with self._lock:
                first = not self._ringing
                self._ringing.add(event.handle)
            if first:
                self._jobs.put("ring")
        elif isinstance(event, (ev.CallConnected, ev.CallEnded, ev.CallHangupRequested)):
            with self._lock:
                if event.handle not in self._ringing:
                    return
                self._ringing.discard(event.handle)
                last = not self._ringing
            if last:
                self._interrupt()

    def play_test(self, device: str | None = None) -> None:
        """Play the test sound once on ``device`` (None: the speaker setting)."""
        self._interrupt()
        self._jobs.put(("test", device))

    def close(self) -> None:
        with self._lock:
            self._ringing.clear()
        self._jobs.put(None)
        self._interrupt()
        self._thread.join(3.0)

    @property
    def ringing(self) -> bool:
        with self._lock:
            return bool(self._ringing)

    def _interrupt(self) -> None:
        self._stop_current.set()
        out = self._current
        if out is not None:
            out.wake()

    # -- worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._stop_current.clear()
            if job == "ring":
                if not self.ringing:
                    continue
                ringer, speaker = self._devices()
                self._play(ringer or speaker, _Source(self._tone("ring"), loop=True), "ringing", "event")
                self._say("stopped", "")
            else:
                _, device = job
                device = self._devices()[1] if device is None else device
                self._say("test-done", self._play(device, _Source(self._tone("test"), loop=False), "test", "event"))

    def _tone(self, name: str) -> bytes:  # worker thread only
        pcm = self._pcm.get(name)
        if pcm is None:
            pcm = self._pcm[name] = (ringtone if name == "ring" else test_sound)(self._rate)
        return pcm

    def _play(self, device: str, source: _Source, state: str, role: str) -> str:
        out = None
        try:
            try:
                out = _open_output(device, self._rate, role)
            except Exception as exc:
                if not device:
                    raise
                log.warning("tone device %s unavailable (%s); using the default", device, str(exc))
                out = _open_output("", self._rate, role)
            self._current = out
            if self._stop_current.is_set():
                return ""
            if state == "ringing":
                self._say("ringing", device)
            out.feed(source, self._stop_current)
            return ""
        except Exception as exc:
            log.warning("cannot play the %s tone on %s: %s", state, device or "the default device", str(exc))
            return f"No sound from {device or 'the default device'}: {exc}"
        finally:
            self._current = None
            if out is not None:
                try:
                    out.close()
                except Exception:
                    log.exception("closing the tone output failed")

    def _say(self, state: str, detail: str) -> None:
        try:
            self._on_state(state, detail)
        except Exception:
            log.exception("ringer listener failed")
