"""Real sound end to end: a call through SoundBridge to PulseAudio null devices.

* far end: ``tests/helpers/tone_peer.py`` in a subprocess (one pjsua2 Endpoint
  per process) answers a direct call on 127.0.0.1, plays 440 Hz and records
  what it hears;
* this process: an Endpoint set up like the engine's, SoundBridge on the
  private PulseAudio's ``softclock_speaker`` sink and ``softclock_mic.monitor``
  source (chosen with PULSE_SINK/PULSE_SOURCE), a 1 kHz tone written into
  ``softclock_mic``, and ``parec`` recording the speaker sink's monitor.

Asserted: 440 Hz (+-5) at a real level and for most of the call on the
speaker, 1 kHz (+-5) likewise at the far end, frames moved both ways, few
underruns.
"""

from __future__ import annotations

# numpy is a test dependency: its absence must fail, not skip.
import numpy  # noqa: F401
import pytest

from tests.helpers.pulse import pulse  # noqa: F401
from tests.helpers.tone_calls import MIC_HZ, PEER_HZ, analyse, tone_peer_with_mics
from tests.helpers.tone_peer import LocalCaller

CALL_SECONDS = 3.0


@pytest.mark.parametrize(
    "speaker_device, mic_device",
    [
        (None, None),  # the defaults: PULSE_SINK=softclock_speaker, PULSE_SOURCE=softclock_mic.monitor
        # The headset chosen yesterday is not plugged in today: the call is heard on the
        # default speaker, and the microphone chosen by name is still the one used.
        ("usb_headset_not_here", "softclock_mic.monitor"),
    ],
    ids=["defaults", "absent-speaker-named-mic"],
)
def test_call_audio_reaches_speaker_and_microphone_reaches_peer(
    pulse,  # noqa: F811 - the fixture imported above
    tmp_path,
    monkeypatch,
    speaker_device,
    mic_device,
):
    pulse.apply_env(monkeypatch)  # PULSE_SERVER, PULSE_SINK=softclock_speaker, PULSE_SOURCE=softclock_mic.monitor
    if mic_device:
        monkeypatch.delenv("PULSE_SOURCE")  # chosen by name, not found as the default
    speaker = pulse.record(pulse.SPEAKER_SINK + ".monitor", tmp_path / "speaker.wav")
    try:
        with tone_peer_with_mics(pulse, tmp_path, {pulse.MIC_SINK: MIC_HZ}) as (port, peer_wav):
            caller = LocalCaller().start()
            try:
                stats = caller.talk_through_bridge(port, CALL_SECONDS, speaker_device, mic_device)
            finally:
                caller.stop()
    finally:
        speaker.stop()

    heard = analyse(speaker.path, "speaker")
    sent = analyse(peer_wav, "peer")
    info = f"speaker={heard} peer={sent} stats={stats}"
    print(info)

    # Frames really moved through the port both ways (150 frames in 3 s).
    assert stats["frames"]["from_call"] >= 100, info
    assert stats["frames"]["to_call"] >= 100, info
    assert stats["callback_errors"] == 0, info
    assert stats["underruns"] <= 3, info

    # The peer's 440 Hz tone came out of the speaker, loud and for most of the call.
    assert abs(heard["freq"] - PEER_HZ) <= 5.0, info
    assert heard["level_dbfs"] > -30.0, info
    assert heard["active_s"] >= CALL_SECONDS - 1.0, info

    # The 1 kHz tone fed into the microphone reached the peer.
    assert abs(sent["freq"] - MIC_HZ) <= 5.0, info
    assert sent["level_dbfs"] > -30.0, info
    assert sent["active_s"] >= CALL_SECONDS - 1.0, info
