"""PulseAudio/PipeWire streams driven from pjmedia's clock thread, through libpulse (ctypes).

Why not PortAudio on Linux (measured with ``bench/audio_bridge.py`` and
``perf``; a 30 s bridged call, 16 kHz): PortAudio reaches PulseAudio through
ALSA's pulse plugin, which runs one libpulse mainloop thread per stream, wakes
a PortAudio thread through a pipe every period, which calls Python through
cffi, which copies into a Python ring, which the clock thread empties: 8.6 %
of a core per call, of which the two plugin mainloop threads were ~2.4 %, the
two PortAudio callback threads ~2.6 % and the clock thread's Python ~1 %.

Here there is one libpulse context for both directions, and no thread at all
besides pjmedia's clock: each 20 ms tick the port writes its frame straight
into the playback stream (``pa_stream_write`` copies it; the server's buffer
is the jitter buffer), runs the context's mainloop once without blocking
(``pa_mainloop_iterate(m, 0)``: sends that frame, takes in what the server
sent) and takes what the capture stream has (``pa_stream_peek``/``drop``)
through a small :class:`~softclock.sound.jitter.JitterRing`. With libpulse's
threaded mainloop instead, its thread woke ~150 times a second (our writes,
the server's requests and fragments) and cost 1.2-1.7 % of a core on its own.
A tick never waits: if a control thread is opening or switching a stream
(it holds the context's lock), the tick skips the device for that 20 ms.
Devices are chosen by their PulseAudio name at connect time; if a device
disappears, the server moves our stream to the default device itself
(measured with PulseAudio 16: unloading the sink moved the stream and called
our moved callback), so a call goes on.

Streams carry ``media.role=phone`` and ``filter.want=echo-cancel``, which
filter-by-role set-ups may honour; with null sinks here ``module-filter-apply``
did not load a canceller for them, so the README tells users to load
``module-echo-cancel`` and choose its sink and source (measured in
``tests/e2e/test_echo.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from typing import Any

# The same adaptive-target steps as the capture ring's, for the server-side playback queue.
from softclock.sound.jitter import RELAX_AFTER_S, SAMPLE_BYTES, TARGET_MAX_MS, TARGET_STEP_MS, JitterRing
from softclock.states import DeviceKind

log = logging.getLogger("softclock.sip.audio")  # the sound bridge's log, as before the split

PA_SAMPLE_S16LE = 3
PA_CONTEXT_NOAUTOSPAWN = 1
PA_CONTEXT_READY, PA_CONTEXT_FAILED, PA_CONTEXT_TERMINATED = 4, 5, 6
PA_STREAM_READY, PA_STREAM_FAILED, PA_STREAM_TERMINATED = 2, 3, 4
PA_STREAM_ADJUST_LATENCY = 0x2000
PA_SEEK_RELATIVE = 0
_NO_VALUE = 0xFFFFFFFF  # (uint32_t) -1: "server's choice"
# pa_mainloop_iterate dispatches one server message at a time: a tick runs it
# until nothing is pending (a few: a request, a fragment), at most this often.
_MAX_DISPATCH = 16
# Capture fragments and playback requests of one frame: 40 ms of either
# changed nothing measurable (the server still sent ~7 messages a tick with
# the test daemon's 10 ms readers attached) and would add 20 ms of latency.
CAPTURE_FRAGMENT_MS = 20
PLAYBACK_REQUEST_MS = 20


class PulseUnavailable(RuntimeError):
    """libpulse missing, no server, or a device refused."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")]


_STREAM_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

_lib: Any = None


