"""Real sound for calls: a pjsua2 conference port bridged to a real device.

The pjsua2 wheel has no sound device (``getDevCount()`` is 0), so the engine
runs the conference bridge on pjsua's *null* device -- its clock ticks every
20 ms -- and this module adds one :class:`pjsua2.AudioMediaPort` to the bridge
whose frames are moved to and from a real device::

    call audio --> port.onFrameReceived --> speaker stream
    microphone --> capture ring --> port.onFrameRequested --> call audio

Two ways to the device, chosen in :func:`_use_pulse`:

* Linux: straight to PulseAudio/PipeWire through libpulse
  (:mod:`softclock.sip.pulse_io`), driven from the clock thread itself, no
  other thread: 4.1 % of a core per call where PortAudio's path cost 8.6 %
  (``bench/audio_bridge.py``; where the time went is in pulse_io's docstring).
  Devices are PulseAudio names; a device that disappears mid-call is replaced
  by the default by the sound server, and reported (``on_moved``).
* elsewhere (and with ``SOFTCLOCK_SOUND_BACKEND=portaudio``): `sounddevice`_
  (PortAudio) callback streams and two :class:`JitterRing` buffers. Devices
  are ``"<host API>:<name>"`` identities, PortAudio names, or PulseAudio names
  reached through ALSA's ``pulse`` device with ``PULSE_SINK``/``PULSE_SOURCE``.

Why sounddevice (PortAudio) and not Qt Multimedia (measured, ``shared/TESTING.md``):
Qt Multimedia lives in PySide6-Addons (+~417 MB on top of PySide6-Essentials),
``QAudioSource.start(<Python QIODevice>)`` segfaults on 6.11.3, and its push mode
needed 60 ms sink / 40 ms source buffers (~45-55 ms per direction) where
sounddevice measured ~35-40 ms. sounddevice is a ~100 kB wheel that loads the
system PortAudio (Debian ``libportaudio2``; bundled in its Windows and macOS
wheels) and needs no Qt event loop, so the bridge can live entirely in the SIP
engine.

Real-time rules (the frame callbacks run on pjmedia's clock thread and on
PortAudio's callback threads, each taking the GIL):

* they never block, never log, never call Qt or pjsua2: each does one
  lock-protected ring-buffer operation (microseconds), or, on libpulse, a few
  non-blocking libpulse calls under a lock it only *tries* to take, and returns;
* the clock thread is not a Python thread: the port keeps one Python thread
  state for it across callbacks (see :class:`_BridgePort`);
* ``bytes(frame.buf)`` costs ~600 us per 20 ms frame (SWIG iterates the
  ``std::vector``); the frame bytes are copied with ``ctypes`` straight from the
  vector's storage instead (~4 us read, ~9 us write), checked once at import
  against the slow path and used only if they agree;
* each ring has an adaptive target (see :class:`JitterRing`): reading starts
  at one read chunk + 10 ms; an underrun plays (or sends) silence, counts, and
  raises the target by 10 ms (up to 120 ms); a level above target + one
  producer chunk + one consumer chunk is trimmed back (counted as an
  overrun). Trimming and filling also absorb clock drift between pjmedia's
  clock and the sound card's (50-300 ppm on real cards: one ~20 ms trim or
  fill every 1-7 minutes; the measured drift is in :meth:`SoundBridge.stats`
  after a minute). After 15 s without an underrun and with a step to spare,
  the target and the buffered audio drop by 10 ms.

Life cycle (see :class:`SoundBridge`): everything that touches pjsua2
(``open``, ``connect``, ``disconnect``, ``close``) runs on a thread registered
with pjsua2 -- the engine's command thread -- and ``close()`` must run while the
null device still ticks (before ``setNoDev()``) and before ``libDestroy()``.

.. _sounddevice: https://python-sounddevice.readthedocs.io/
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
import time
from typing import Any

import pjsua2 as pj

from softclock.sip.jitter import FRAME_MS, MARGIN_MS, SAMPLE_BYTES, JitterRing

log = logging.getLogger("softclock.sip.audio")

# PortAudio callback periods (measured with bench/audio_bridge.py): PortAudio's
# ALSA backend buffers two periods, so playback uses 10 ms blocks (25-28 ms
# added; 20 ms blocks: 62 ms); capture hands each period over once it is full,
# so 20 ms blocks (one per conference frame) add little (32-34 ms vs 20 ms with
# 10 ms blocks) and halve the wake-ups (CPU 9.7 % -> 8.9 % of a core per call).
PLAYBACK_BLOCK_MS = 10
CAPTURE_BLOCK_MS = 20

# One PortAudio user at a time: re-initializing it (for a new device list)
# while a stream is open would kill that stream.
_pa_lock = threading.RLock()
_open_streams = 0


class SoundUnavailable(RuntimeError):
    """No usable sound device (PortAudio missing, device not found or refused)."""


# ---------------------------------------------------------------------- frame bytes


def _slow_get(vec: Any) -> bytes:
    return bytes(vec)


def _slow_set(frame: Any, data: bytes) -> None:
    frame.buf = pj.ByteVector(data)


def _fast_get(vec: Any) -> bytes:
    # A std::vector<unsigned char> is {begin, end, end_of_storage} in libstdc++,
    # libc++ and MSVC release builds; SWIG's ``.this`` is the vector's address.
    begin, end = (ctypes.c_void_p * 2).from_address(int(vec.this))
    if not begin or end <= begin:
        return b""
    return ctypes.string_at(begin, end - begin)


def _fast_set(frame: Any, data: bytes) -> None:
    vec = frame.buf  # a proxy of the frame's own vector (no copy)
    vec.resize(len(data))
    if data:
        begin = ctypes.c_void_p.from_address(int(vec.this)).value
        ctypes.memmove(begin, data, len(data))


def _pick_frame_copy() -> tuple[Any, Any, bool]:
    """Use the ctypes copies only if they give the same bytes as SWIG's own path."""
    try:
        sample = bytes(range(256)) * 3
        if _fast_get(pj.ByteVector(sample)) != sample:
            raise ValueError("read mismatch")
        frame = pj.MediaFrame()
        _fast_set(frame, sample)
        if bytes(frame.buf) != sample or _fast_get(frame.buf) != sample:
            raise ValueError("write mismatch")
        return _fast_get, _fast_set, True
    except Exception as exc:  # an unexpected STL layout: stay correct, just slower
        log.warning("fast frame copy unavailable (%s); using the slow SWIG path", exc)
        return _slow_get, _slow_set, False


