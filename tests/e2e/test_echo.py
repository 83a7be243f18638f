"""Echo, measured in a loop: the far end's tone played by our speaker comes back
through a simulated room into our microphone. The bridge has no echo canceller
(so it all comes back); PulseAudio's module-echo-cancel, set up as the README
says, removes it while our own talker still gets through."""

from __future__ import annotations

from tests.helpers.echo import NEAR_HZ, EchoRoom, measure_echo
from tests.helpers.pulse import MIC_SINK, pulse  # noqa: F401


def test_echo_returns_without_a_canceller_and_not_with_pulseaudios(pulse, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pulse.apply_env(monkeypatch)
    room = EchoRoom(pulse, coupling_db=0.0)  # a speakerphone at full volume
    talker = pulse.play_tone(MIC_SINK, NEAR_HZ, amplitude=0.1)
    try:
        plain = measure_echo(pulse, room.plain_devices(), tmp_path / "plain")
        cancelled = measure_echo(pulse, room.load_echo_cancel(), tmp_path / "aec")
    finally:
        talker.stop()
    info = f"plain={plain} echo_cancel={cancelled}"
    print(info)
    # No canceller in the bridge: the far end hears itself nearly as loud as we played it.
    assert plain["played_dbfs"] > -20.0 and plain["erl_db"] < 6.0, info
    # With module-echo-cancel: the echo is at least 30 dB down (measured: ~60) ...
    assert cancelled["erl_db"] > 30.0, info
    # ... and our talker is not: WebRTC's residual-echo suppressor takes 0.1-3.0 dB
    # off the talker during double talk (measured over 5 runs), against 60 dB off
    # the echo, so the talker must stay within 6 dB of the plain path.
    assert plain["near_end_dbfs"] > -35.0, info
    assert abs(cancelled["near_end_dbfs"] - plain["near_end_dbfs"]) < 6.0, info