def _load() -> Any:
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("pulse") or "libpulse.so.0"
    try:
        # PyDLL: calls keep the GIL. Every call made on a tick is non-blocking
        # (microseconds); releasing and re-taking the GIL around each of them
        # cost more than the calls and let other threads cut in.
        lib: Any = ctypes.PyDLL(name)  # gets an attribute of ours: poll_releasing_gil
        blocking = ctypes.CDLL(name)  # the one call that waits: poll, GIL released
    except OSError as exc:
        raise PulseUnavailable(f"libpulse is not available: {exc}") from exc
    vp, sz, i = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
    sigs = {
        "pa_mainloop_new": (vp, []),
        "pa_mainloop_free": (None, [vp]),
        "pa_mainloop_get_api": (vp, [vp]),
        "pa_mainloop_iterate": (i, [vp, i, vp]),
        "pa_mainloop_prepare": (i, [vp, i]),
        "pa_mainloop_poll": (i, [vp]),
        "pa_mainloop_dispatch": (i, [vp]),
        "pa_mainloop_wakeup": (None, [vp]),
        "pa_proplist_new": (vp, []),
        "pa_proplist_free": (None, [vp]),
        "pa_proplist_sets": (i, [vp, ctypes.c_char_p, ctypes.c_char_p]),
        "pa_context_new_with_proplist": (vp, [vp, ctypes.c_char_p, vp]),
        "pa_context_connect": (i, [vp, ctypes.c_char_p, i, vp]),
        "pa_context_get_state": (i, [vp]),
        "pa_context_errno": (i, [vp]),
        "pa_context_disconnect": (None, [vp]),
        "pa_context_unref": (None, [vp]),
        "pa_strerror": (ctypes.c_char_p, [i]),
        "pa_stream_new_with_proplist": (vp, [vp, ctypes.c_char_p, ctypes.POINTER(_SampleSpec), vp, vp]),
        "pa_stream_set_underflow_callback": (None, [vp, _STREAM_CB, vp]),
        "pa_stream_set_moved_callback": (None, [vp, _STREAM_CB, vp]),
        "pa_stream_connect_playback": (i, [vp, ctypes.c_char_p, ctypes.POINTER(_BufferAttr), i, vp, vp]),
        "pa_stream_connect_record": (i, [vp, ctypes.c_char_p, ctypes.POINTER(_BufferAttr), i]),
        "pa_stream_get_state": (i, [vp]),
        "pa_stream_writable_size": (sz, [vp]),
        "pa_stream_readable_size": (sz, [vp]),
        "pa_stream_write": (i, [vp, ctypes.c_char_p, sz, vp, ctypes.c_int64, i]),
        "pa_stream_peek": (i, [vp, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(sz)]),
        "pa_stream_drop": (i, [vp]),
        "pa_stream_disconnect": (i, [vp]),
        "pa_stream_unref": (None, [vp]),
        "pa_stream_get_device_name": (ctypes.c_char_p, [vp]),
        "pa_stream_set_buffer_attr": (vp, [vp, ctypes.POINTER(_BufferAttr), vp, vp]),
        "pa_operation_unref": (None, [vp]),
    }
    for fn, (res, args) in sigs.items():
        f = getattr(lib, fn)
        f.restype, f.argtypes = res, args
    f = blocking.pa_mainloop_poll
    f.restype, f.argtypes = i, [vp]
    lib.poll_releasing_gil = f
    _lib = lib
    return lib


def available() -> bool:
    """True if libpulse loads (whether a server answers is known only on connect)."""
    try:
        _load()
    except PulseUnavailable:
        return False
    return True


class PulseStream:
    """One playback or capture stream of a :class:`PulseContext`."""

    def __init__(self, ctx: PulseContext, kind: DeviceKind, ptr: int) -> None:
        self.ctx = ctx
        self.kind = kind  # DeviceKind.PLAYBACK | DeviceKind.CAPTURE
        self.ptr: int | None = ptr
        self._cbs: list[Any] = []

    def device_name(self) -> str:
        """The PulseAudio name of the device the stream is on now (after moves too)."""
        with self.ctx.locked():
            if self.ptr is None:
                return ""
            name = _lib.pa_stream_get_device_name(self.ptr)
        return name.decode() if name else ""