_frame_get, _frame_set, FAST_FRAME_COPY = _pick_frame_copy()


# ---------------------------------------------------------------------- the conference port

_PyGILState_Ensure = ctypes.pythonapi.PyGILState_Ensure
_PyGILState_Ensure.restype = ctypes.c_int
_PyGILState_Ensure.argtypes = []
_PyGILState_Release = ctypes.pythonapi.PyGILState_Release
_PyGILState_Release.restype = None
_PyGILState_Release.argtypes = [ctypes.c_int]



class _BridgePort(pj.AudioMediaPort):
    """Runs on pjmedia's clock thread. Never raises into pjsua2 (that would abort).

    pjmedia's clock thread is not a Python thread, so each callback (SWIG's
    PyGILState_Ensure/Release) created and destroyed a Python thread state:
    ~10 % of the clock thread's samples under ``perf`` (PyThreadState_New,
    _Clear, malloc/free). The first callback takes one extra reference on
    the thread state, which keeps it alive across callbacks; the first
    callback after :meth:`SoundBridge.close` cleared ``active`` gives it back
    (so it is freed with the clock thread's last callback, not leaked).
    """

    def __init__(self, sink_write: Any, source_read: Any, frame_bytes: int) -> None:
        super().__init__()
        self._sink_write = sink_write  # bytes -> None: toward the speaker
        self._source_read = source_read  # n -> bytes: from the microphone
        self._frame_bytes = frame_bytes
        self._silence = bytes(frame_bytes)
        self.active = True
        self.errors = 0
        self.tx_frames = 0
        self._gil_state: int | None = None

    def _hold_thread_state(self) -> None:
        if self.active:
            if self._gil_state is None:
                self._gil_state = _PyGILState_Ensure()
        elif self._gil_state is not None:
            _PyGILState_Release(self._gil_state)
            self._gil_state = None

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2 override
        try:
            if self._gil_state is None or not self.active:
                self._hold_thread_state()
            if self.active and frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                self._sink_write(_frame_get(frame.buf))
        except BaseException:  # noqa: BLE001 - nothing may escape into pjmedia
            self.errors += 1

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2 override
        try:
            if self._gil_state is None or not self.active:
                self._hold_thread_state()
            data = self._source_read(self._frame_bytes) if self.active else self._silence
            _frame_set(frame, data)
            frame.size = len(data)
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            self.tx_frames += 1
        except BaseException:  # noqa: BLE001
            self.errors += 1


