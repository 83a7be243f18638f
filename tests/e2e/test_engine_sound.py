"""The SIP engine itself with real sound: its bridge to PulseAudio null devices."""

from __future__ import annotations

import time

from tests.helpers.pulse import pulse  # noqa: F401
from tests.helpers.tone_calls import MIC_HZ, PEER_HZ, analyse, engine_call_with_sound


def test_engine_call_is_heard_and_speaks(pulse, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pulse.apply_env(monkeypatch)  # the default devices are the private server's null sink and mic
    speaker = pulse.record(pulse.SPEAKER_SINK + ".monitor", tmp_path / "speaker.wav")
    try:
        with engine_call_with_sound(pulse, tmp_path, {pulse.MIC_SINK: MIC_HZ}) as call:
            time.sleep(3.0)  # three seconds of conversation: the audio is what is measured
    finally:
        speaker.stop()
    heard = analyse(speaker.path, "speaker")
    sent = analyse(call.peer_wav, "peer")
    info = f"speaker={heard} peer={sent}"
    assert abs(heard["freq"] - PEER_HZ) <= 5.0, info
    assert heard["level_dbfs"] > -30.0 and heard["active_s"] >= 2.0, info
    assert abs(sent["freq"] - MIC_HZ) <= 5.0, info
    assert sent["level_dbfs"] > -30.0 and sent["active_s"] >= 2.0, info
