"""The generated ringtone and test sound: their pitch, level and rhythm."""

from __future__ import annotations

import numpy as np

from softclock.sound.tones import RATE, RING_HZ, TEST_HZ, _Source, ringtone, test_sound
from tests.helpers.pulse import active_span, dominant_frequency


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


def test_ringtone_is_a_ring_ring_cycle_at_its_pitch() -> None:
    x = _samples(ringtone())
    assert len(x) == 3 * RATE
    span = active_span(x, RATE, threshold_db=-40.0)
    assert abs(len(span) / RATE - 1.0) < 0.05  # ring 0.4, pause 0.2, ring 0.4; then 2 s of silence
    freq, level = dominant_frequency(x[: int(0.4 * RATE)], RATE)
    assert abs(freq - RING_HZ) < 2.0 and level > -20.0
    assert np.max(np.abs(x)) < 1.0  # no clipping


def test_test_sound_is_a_short_clean_tone() -> None:
    x = _samples(test_sound())
    freq, level = dominant_frequency(x, RATE)
    assert abs(freq - TEST_HZ) < 2.0 and level > -20.0
    assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01  # faded in and out: no click


def test_looped_source_wraps_and_a_single_one_ends() -> None:
    looped = _Source(b"\x01\x00\x02\x00", loop=True)
    assert looped.take(10) == b"\x01\x00\x02\x00\x01\x00\x02\x00\x01\x00"
    once = _Source(b"\x01\x00\x02\x00", loop=False)
    assert once.take(3) == b"\x01\x00"
    assert once.take(8) == b"\x02\x00"
    assert once.take(8) == b""


def test_the_ringer_computes_its_tones_on_its_worker_not_when_built(monkeypatch) -> None:
    import threading

    from softclock.sound import tones

    built_on: list[str] = []
    real = tones.test_sound

    def spy(rate: int = RATE) -> bytes:
        built_on.append(threading.current_thread().name)
        return real(rate)

    monkeypatch.setattr(tones, "test_sound", spy)
    monkeypatch.setattr(tones, "_open_output", lambda *a: (_ for _ in ()).throw(OSError("no device here")))
    done = threading.Event()
    ringer = tones.Ringer(lambda: ("", ""), lambda state, detail: done.set() if state == "test-done" else None)
    try:
        assert built_on == []  # building the ringer (on the UI thread) computed nothing
        ringer.play_test("")
        assert done.wait(5.0)
        done.clear()
        ringer.play_test("")
        assert done.wait(5.0)
    finally:
        ringer.close()
    assert built_on == ["sound-tones"]  # once, on the worker