# ---------------------------------------------------------------------- PortAudio


def _use_pulse() -> bool:
    """libpulse directly on Linux (see pulse_io: ~half the CPU of PortAudio's path);
    ``SOFTCLOCK_SOUND_BACKEND=portaudio`` forces PortAudio (benchmarks, odd systems)."""
    choice = os.environ.get("SOFTCLOCK_SOUND_BACKEND", "").strip().lower()
    if choice == "portaudio" or (choice != "pulse" and not sys.platform.startswith("linux")):
        return False
    from softclock.sip import pulse_io

    return pulse_io.available()


def _sd():
    """Import sounddevice lazily: PortAudio enumerates devices at import time."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: libportaudio2 missing
        raise SoundUnavailable(f"sounddevice/PortAudio is not available: {exc}") from exc
    return sounddevice


def _resolve(sd: Any, name: str | None, kind: str) -> tuple[int | None, str | None]:
    """(PortAudio device index or None for the default, PulseAudio name or None)."""
    if name is None or name == "":
        return None, None
    key = "max_output_channels" if kind == "output" else "max_input_channels"
    devices = [(i, d) for i, d in enumerate(sd.query_devices()) if d[key] > 0]
    apis = sd.query_hostapis()
    for i, d in devices:  # the identity softclock.sip.devices stores: "<host API>:<name>"
        if f"{apis[d['hostapi']]['name']}:{d['name']}" == name:
            return i, None
    for i, d in devices:
        if d["name"] == name:
            return i, None
    for i, d in devices:
        if name.lower() in d["name"].lower():
            return i, None
    for i, d in devices:
        if d["name"] == "pulse":
            # Not a PortAudio device: a PulseAudio/PipeWire sink or source name,
            # reached through ALSA's pulse plugin (which reads PULSE_SINK/SOURCE).
            return i, name
    raise SoundUnavailable(f"no {kind} sound device named {name!r}")


def _open_stream(sd: Any, kind: str, device: str | None, rate: int, block_ms: int, callback: Any) -> Any:
    index, pulse_name = _resolve(sd, device, kind)
    cls = sd.RawOutputStream if kind == "output" else sd.RawInputStream
    env_key = "PULSE_SINK" if kind == "output" else "PULSE_SOURCE"
    saved = os.environ.get(env_key)
    try:
        if pulse_name is not None:
            os.environ[env_key] = pulse_name  # read by libpulse when the ALSA PCM opens
        return cls(
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=rate * block_ms // 1000,
            latency="low",
            device=index,
            callback=callback,
        )
    except Exception as exc:  # sounddevice.PortAudioError and friends
        raise SoundUnavailable(f"cannot open the {kind} device {device or '(default)'}: {exc}") from exc
    finally:
        if pulse_name is not None:
            if saved is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = saved


# ---------------------------------------------------------------------- the bridge


class SoundBridge:
    """Plays a call through a real speaker and sends a real microphone to it.

    ``ep`` is the engine's :class:`pjsua2.Endpoint`. Devices are PortAudio
    device names (or a unique part of one), PulseAudio sink/source names
    (through ALSA's ``pulse`` device), or ``None`` for the default.

    All methods except :meth:`stats` must run on a thread registered with
    pjsua2 (the engine's command thread); none of them waits on the network.
    """

    def __init__(self, ep: pj.Endpoint, playback_device: str | None = None,
                 capture_device: str | None = None, playback_block_ms: int = PLAYBACK_BLOCK_MS,
                 capture_block_ms: int = CAPTURE_BLOCK_MS, on_moved: Any = None) -> None:
        self._ep = ep
        # kind -> None, when the sound server moved a stream (its device was
        # unplugged: PulseAudio/PipeWire move it to the default). Runs on the
        # clock thread: it must only queue work.
        self._on_moved = on_moved
        self.playback_block_ms = playback_block_ms
        self.capture_block_ms = capture_block_ms
        self.playback_device = playback_device
        self.capture_device = capture_device
        self._port: _BridgePort | None = None
        self._out = None
        self._in = None
        self._playback: JitterRing | None = None
        self._capture: JitterRing | None = None
        self._connected: list[pj.AudioMedia] = []
        self._device_xruns = {"output_underflow": 0, "input_overflow": 0}
        self._pulse_ctx: Any = None  # pulse_io.PulseContext (Linux) ...
        self._duplex: Any = None  # ... and its PulseDuplex, or PortAudio's two streams
        self.backend = ""
        self.rate = 0
        self._last_tx_frames = 0
        self._last_pulse: dict[str, Any] = {}
        self._callbacks: tuple[Any, Any] = (None, None)
        self._last_errors = 0

    @property
    def is_open(self) -> bool:
        return self._port is not None

    @property
    def media(self) -> pj.AudioMedia | None:
        """The bridge's conference port while open: it transmits the microphone
        (use it where ``getCaptureDevMedia()`` was used, e.g. call recording)
        and receives what goes to the speaker. Do not keep it past :meth:`close`."""
        return self._port

    # -- life cycle --------------------------------------------------------------

    def open(self) -> None:
        """Create the conference port and start the device streams. Idempotent.

        Call after ``audDevManager().setNullDev()`` (its 20 ms clock drives the
        port). Raises :class:`SoundUnavailable` (nothing left open) on failure.
        """
        if self._port is not None:
            return
        self.rate = self._bridge_rate()
        frame_bytes = self.rate * FRAME_MS // 1000 * SAMPLE_BYTES
        if _use_pulse():
            sink_write, source_read = self._open_pulse()
        else:
            sink_write, source_read = self._open_portaudio()
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_L16, self.rate, 1, FRAME_MS * 1000, 16)
        port = _BridgePort(sink_write, source_read, frame_bytes)
        try:
            port.createPort("softclock-sound", fmt)
        except pj.Error as exc:
            self._stop_streams()
            raise SoundUnavailable(f"cannot add the sound port to the conference bridge: {exc.info()}") from exc
        self._port = port
        log.info("sound bridge open (%s): %d Hz, playback %s, capture %s, fast copy %s", self.backend, self.rate,
                 self.playback_device or "default", self.capture_device or "default", FAST_FRAME_COPY)

    def _open_pulse(self) -> tuple[Any, Any]:
        from softclock.sip import pulse_io

        # The capture ring is written and read on the same (clock) thread, in
        # whatever pieces the server delivered (20 ms fragments asked for).
        self._capture = JitterRing("capture", self.rate, FRAME_MS, FRAME_MS, MARGIN_MS)
        try:
            ctx = pulse_io.PulseContext()
        except pulse_io.PulseUnavailable as exc:
            raise SoundUnavailable(str(exc)) from exc
        try:
            # A remembered device that is gone opens on the default (logged by PulseDuplex).
            duplex = pulse_io.PulseDuplex(ctx, self.rate, FRAME_MS, self.playback_device, self.capture_device,
                                          self._capture, on_moved=self._on_moved)
        except pulse_io.PulseUnavailable as exc:
            ctx.close()
            raise SoundUnavailable(str(exc)) from exc
        self._pulse_ctx, self._duplex, self.backend = ctx, duplex, "pulse"
        return duplex.write, duplex.read

    def switch_device(self, kind: str, device: str | None) -> None:
        """Move one direction (``"playback"`` or ``"capture"``) to another device.

        Only that stream is reopened; the conference port stays connected to
        the call, so a call goes on (a gap of a few ms at most). Raises
        :class:`SoundUnavailable` (the old device stays in use) if the new one
        cannot be opened. Run on the engine's command thread.
        """
        if kind not in ("playback", "capture"):
            raise ValueError(kind)
        if kind == "playback":
            self.playback_device = device
        else:
            self.capture_device = device
        if self._port is None:
            return
        if self.backend == "pulse":
            from softclock.sip import pulse_io

            try:
                self._duplex.switch(kind, device)
            except pulse_io.PulseUnavailable as exc:
                raise SoundUnavailable(str(exc)) from exc
        else:
            self._switch_portaudio(kind, device)
        log.info("sound %s device now %s", kind, device or "default")

    def current_devices(self) -> dict[str, str]:
        """Where the streams are now (PulseAudio names; after a server-side move too)."""
        if self.backend == "pulse" and self._duplex is not None:
            d = self._duplex
            return {"playback": d.play.device_name() if d.play else "",
                    "capture": d.rec.device_name() if d.rec else ""}
        return {"playback": self.playback_device or "", "capture": self.capture_device or ""}

    def _open_portaudio(self) -> tuple[Any, Any]:
        global _open_streams
        sd = _sd()
        self._playback = JitterRing("playback", self.rate, FRAME_MS, self.playback_block_ms, MARGIN_MS)
        self._capture = JitterRing("capture", self.rate, self.capture_block_ms, FRAME_MS, MARGIN_MS)
        playback, capture, xruns = self._playback, self._capture, self._device_xruns

        def out_cb(outdata, frames, _time, status):  # PortAudio's thread: no logging, no waiting
            if status:
                xruns["output_underflow"] += 1
            outdata[:] = playback.read(len(outdata))

        def in_cb(indata, frames, _time, status):
            if status:
                xruns["input_overflow"] += 1
            capture.write(bytes(indata))

        with _pa_lock:
            try:
                out, inp = self._start_streams(sd, out_cb, in_cb)
            except SoundUnavailable:
                if _open_streams:
                    raise
                # PortAudio lists devices once, when initialized (at import): a
                # sound server that was not up then, or a device plugged in
                # since, needs a re-scan. Safe only while no stream is open.
                sd._terminate()
                sd._initialize()
                out, inp = self._start_streams(sd, out_cb, in_cb)
            _open_streams += 1
        self._out, self._in = out, inp
        self._callbacks = (out_cb, in_cb)
        self.backend = "portaudio"
        return playback.write, capture.read

    def _switch_portaudio(self, kind: str, device: str | None) -> None:
        sd = _sd()
        out_cb, in_cb = self._callbacks
        with _pa_lock:
            if kind == "playback":
                new = _open_stream(sd, "output", device, self.rate, self.playback_block_ms, out_cb)
                new.start()
                old, self._out = self._out, new
            else:
                new = _open_stream(sd, "input", device, self.rate, self.capture_block_ms, in_cb)
                new.start()
                old, self._in = self._in, new
            if old is not None:
                old.abort(ignore_errors=True)
                old.close(ignore_errors=True)

    def _start_streams(self, sd: Any, out_cb: Any, in_cb: Any) -> tuple[Any, Any]:
        out = inp = None
        try:
            out = _open_stream(sd, "output", self.playback_device, self.rate, self.playback_block_ms, out_cb)
            inp = _open_stream(sd, "input", self.capture_device, self.rate, self.capture_block_ms, in_cb)
            out.start()
            inp.start()
        except BaseException as exc:
            for stream in (inp, out):
                if stream is not None:
                    try:
                        stream.close(ignore_errors=True)
                    except Exception:  # noqa: BLE001
                        pass
            if isinstance(exc, SoundUnavailable) or not isinstance(exc, Exception):
                raise
            raise SoundUnavailable(f"cannot start the sound streams: {exc}") from exc
        return out, inp

    def connect(self, call_audio: pj.AudioMedia) -> None:
        """Call audio -> speaker, microphone -> call. Opens the bridge if needed."""
        self.open()
        assert self._port is not None
        # Again after a re-INVITE is fine: the bridge ignores an existing link,
        # and a re-created stream (new slot) needs the links anew.
        call_audio.startTransmit(self._port)
        self._port.startTransmit(call_audio)
        pid = call_audio.getPortId()
        self._connected = [m for m in self._connected if m.getPortId() != pid] + [call_audio]

    def disconnect(self, call_audio: pj.AudioMedia) -> None:
        """Undo :meth:`connect` (errors from an already-gone call are ignored)."""
        port = self._port
        for i, media in enumerate(self._connected):
            if media is call_audio or media.getPortId() == call_audio.getPortId():
                del self._connected[i]
                break
        if port is None:
            return
        for src, dst in ((call_audio, port), (port, call_audio)):
            try:
                src.stopTransmit(dst)
            except pj.Error:
                pass

    def close(self) -> None:
        """Stop the streams and remove the port from the bridge. Idempotent.

        Must run before ``libDestroy()`` (a live AudioMediaPort then aborts the
        process) and while the null device still ticks, i.e. before
        ``setNoDev()``: pjsua2 2.15's conference bridge removes ports
        asynchronously on its next tick, and its AudioMediaPort frees its memory
        at once (pjproject PR #4200, fixed in 2.16). So this disconnects first,
        waits until the bridge no longer calls the port, deletes it, and waits
        one more tick for the removal to run while the memory is untouched.
        """
        port = self._port
        if port is None:
            self._stop_streams()
            return
        port.active = False
        for media in list(self._connected):
            self.disconnect(media)
        self._connected.clear()
        self._stop_streams()
        time.sleep(3 * FRAME_MS / 1000)  # disconnections run on the next clock tick
        self._last_tx_frames, self._last_errors = port.tx_frames, port.errors
        self._port = None
        del port
        time.sleep(3 * FRAME_MS / 1000)  # removal runs on the next clock tick
        log.info("sound bridge closed: %s", self.stats())

    def _stop_streams(self) -> None:
        global _open_streams
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
        with _pa_lock:
            for stream in streams:
                try:
                    stream.abort(ignore_errors=True)
                    stream.close(ignore_errors=True)
                except Exception:  # noqa: BLE001
                    log.warning("closing a sound stream failed", exc_info=True)
            _open_streams = max(0, _open_streams - 1)

    # -- info ----------------------------------------------------------------------

    def _bridge_rate(self) -> int:
        """The conference bridge's clock rate (its port 0 is the master/sound port)."""
        try:
            rate = int(pj.AudioMedia.getPortInfoFromId(0).format.clockRate)
        except pj.Error:
            rate = 0
        return rate or 16000

    def latency_ms(self) -> dict[str, float]:
        """Estimated latency the bridge adds per direction: ring level + device buffer.

        Excludes the sound server's own buffering (PulseAudio/PipeWire).
        """
        out, inp = self._out, self._in
        pb, cp = self._playback, self._capture
        result = {}
        duplex = self._duplex
        if duplex is not None and cp is not None:
            # Server-side queue as the clock thread saw it (PulseAudio's device
            # latency not included), capture ring + one 20 ms fragment.
            return {"playback": duplex.level_ms(), "capture": round(cp.snapshot()["avg_level_ms"] + FRAME_MS, 1)}
        if out is not None and pb is not None:
            result["playback"] = round(pb.snapshot()["avg_level_ms"] + out.latency * 1000, 1)
        if inp is not None and cp is not None:
            result["capture"] = round(cp.snapshot()["avg_level_ms"] + inp.latency * 1000, 1)
        return result

    def stats(self) -> dict[str, Any]:
        """Counters for logs and tests; safe from any thread."""
        if self.backend == "pulse":
            pb = self._pulse_stats(self._duplex) if self._duplex is not None else dict(self._last_pulse)
        else:
            pb = self._playback.snapshot() if self._playback else {}
        cp = self._capture.snapshot() if self._capture else {}
        port = self._port
        return {
            "open": port is not None,
            "rate": self.rate,
            "underruns": pb.get("underruns", 0) + cp.get("underruns", 0),
            "overruns": pb.get("overruns", 0) + cp.get("overruns", 0),
            "frames": {"from_call": pb.get("frames", 0), "to_call": port.tx_frames if port else self._last_tx_frames},
            "buffer_ms": {"playback": pb.get("level_ms", 0.0), "capture": cp.get("level_ms", 0.0)},
            "playback": pb,
            "capture": cp,
            "device": dict(self._device_xruns),
            "latency_ms": self.latency_ms(),
            "callback_errors": port.errors if port else self._last_errors,
            "fast_frame_copy": FAST_FRAME_COPY,
            "backend": self.backend,
        }

    @staticmethod
    def _pulse_stats(duplex: Any) -> dict[str, Any]:
        if duplex is None:
            return {}
        return {"underruns": duplex.underflows, "overruns": duplex.dropped, "frames": duplex.written + duplex.dropped,
                "target_ms": duplex.target_ms, "avg_level_ms": duplex.level_ms(), "moved": duplex.moved,
                "skipped_ticks": duplex.busy}
