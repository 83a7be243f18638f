"""Calls with real sound for the PulseAudio tests: tones into the private server's
microphone feeds, the tone peer (:mod:`tests.helpers.tone_peer`) as the far end,
and the analysis of what was recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from softclock import events as ev
from softclock.sip.config import AccountConfig
from tests.helpers.harness import PhoneHarness
from tests.helpers.pulse import PulseServer, active_span, dominant_frequency, read_wav
from tests.helpers.tone_peer import finish_peer, peer_log, start_peer

MIC_HZ = 1000.0  # what our microphone says
PEER_HZ = 440.0  # what the far end says


def analyse(path: Path, label: str) -> dict:
    """Frequency, level and length of the sound in a WAV (the edges of the sound left out)."""
    samples, rate = read_wav(path)
    span = active_span(samples, rate, threshold_db=-40.0)
    # Leave out the edges (fade-in, codec start-up, hang-up).
    edge = int(0.2 * rate)
    core = span[edge:-edge] if len(span) > 4 * edge else span
    freq, level = dominant_frequency(core, rate)
    return {
        "label": label,
        "total_s": round(len(samples) / rate, 2),
        "active_s": round(len(span) / rate, 2),
        "freq": round(freq, 2),
        "level_dbfs": round(level, 1),
    }


@contextmanager
def tone_peer_with_mics(
    pulse: PulseServer, tmp_path: Path, mics: dict[str, float], *peer_args: str
) -> Iterator[tuple[int, Path]]:
    """Tones played into the sinks ``mics`` names (sink: Hz) and a tone peer playing
    PEER_HZ that records what it hears; yields ``(its SIP port, its recording)``.

    On leaving, the peer is finished and the tones stopped; when the block ran
    through, the peer must have said DONE (its recording is complete)."""
    tones = [pulse.play_tone(sink, hz) for sink, hz in mics.items()]
    peer_wav = tmp_path / "peer_heard.wav"
    try:
        peer, port = start_peer("--freq", str(PEER_HZ), "--record", str(peer_wav), *peer_args)
    except BaseException:
        for tone in tones:
            tone.stop()
        raise
    try:
        yield port, peer_wav
    finally:
        out = finish_peer(peer)
        for tone in tones:
            tone.stop()
    assert "DONE" in out, peer_log(peer)[-3000:]


def call_peer(phone: PhoneHarness, port: int) -> int:
    """A local account (no registrar) calls the tone peer directly; returns the handle once connected."""
    phone.engine.set_account(AccountConfig(user="you", domain=f"127.0.0.1:{phone.engine.local_port}"))
    phone.wait_for(ev.RegistrationChanged)
    handle = phone.engine.make_call(f"sip:peer@127.0.0.1:{port}")
    phone.wait_for(ev.CallConnected)
    return handle


@dataclass
class EngineCall:
    phone: PhoneHarness
    handle: int
    peer_wav: Path  # what the far end heard (complete once the block is left)


@contextmanager
def engine_call_with_sound(
    pulse: PulseServer, tmp_path: Path, mics: dict[str, float], *peer_args: str
) -> Iterator[EngineCall]:
    """The engine (real sound) in a connected call to a tone peer, with tones in ``mics``
    (see :func:`tone_peer_with_mics`); when the block runs through the engine hangs up
    and the call must end."""
    with tone_peer_with_mics(pulse, tmp_path, mics, *peer_args) as (port, peer_wav):
        phone = PhoneHarness(tmp_path / "data", null_audio=False)
        try:
            call = EngineCall(phone, call_peer(phone, port), peer_wav)
            yield call
            phone.engine.hangup(call.handle)
            phone.wait_for(ev.CallEnded)
        finally:
            phone.close()
