"""Real sound for calls: a pjsua2 conference port bridged to a real device.

The pjsua2 wheel has no sound device (``getDevCount()`` is 0), so the engine
runs the conference bridge on pjsua's *null* device -- its clock ticks every
20 ms -- and this module adds one :class:`pjsua2.AudioMediaPort` to the bridge
whose frames are moved to and from a real device::

    call audio --> port.onFrameReceived --> speaker stream
    microphone --> capture ring --> port.onFrameRequested --> call audio

The device side needs no pjsua2 and lives in :mod:`softclock.sound.streams`:

* Linux: straight to PulseAudio/PipeWire through libpulse
  (:mod:`softclock.sound.pulse_io`), driven from the clock thread itself, no
  other thread: 4.1 % of a core per call where PortAudio's path cost 8.6 %
  (``bench/audio_bridge.py``; where the time went is in pulse_io's docstring).
  Devices are PulseAudio names; a device that disappears mid-call is replaced
  by the default by the sound server, and reported (``on_moved``).
* elsewhere (and with ``SOFTCLOCK_SOUND_BACKEND=portaudio``): `sounddevice`_
  (PortAudio) callback streams and two :class:`JitterRing` buffers. Devices
  are ``"<host API>:<name>"`` identities, PortAudio names, or PulseAudio names
  reached through ALSA's ``pulse`` device with ``PULSE_SINK``/``PULSE_SOURCE``.

Why sounddevice (PortAudio) and not Qt Multimedia (measured on the 2-core
Debian 12 test machine): Qt Multimedia lives in PySide6-Addons (+~417 MB on top
of PySide6-Essentials), ``QAudioSource.start(<Python QIODevice>)`` segfaults on
6.11.3, and its push mode needed 60 ms sink / 40 ms source buffers (~45-55 ms
per direction) where sounddevice measured ~35-40 ms. sounddevice is a ~100 kB
wheel that loads the system PortAudio (Debian ``libportaudio2``; bundled in its
Windows and macOS wheels) and needs no Qt event loop, so the bridge can live
entirely in the SIP engine.

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
import time
from typing import Any

import pjsua2 as pj

from softclock.sound.jitter import FRAME_MS, SAMPLE_BYTES
from softclock.sound.portaudio import CAPTURE_BLOCK_MS, PLAYBACK_BLOCK_MS, SoundUnavailable
from softclock.sound.streams import DeviceStreams
from softclock.states import DeviceKind

log = logging.getLogger("softclock.sip.audio")

# ---------------------------------------------------------------------- frame bytes


def _slow_get(vec: Any) -> bytes:
    return bytes(vec)


def _slow_set(frame: Any, data: bytes) -> None:
    frame.buf = pj.ByteVector(data)


def _fast_get(vec: Any) -> bytes:
    # A std::vector<unsigned char> is {begin, end, end_of_storage} in libstdc++,
    # libc++ and MSVC release builds; SWIG's ``.this`` is the vector's address.
    begin, end = (ctypes.c_void_p * 2).from_address(int(vec.this))
    if not begin:
        return b""
    assert end is not None  # a vector with storage has an end
    if end <= begin:
        return b""
    return ctypes.string_at(begin, end - begin)


def _fast_set(frame: Any, data: bytes) -> None:
    vec = frame.buf  # a proxy of the frame's own vector (no copy)
    vec.resize(len(data))
    if data:
        begin = ctypes.c_void_p.from_address(int(vec.this)).value
        assert begin is not None  # resized to len(data) > 0: it has storage
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


class _BridgePort(pj.AudioMediaPort):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
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

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            if self._gil_state is None or not self.active:
                self._hold_thread_state()
            if self.active and frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                self._sink_write(_frame_get(frame.buf))
        except BaseException:
            self.errors += 1

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        try:
            if self._gil_state is None or not self.active:
                self._hold_thread_state()
            data = self._source_read(self._frame_bytes) if self.active else self._silence
            _frame_set(frame, data)
            frame.size = len(data)
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            self.tx_frames += 1
        except BaseException:
            self.errors += 1


# ---------------------------------------------------------------------- the bridge


class SoundBridge:
    """Plays a call through a real speaker and sends a real microphone to it.

    ``ep`` is the engine's :class:`pjsua2.Endpoint`. Devices are PortAudio
    device names (or a unique part of one), PulseAudio sink/source names
    (through ALSA's ``pulse`` device), or ``None`` for the default.

    All methods except :meth:`stats` must run on a thread registered with
    pjsua2 (the engine's command thread); none of them waits on the network.
    """

    def __init__(
        self,
        ep: pj.Endpoint,
        playback_device: str | None = None,
        capture_device: str | None = None,
        playback_block_ms: int = PLAYBACK_BLOCK_MS,
        capture_block_ms: int = CAPTURE_BLOCK_MS,
        on_moved: Any = None,
    ) -> None:
        self._ep = ep
        # kind -> None, when the sound server moved a stream (its device was
        # unplugged: PulseAudio/PipeWire move it to the default). Runs on the
        # clock thread: it must only queue work.
        self._streams = DeviceStreams(
            playback_device, capture_device, playback_block_ms, capture_block_ms, on_moved=on_moved
        )
        self._port: _BridgePort | None = None
        self._connected: list[pj.AudioMedia] = []
        self._last_tx_frames = 0
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

    @property
    def playback_device(self) -> str | None:
        return self._streams.playback_device

    @property
    def capture_device(self) -> str | None:
        return self._streams.capture_device

    @property
    def backend(self) -> str:
        return self._streams.backend

    @property
    def rate(self) -> int:
        return self._streams.rate

    # -- life cycle --------------------------------------------------------------

    def open(self) -> None:
        """Create the conference port and start the device streams. Idempotent.

        Call after ``audDevManager().setNullDev()`` (its 20 ms clock drives the
        port). Raises :class:`SoundUnavailable` (nothing left open) on failure.
        """
        if self._port is not None:
            return
        rate = self._bridge_rate()
        frame_bytes = rate * FRAME_MS // 1000 * SAMPLE_BYTES
        sink_write, source_read = self._streams.open(rate)
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_L16, rate, 1, FRAME_MS * 1000, 16)
        port = _BridgePort(sink_write, source_read, frame_bytes)
        try:
            port.createPort("softclock-sound", fmt)
        except pj.Error as exc:
            self._streams.stop()
            raise SoundUnavailable(f"cannot add the sound port to the conference bridge: {exc.info()}") from exc
        self._port = port
        log.info(
            "sound bridge open (%s): %d Hz, playback %s, capture %s, fast copy %s",
            self.backend,
            rate,
            self.playback_device or "default",
            self.capture_device or "default",
            FAST_FRAME_COPY,
        )

    def switch_device(self, kind: DeviceKind, device: str | None) -> None:
        """Move one direction (``"playback"`` or ``"capture"``) to another device.

        Only that stream is reopened; the conference port stays connected to
        the call, so a call goes on (a gap of a few ms at most). Raises
        :class:`SoundUnavailable` (the old device stays in use) if the new one
        cannot be opened. Run on the engine's command thread.
        """
        if kind not in (DeviceKind.PLAYBACK, DeviceKind.CAPTURE):
            raise ValueError(kind)
        if self._port is None:
            self._streams.set_device(kind, device)
            return
        self._streams.switch(kind, device)
        log.info("sound %s device now %s", kind, device or "default")

    def current_devices(self) -> dict[str, str]:
        """Where the streams are now (PulseAudio names; after a server-side move too)."""
        return self._streams.current_devices()

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
            self._streams.stop()
            return
        port.active = False
        for media in list(self._connected):
            self.disconnect(media)
        self._connected.clear()
        self._streams.stop()
        time.sleep(3 * FRAME_MS / 1000)  # disconnections run on the next clock tick
        self._last_tx_frames, self._last_errors = port.tx_frames, port.errors
        self._port = None
        del port
        time.sleep(3 * FRAME_MS / 1000)  # removal runs on the next clock tick
        log.info("sound bridge closed: %s", self.stats())

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
        return self._streams.latency_ms()

    def stats(self) -> dict[str, Any]:
        """Counters for logs and tests; safe from any thread."""
        pb, cp = self._streams.direction_stats()
        port = self._port
        return {
            "open": port is not None,
            "rate": self.rate,
            "underruns": pb.get("underruns", 0) + cp.get("underruns", 0),
            "overruns": pb.get("overruns", 0) + cp.get("overruns", 0),
            "frames": {"from_call": pb.get("frames", 0), "to_call": port.tx_frames if port else self._last_tx_frames},
            "buffer_ms": {
                DeviceKind.PLAYBACK.value: pb.get("level_ms", 0.0),
                DeviceKind.CAPTURE.value: cp.get("level_ms", 0.0),
            },
            DeviceKind.PLAYBACK.value: pb,
            DeviceKind.CAPTURE.value: cp,
            "device": self._streams.device_xruns,
            "latency_ms": self.latency_ms(),
            "callback_errors": port.errors if port else self._last_errors,
            "fast_frame_copy": FAST_FRAME_COPY,
            "backend": self.backend,
        }