class PulseContext:
    """A libpulse context on a mainloop that has no thread of its own.

    Whoever holds :attr:`lock` may iterate the loop: control code (opening,
    switching, closing streams) waits for the server that way, and each tick
    of pjmedia's clock iterates it once without blocking -- only if the lock
    is free (:meth:`try_lock`), so a tick never waits for a control thread.
    """

    def __init__(self, app_name: str = "Softclock", timeout: float = 5.0, role: str = "phone") -> None:
        import threading

        lib = _load()
        self.lock = threading.Lock()
        self._ml = lib.pa_mainloop_new()
        if not self._ml:
            raise PulseUnavailable("pa_mainloop_new failed")
        props = lib.pa_proplist_new()
        lib.pa_proplist_sets(props, b"application.name", app_name.encode())
        lib.pa_proplist_sets(props, b"application.id", b"org.softclock.Softclock")
        lib.pa_proplist_sets(props, b"media.role", role.encode())
        self._ctx = lib.pa_context_new_with_proplist(lib.pa_mainloop_get_api(self._ml), app_name.encode(), props)
        lib.pa_proplist_free(props)
        self._closed = False
        # wakeup() comes from other threads, and must never touch a freed loop.
        self._life = threading.Lock()
        if lib.pa_context_connect(self._ctx, None, PA_CONTEXT_NOAUTOSPAWN, None) < 0:
            err = self._error()
            self._free()
            raise PulseUnavailable(f"cannot connect to the sound server: {err}")
        with self.locked():
            state = self._wait(lambda: lib.pa_context_get_state(self._ctx), (1, 2, 3), timeout)
        if state != PA_CONTEXT_READY:
            err = self._error()
            self.close()
            raise PulseUnavailable(f"cannot connect to the sound server: {err}")

    def _error(self) -> str:
        msg: bytes = _lib.pa_strerror(_lib.pa_context_errno(self._ctx))
        return msg.decode(errors="replace")

    def locked(self) -> Any:
        return self.lock

    def iterate(self, timeout_ms: int) -> None:
        """Run the loop once: wait up to ``timeout_ms`` for the server or
        :meth:`wakeup` (lock held)."""
        lib = _lib
        if lib.pa_mainloop_prepare(self._ml, timeout_ms * 1000) < 0:
            return
        lib.poll_releasing_gil(self._ml)
        lib.pa_mainloop_dispatch(self._ml)

    def _wait(self, get_state: Callable[[], int], pending: tuple[int, ...], timeout: float) -> int:
        """Iterate (lock held) until ``get_state()`` leaves ``pending`` or time is up."""
        deadline = time.monotonic() + timeout
        state = get_state()
        while state in pending and time.monotonic() < deadline:
            self.iterate(20)
            state = get_state()
        return state

    def wakeup(self) -> None:
        """End a waiting :meth:`iterate` now (any thread; a no-op once closed)."""
        with self._life:
            if not self._closed:
                _lib.pa_mainloop_wakeup(self._ml)

    # -- streams ---------------------------------------------------------------------

    def open_stream(
        self,
        kind: DeviceKind,
        device: str | None,
        rate: int,
        attr: dict[str, int],
        name: str = "call",
        timeout: float = 5.0,
        on_underflow: Any = None,
        on_moved: Any = None,
        role: str = "phone",
    ) -> PulseStream:
        """Connect a mono s16 stream to ``device`` (a PulseAudio name; None: the default)
        and wait until the server has it ready. Raises :class:`PulseUnavailable`."""
        lib = _lib
        spec = _SampleSpec(PA_SAMPLE_S16LE, rate, 1)
        battr = _BufferAttr(*(attr.get(k, _NO_VALUE) for k in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")))
        props = lib.pa_proplist_new()
        lib.pa_proplist_sets(props, b"media.role", role.encode())
        if role == "phone":
            lib.pa_proplist_sets(props, b"filter.want", b"echo-cancel")
        dev = device.encode() if device else None
        with self.locked():
            ptr = lib.pa_stream_new_with_proplist(self._ctx, name.encode(), ctypes.byref(spec), None, props)
            lib.pa_proplist_free(props)
            if not ptr:
                raise PulseUnavailable(f"cannot create a {kind} stream: {self._error()}")
            stream = PulseStream(self, kind, ptr)
            for fn, setter in (
                (on_underflow, lib.pa_stream_set_underflow_callback),
                (on_moved, lib.pa_stream_set_moved_callback),
            ):
                if fn is not None:
                    cb = _STREAM_CB(lambda _s, _u, fn=fn: fn())
                    stream._cbs.append(cb)
                    setter(ptr, cb, None)
            if kind == DeviceKind.PLAYBACK:
                rc = lib.pa_stream_connect_playback(ptr, dev, ctypes.byref(battr), PA_STREAM_ADJUST_LATENCY, None, None)
            else:
                rc = lib.pa_stream_connect_record(ptr, dev, ctypes.byref(battr), PA_STREAM_ADJUST_LATENCY)
            state = self._wait(lambda: lib.pa_stream_get_state(ptr), (0, 1), timeout) if rc >= 0 else -1
            if state != PA_STREAM_READY:
                err = self._error()
                self._drop_stream(ptr)
                stream.ptr = None
                raise PulseUnavailable(f"cannot open the {kind} device {device or '(default)'}: {err}")
        return stream

    def _drop_stream(self, ptr: int) -> None:
        lib = _lib
        null = _STREAM_CB(0)
        lib.pa_stream_set_underflow_callback(ptr, null, None)
        lib.pa_stream_set_moved_callback(ptr, null, None)
        lib.pa_stream_disconnect(ptr)
        lib.pa_stream_unref(ptr)
        lib.pa_mainloop_iterate(self._ml, 0, None)  # send the disconnect now

    def close_stream(self, stream: PulseStream) -> None:
        with self.locked():
            ptr, stream.ptr = stream.ptr, None
            if ptr is not None:
                self._drop_stream(ptr)

    def close(self) -> None:
        with self.locked():
            with self._life:
                if self._closed:
                    return
                self._closed = True
            self._free()

    def _free(self) -> None:
        lib = _lib
        lib.pa_context_disconnect(self._ctx)
        lib.pa_context_unref(self._ctx)
        lib.pa_mainloop_free(self._ml)


# ---------------------------------------------------------------------- real-time pair


class PulseDuplex:
    """The two streams of a call, fed and drained from pjmedia's clock thread.

    Playback: every tick's frame is written to the server, whose buffer is the
    jitter buffer: it starts playing once ``target`` ms are queued (``prebuf``),
    and after an underrun it waits for ``target`` again -- which then rises
    by 10 ms (to 120 ms at most). After ``RELAX_AFTER_S`` without an underrun
    it comes down by 10 ms again (not below where it started), so a device
    clock that runs fast (an underrun every few minutes) does not ratchet the
    latency up over a long call. A frame that would take the queue above
    ``target`` + 2 frames is dropped (drift from a slower device clock).

    Capture: what the server delivered since the last tick goes into a
    :class:`JitterRing` from which the tick takes one frame (silence and a
    raised target on underrun; trims on overrun), as with PortAudio.

    If a control thread holds the context (switching a device, a few ms), a
    tick sends silence and drops its frame rather than wait.
    """

    def __init__(
        self,
        ctx: PulseContext,
        rate: int,
        frame_ms: int,
        playback_device: str | None,
        capture_device: str | None,
        capture_ring: JitterRing,
        margin_ms: int = 20,
        max_target_ms: int = TARGET_MAX_MS,
        on_moved: Any = None,
    ) -> None:
        self.ctx = ctx
        self.rate = rate
        self.bytes_per_ms = rate * SAMPLE_BYTES // 1000
        self.frame_bytes = frame_ms * self.bytes_per_ms
        self._frame_ms = frame_ms
        self.target_ms = self._min_target_ms = frame_ms + margin_ms
        self._max_target_ms = max_target_ms
        self._target_changed = time.monotonic()
        self.ring = capture_ring
        self._moved_hook = on_moved  # kind -> None; runs inside a tick: must only queue work
        self.underflows = 0
        self.dropped = 0
        self.written = 0
        self.moved = 0
        self.busy = 0
        self._level_sum = 0
        self._level_n = 0
        self._raise_target = False
        self.play: PulseStream | None = None
        self.rec: PulseStream | None = None
        self._peek_ptr = ctypes.c_void_p()
        self._peek_len = ctypes.c_size_t()
        self._peek_args = (ctypes.byref(self._peek_ptr), ctypes.byref(self._peek_len))
        self.playback_device = playback_device
        self.capture_device = capture_device
        # A remembered device that is not there now (a headset left at home):
        # that direction opens on the default instead (logged).
        self.play = self._open_or_default(DeviceKind.PLAYBACK, playback_device, self._open_playback)
        try:
            self.rec = self._open_or_default(DeviceKind.CAPTURE, capture_device, self._open_capture)
        except PulseUnavailable:
            self.ctx.close_stream(self.play)
            raise

    # -- control side ------------------------------------------------------------

    def _playback_attr(self) -> dict[str, int]:
        b = self.bytes_per_ms
        return {
            "tlength": (self.target_ms + self._frame_ms) * b,
            "prebuf": self.target_ms * b,
            "minreq": PLAYBACK_REQUEST_MS * b,
            "maxlength": (self._max_target_ms + 4 * self._frame_ms) * b,
        }

    def _open_or_default(
        self, kind: DeviceKind, device: str | None, opener: Callable[[str | None], PulseStream]
    ) -> PulseStream:
        try:
            return opener(device)
        except PulseUnavailable as exc:
            if not device:
                raise
            # str(exc), never exc: a log handler that keeps records (pytest's, a
            # crash reporter's) would keep the traceback's frames -- and a pjsua2
            # port in one of them -- alive past libDestroy(): abort at exit (seen).
            log.warning("sound %s device %s not available (%s); using the default", kind, device, str(exc))
            return opener(None)

    def _open_playback(self, device: str | None) -> PulseStream:
        return self.ctx.open_stream(
            DeviceKind.PLAYBACK,
            device,
            self.rate,
            self._playback_attr(),
            on_underflow=self._on_underflow,
            on_moved=lambda: self._on_moved(DeviceKind.PLAYBACK),
        )

    def _open_capture(self, device: str | None) -> PulseStream:
        return self.ctx.open_stream(
            DeviceKind.CAPTURE,
            device,
            self.rate,
            {"fragsize": CAPTURE_FRAGMENT_MS * self.bytes_per_ms},
            on_moved=lambda: self._on_moved(DeviceKind.CAPTURE),
        )

    def _on_underflow(self) -> None:  # runs inside pa_mainloop_iterate
        self.underflows += 1
        self._raise_target = True

    def _on_moved(self, kind: DeviceKind) -> None:  # the server moved a stream (its device went away, or pavucontrol)
        self.moved += 1
        if self._moved_hook is not None:
            self._moved_hook(kind)

    def switch(self, kind: DeviceKind, device: str | None) -> None:
        """Reopen only one direction on another device; the other keeps running."""
        if kind == DeviceKind.PLAYBACK:
            new = self._open_playback(device)
            with self.ctx.locked():
                old, self.play = self.play, new
            self.playback_device = device
        else:
            new = self._open_capture(device)
            with self.ctx.locked():
                old, self.rec = self.rec, new
            self.capture_device = device
        if old is not None:
            self.ctx.close_stream(old)

    def close(self) -> None:
        with self.ctx.locked():
            play, rec, self.play, self.rec = self.play, self.rec, None, None
        for stream in (play, rec):
            if stream is not None:
                self.ctx.close_stream(stream)

    def level_ms(self) -> float:
        return round(self._level_sum / self._level_n / self.bytes_per_ms, 1) if self._level_n else 0.0

    # -- real-time side (pjmedia's clock thread) -------------------------------------

    def write(self, data: bytes) -> None:
        lib = _lib
        ctx = self.ctx
        lock = ctx.lock
        if not lock.acquire(False):
            self.busy += 1
            return
        try:
            play = self.play
            if play is None:
                return
            ptr = play.ptr
            assert ptr is not None  # a stream is taken out of self.play before it is closed
            if lib.pa_stream_get_state(ptr) != PA_STREAM_READY:
                return
            if self._raise_target:
                self._raise_target = False
                self._set_target(ptr, min(self._max_target_ms, self.target_ms + TARGET_STEP_MS))
            elif self.target_ms > self._min_target_ms and time.monotonic() - self._target_changed > RELAX_AFTER_S:
                self._set_target(ptr, self.target_ms - TARGET_STEP_MS)
            tl = (self.target_ms + self._frame_ms) * self.bytes_per_ms
            queued = tl - lib.pa_stream_writable_size(ptr)
            self._level_sum += queued
            self._level_n += 1
            if queued > tl + self.frame_bytes:
                self.dropped += 1
            else:
                lib.pa_stream_write(ptr, data, len(data), None, 0, PA_SEEK_RELATIVE)
                self.written += 1
            # Send it; take in what the server sent (one message per iteration).
            ml, iterate = ctx._ml, lib.pa_mainloop_iterate
            for _ in range(_MAX_DISPATCH):
                if iterate(ml, 0, None) <= 0:
                    break
        finally:
            lock.release()

    def _set_target(self, ptr: int, target_ms: int) -> None:
        """New queue target: the server gets new buffer attributes (asynchronous, no wait)."""
        self.target_ms = target_ms
        self._target_changed = time.monotonic()
        attr = self._playback_attr()
        battr = _BufferAttr(attr["maxlength"], attr["tlength"], attr["prebuf"], attr["minreq"], _NO_VALUE)
        op = _lib.pa_stream_set_buffer_attr(ptr, ctypes.byref(battr), None, None)
        if op:
            _lib.pa_operation_unref(op)

    def read(self, n: int) -> bytes:
        lib = _lib
        ring = self.ring
        lock = self.ctx.lock
        if not lock.acquire(False):
            return ring.read(n)
        try:
            rec = self.rec
            if rec is not None:
                ptr = rec.ptr
                peek = lib.pa_stream_peek
                pp, pl = self._peek_ptr, self._peek_len
                while lib.pa_stream_readable_size(ptr) and peek(ptr, *self._peek_args) == 0:
                    size = pl.value
                    if size == 0:
                        break  # nothing (left) to read
                    ring.write(ctypes.string_at(pp.value, size) if pp.value else bytes(size))  # NULL: a hole
                    lib.pa_stream_drop(ptr)
        finally:
            lock.release()
        return ring.read(n)
