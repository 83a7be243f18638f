"""The SIP engine itself with real sound: its bridge to PulseAudio null devices."""

from __future__ import annotations

import time


from softclock import events as ev
from softclock.sip.engine import AccountConfig
from tests.e2e.test_audio import MIC_HZ, PEER_HZ, _analyse
from tests.helpers.harness import PhoneHarness
from tests.helpers.pulse import pulse  # noqa: F401
from tests.helpers.tone_peer import finish_peer, peer_log, start_peer


def call_peer(phone: PhoneHarness, port: int) -> int:
    """A local account (no registrar) calls the tone peer directly; returns the handle once connected."""
    phone.engine.set_account(AccountConfig(user="you", domain=f"127.0.0.1:{phone.engine.local_port}"))
    phone.wait_for(ev.RegistrationChanged)
    handle = phone.engine.make_call(f"sip:peer@127.0.0.1:{port}")
    phone.wait_for(ev.CallConnected)
    return handle


def test_engine_call_is_heard_and_speaks(pulse, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pulse.apply_env(monkeypatch)  # the default devices are the private server's null sink and mic
    mic = pulse.play_tone(pulse.MIC_SINK, MIC_HZ)
    speaker = pulse.record(pulse.SPEAKER_SINK + ".monitor", tmp_path / "speaker.wav")
    peer_wav = tmp_path / "peer_heard.wav"
    peer, port = start_peer("--freq", str(PEER_HZ), "--record", str(peer_wav))
    phone = PhoneHarness(tmp_path / "data", null_audio=False)
    try:
        handle = call_peer(phone, port)
        time.sleep(3.0)  # three seconds of conversation: the audio is what is measured
        phone.engine.hangup(handle)
        phone.wait_for(ev.CallEnded)
    finally:
        phone.close()
        out = finish_peer(peer)
        speaker.stop()
        mic.stop()
    assert "DONE" in out, peer_log(peer)[-3000:]
    heard = _analyse(speaker.path, "speaker")
    sent = _analyse(peer_wav, "peer")
    info = f"speaker={heard} peer={sent}"
    assert abs(heard["freq"] - PEER_HZ) <= 5.0, info
    assert heard["level_dbfs"] > -30.0 and heard["active_s"] >= 2.0, info
    assert abs(sent["freq"] - MIC_HZ) <= 5.0, info
    assert sent["level_dbfs"] > -30.0 and sent["active_s"] >= 2.0, info



