"""PulseDuplex's playback target: up on an underrun, back down after a quiet spell.

libpulse is replaced at its boundary (the ctypes library object) by a fake that
records the buffer attributes asked for; everything above it is the real code.
"""

from __future__ import annotations

import threading

import pytest

from softclock.sound import pulse_io


class _FakeLib:
    def __init__(self) -> None:
        self.tlengths: list[int] = []
        self.writes = 0

    def pa_stream_get_state(self, ptr: int) -> int:
        return pulse_io.PA_STREAM_READY

    def pa_stream_writable_size(self, ptr: int) -> int:
        return 640  # room for one 20 ms frame: the server is keeping up

    def pa_stream_write(self, *args: object) -> int:
        self.writes += 1
        return 0

    def pa_mainloop_iterate(self, *args: object) -> int:
        return 0

    def pa_stream_set_buffer_attr(self, ptr: int, battr, cb: object, ud: object) -> int:  # type: ignore[no-untyped-def]
        self.tlengths.append(battr._obj.tlength)
        return 0

    def pa_operation_unref(self, op: object) -> None:
        pass


class _Stream:
    ptr = 1


class _Ctx:
    _ml = 1

    def __init__(self) -> None:
        self.lock = threading.Lock()


def _duplex() -> pulse_io.PulseDuplex:
    d = pulse_io.PulseDuplex.__new__(pulse_io.PulseDuplex)  # no server: the streams are fakes
    d.ctx, d.play, d.rate, d.bytes_per_ms, d._frame_ms = _Ctx(), _Stream(), 16000, 32, 20
    d.frame_bytes = 640
    d.target_ms = d._min_target_ms = 40
    d._max_target_ms = 120
    d._target_changed = 0.0
    d._raise_target = False
    d.underflows = d.dropped = d.written = d.busy = d._level_sum = d._level_n = 0
    d._moved_hook = None
    return d


def test_target_rises_on_underruns_and_relaxes_after_a_quiet_spell(monkeypatch: pytest.MonkeyPatch) -> None:
    lib = _FakeLib()
    monkeypatch.setattr(pulse_io, "_lib", lib)
    now = [1000.0]
    monkeypatch.setattr(pulse_io.time, "monotonic", lambda: now[0])
    d = _duplex()
    d._target_changed = now[0]
    for _ in range(3):  # three underruns, a frame apart
        d._on_underflow()
        d.write(bytes(640))
    assert d.target_ms == 70 and d.underflows == 3
    assert lib.tlengths == [(t + 20) * 32 for t in (50, 60, 70)]  # the server was told each time
    now[0] += pulse_io.RELAX_AFTER_S - 1
    d.write(bytes(640))
    assert d.target_ms == 70  # not yet
    for _ in range(10):  # a long quiet call: back to where it started, no lower
        now[0] += pulse_io.RELAX_AFTER_S + 1
        d.write(bytes(640))
    assert d.target_ms == 40
    assert lib.writes == 3 + 1 + 10


def test_a_tick_never_waits_for_a_control_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    lib = _FakeLib()
    monkeypatch.setattr(pulse_io, "_lib", lib)
    d = _duplex()
    with d.ctx.lock:  # a device switch in progress on the engine's thread
        d.write(bytes(640))
    assert d.busy == 1 and lib.writes == 0
