"""PortAudio through `sounddevice`_: loading it, finding a device, opening a stream.

Used by the device streams (:mod:`softclock.sound.streams`) where libpulse is not
the backend, by the device list (:mod:`softclock.sound.devices`) and by the tones.

.. _sounddevice: https://python-sounddevice.readthedocs.io/
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

# PortAudio callback periods (measured with bench/audio_bridge.py): PortAudio's
# ALSA backend buffers two periods, so playback uses 10 ms blocks (25-28 ms
# added; 20 ms blocks: 62 ms); capture hands each period over once it is full,
# so 20 ms blocks (one per conference frame) add little (32-34 ms vs 20 ms with
# 10 ms blocks) and halve the wake-ups (CPU 9.7 % -> 8.9 % of a core per call).
PLAYBACK_BLOCK_MS = 10
CAPTURE_BLOCK_MS = 20

# One PortAudio user at a time: re-initializing it (for a new device list)
# while a stream is open would kill that stream.
LOCK = threading.RLock()
_open_streams = 0


class SoundUnavailable(RuntimeError):
    """No usable sound device (PortAudio missing, device not found or refused)."""


def streams_open() -> int:
    """How many sound bridges hold PortAudio streams open (0: re-scanning devices is safe)."""
    return _open_streams


def stream_opened() -> None:
    """A bridge opened its streams (call with :data:`LOCK` held)."""
    global _open_streams
    _open_streams += 1


def stream_closed() -> None:
    """A bridge closed its streams (call with :data:`LOCK` held)."""
    global _open_streams
    _open_streams = max(0, _open_streams - 1)


def use_pulse() -> bool:
    """libpulse directly on Linux (see pulse_io: ~half the CPU of PortAudio's path);
    ``SOFTCLOCK_SOUND_BACKEND=portaudio`` forces PortAudio (benchmarks, odd systems)."""
    choice = os.environ.get("SOFTCLOCK_SOUND_BACKEND", "").strip().lower()
    if choice == "portaudio" or (choice != "pulse" and not sys.platform.startswith("linux")):
        return False
    from softclock.sound import pulse_io

    return pulse_io.available()


def load() -> Any:
    """Import sounddevice lazily: PortAudio enumerates devices at import time."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: libportaudio2 missing
        raise SoundUnavailable(f"sounddevice/PortAudio is not available: {exc}") from exc
    return sounddevice


def resolve(sd: Any, name: str | None, kind: str) -> tuple[int | None, str | None]:
    """(PortAudio device index or None for the default, PulseAudio name or None)."""
    if name is None or name == "":
        return None, None
    key = "max_output_channels" if kind == "output" else "max_input_channels"
    devices = [(i, d) for i, d in enumerate(sd.query_devices()) if d[key] > 0]
    apis = sd.query_hostapis()
    for i, d in devices:  # the identity softclock.sound.devices stores: "<host API>:<name>"
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


def open_stream(sd: Any, kind: str, device: str | None, rate: int, block_ms: int, callback: Any) -> Any:
    """An unstarted 16-bit mono ``"output"`` or ``"input"`` stream on ``device`` (None: the default)."""
    index, pulse_name = resolve(sd, device, kind)
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
