"""The adaptive buffer between two audio clocks (the conference bridge's and a device's).

Used by the device streams (:mod:`softclock.sound.streams`) for both directions with
PortAudio, and for the capture direction with libpulse (:mod:`softclock.sound.pulse_io`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

FRAME_MS = 20  # the conference bridge's ptime (pjsua default)
SAMPLE_BYTES = 2  # 16-bit mono
MARGIN_MS = 10  # jitter margin over a read chunk at the start; adapts upwards
TARGET_MAX_MS = 120
TARGET_STEP_MS = 10
RELAX_AFTER_S = 15.0
DRIFT_AFTER_S = 60.0


class JitterRing:
    """A lock-protected byte FIFO between a producer and a consumer clock.

    ``write`` and ``read`` are the only calls made from real-time callbacks;
    both hold the lock for a few microseconds and never wait for anything else.

    The *target* is the level a read must find (its own chunk plus a margin
    for the two clocks' jitter). Reading starts once the level reaches it
    (priming); an underrun plays silence for what is missing, raises the
    target by a step and primes again; a level above target + one write chunk
    + one read chunk is trimmed (oldest audio dropped): the overrun a faster
    producer clock causes. When no underrun happened for ``RELAX_AFTER_S`` and
    the lowest spare level seen in that time exceeds a step, the target and
    the buffered audio both drop by a step.
    """

    def __init__(self, name: str, rate: int, write_ms: int, read_ms: int, margin_ms: int) -> None:
        self.name = name
        self.rate = rate
        self.bytes_per_ms = rate * SAMPLE_BYTES // 1000
        self._write_chunk = write_ms * self.bytes_per_ms
        self._read_chunk = read_ms * self.bytes_per_ms
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._min_target = (read_ms + margin_ms) * self.bytes_per_ms
        self._target = self._min_target
        self._max_target = max(TARGET_MAX_MS * self.bytes_per_ms, self._min_target)
        self._step = TARGET_STEP_MS * self.bytes_per_ms
        self._priming = True
        self._window_start = time.monotonic()
        self._min_spare: int | None = None
        self.underruns = 0
        self.overruns = 0
        self.relaxed = 0
        self.trimmed_bytes = 0
        self.filled_bytes = 0
        self.written_bytes = 0
        self._started_at: float | None = None  # first read after the first priming
        self._asked_since_start = 0  # everything the consumer asked for, silence included
        self._written_since_start = 0
        self._level_sum = 0
        self._level_n = 0

    # -- real-time side ------------------------------------------------------

    def write(self, data: bytes) -> None:
        with self._lock:
            buf = self._buf
            buf += data
            self.written_bytes += len(data)
            if self._started_at is not None:
                self._written_since_start += len(data)
            if len(buf) > self._target + self._write_chunk + self._read_chunk:
                drop = len(buf) - (self._target + self._write_chunk)
                drop -= drop % SAMPLE_BYTES
                del buf[:drop]
                self.overruns += 1
                self.trimmed_bytes += drop

    def read(self, n: int) -> bytes:
        with self._lock:
            buf = self._buf
            level = len(buf)
            if self._priming:
                if level < self._target:
                    if self._started_at is not None:
                        self._asked_since_start += n
                    return bytes(n)
                self._priming = False
                self._window_start = time.monotonic()
                self._min_spare = None
                if self._started_at is None:
                    self._started_at = self._window_start
            self._level_sum += level
            self._level_n += 1
            if level >= n:
                spare = level - n
                if self._min_spare is None or spare < self._min_spare:
                    self._min_spare = spare
                out = bytes(buf[:n])
                del buf[:n]
                self._asked_since_start += n
                if time.monotonic() - self._window_start > RELAX_AFTER_S:
                    self._relax()
                return out
            # Underrun: what is left, then silence; wait for the (raised) target.
            out = bytes(buf) + bytes(n - level)
            buf.clear()
            self._asked_since_start += n
            self.underruns += 1
            self.filled_bytes += n - level
            self._priming = True
            self._target = min(self._max_target, self._target + self._step)
            return out

    def _relax(self) -> None:
        if self._target > self._min_target and self._min_spare is not None and self._min_spare >= 2 * self._step:
            self._target -= self._step
            del self._buf[: self._step]
            self.trimmed_bytes += self._step
            self.relaxed += 1
        self._window_start = time.monotonic()
        self._min_spare = None

    # -- control side ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            drift_ppm = None
            if self._started_at is not None and time.monotonic() - self._started_at >= DRIFT_AFTER_S:
                # Producer vs consumer clock: bytes each moved since reading began
                # (over the same wall time). Uncertain by about one chunk each
                # (~40 ms / elapsed: +-670 ppm after 60 s, +-67 after 10 min).
                if self._asked_since_start:
                    drift_ppm = round(
                        (self._written_since_start - self._asked_since_start) / self._asked_since_start * 1e6
                    )
            return {
                "underruns": self.underruns,
                "overruns": self.overruns,
                "level_ms": round(len(self._buf) / self.bytes_per_ms, 1),
                "avg_level_ms": round(self._level_sum / self._level_n / self.bytes_per_ms, 1) if self._level_n else 0.0,
                "target_ms": self._target // self.bytes_per_ms,
                "relaxed": self.relaxed,
                "trimmed_ms": round(self.trimmed_bytes / self.bytes_per_ms, 1),
                "silence_ms": round(self.filled_bytes / self.bytes_per_ms, 1),
                "frames": self.written_bytes // (FRAME_MS * self.bytes_per_ms),
                "drift_ppm": drift_ppm,
            }
