"""Choosing, switching and losing sound devices, and the ringer -- with real sound.

A private PulseAudio (``tests/helpers/pulse.py``) with null sinks: the default
speaker, a fake microphone, and sinks loaded and unloaded by the test as a
headset being plugged in and pulled out. Every assertion is about sound at a
sink's monitor: its frequency and level, not just bytes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from softclock import events as ev
from softclock.sound.devices import DeviceKind, DeviceWatcher, list_devices
from softclock.sound.tones import RING_HZ, Ringer
from tests.helpers import sipp
from tests.helpers.harness import PhoneHarness
from tests.helpers.pulse import PulseServer, dominant_frequency, pulse, read_wav  # noqa: F401
from tests.helpers.tone_calls import MIC_HZ, PEER_HZ, analyse, engine_call_with_sound

HEADSET = "softclock_headset"
RINGER = "softclock_ringer"
LISTEN_S = 1.5  # how long each device is listened to
# pjsua's voice activity detection (on by default) takes some steady tones (1 kHz,
# 700 Hz, 600 Hz) for background noise after ~1.5 s and sends comfort noise
# instead; 800 Hz and 1.2 kHz stayed on for 4 s (measured). Calls longer than
# that use STEADY_HZ for our microphone.
STEADY_HZ = 1200.0


def _listen(pulse: PulseServer, sink: str, path: Path, seconds: float = LISTEN_S) -> dict:  # noqa: F811
    """Record ``sink``'s monitor for ``seconds`` (the sound is what is measured) and analyse it."""
    rec = pulse.record(sink + ".monitor", path)
    time.sleep(seconds)
    rec.stop()
    return analyse(path, sink)


def _rms_dbfs(path: Path) -> float:
    samples, rate = read_wav(path)
    return dominant_frequency(samples, rate)[1]


def test_speaker_switched_mid_call_then_unplugged_falls_back(pulse, tmp_path, monkeypatch) -> None:  # noqa: F811
    pulse.apply_env(monkeypatch)  # default speaker softclock_speaker, microphone softclock_mic.monitor
    headset = pulse.add_sink(HEADSET, "USB headset")
    with engine_call_with_sound(pulse, tmp_path, {pulse.MIC_SINK: STEADY_HZ}, "--max-seconds", "40") as call:
        phone = call.phone
        before = _listen(pulse, pulse.SPEAKER_SINK, tmp_path / "speaker_before.wav")

        # Switch the speaker to the headset mid-call.
        t0 = time.monotonic()
        phone.engine.set_sound_devices(playback=HEADSET)
        switched = phone.wait_for(ev.SoundDeviceChanged, lambda e: e.kind == "playback")
        switch_ms = (time.monotonic() - t0) * 1000
        on_headset = _listen(pulse, HEADSET, tmp_path / "headset.wav")
        quiet = pulse.record(pulse.SPEAKER_SINK + ".monitor", tmp_path / "speaker_quiet.wav")
        time.sleep(0.5)
        quiet.stop()
        speaker_after_switch = _rms_dbfs(tmp_path / "speaker_quiet.wav")

        # Pull the headset out: the sound server moves the stream to the default speaker.
        pulse.unload(headset)
        moved = phone.wait_for(ev.SoundDeviceChanged, lambda e: e.kind == "playback" and e.device != HEADSET)
        after = _listen(pulse, pulse.SPEAKER_SINK, tmp_path / "speaker_after.wav")
        assert not any(isinstance(e, ev.CallEnded) for e in phone.seen), "the call dropped"
    peer_wav = call.peer_wav
    sent = analyse(peer_wav, "peer")
    info = (
        f"before={before} switched={switched} ({switch_ms:.0f} ms) headset={on_headset} "
        f"speaker_after_switch={speaker_after_switch:.1f} dBFS moved={moved} after={after} peer={sent}"
    )
    print(info)

    assert abs(before["freq"] - PEER_HZ) <= 5.0 and before["level_dbfs"] > -30.0, info
    assert switched.device == HEADSET and switched.error == "", info
    # The far end's tone now comes out of the headset, loud and for the whole time listened ...
    assert abs(on_headset["freq"] - PEER_HZ) <= 5.0, info
    assert on_headset["level_dbfs"] > -30.0 and on_headset["active_s"] >= LISTEN_S - 0.3, info
    # ... and no longer out of the speaker.
    assert speaker_after_switch < -60.0, info
    # Unplugged: back on the default speaker, with a sentence for the user.
    assert moved.device == pulse.SPEAKER_SINK and HEADSET in moved.error, info
    assert abs(after["freq"] - PEER_HZ) <= 5.0, info
    assert after["level_dbfs"] > -30.0 and after["active_s"] >= LISTEN_S - 0.3, info
    # The microphone's stream was never touched: the far end heard it throughout.
    samples, rate = read_wav(peer_wav)
    quiet = [
        i
        for i in range(1, len(samples) // rate - 1)
        if dominant_frequency(samples[i * rate : (i + 1) * rate], rate)[1] < -30.0
    ]
    assert abs(sent["freq"] - STEADY_HZ) <= 5.0 and sent["level_dbfs"] > -30.0 and not quiet, (quiet, info)


def test_incoming_call_rings_on_the_ringer_device_only(pulse, kamailio, tmp_path, monkeypatch) -> None:  # noqa: F811
    pulse.apply_env(monkeypatch)
    pulse.add_sink(RINGER, "Desk ringer")
    states: list[tuple[str, str]] = []
    ringing, stopped = threading.Event(), threading.Event()

    def on_state(state: str, detail: str) -> None:
        states.append((state, detail))
        {"ringing": ringing, "stopped": stopped}.get(state, threading.Event()).set()

    ringer = Ringer(lambda: (RINGER, pulse.SPEAKER_SINK), on_state)
    phone = PhoneHarness(tmp_path / "data")
    ring_rec = pulse.record(RINGER + ".monitor", tmp_path / "ringer.wav")
    speaker_rec = pulse.record(pulse.SPEAKER_SINK + ".monitor", tmp_path / "speaker.wav")
    try:
        phone.account(kamailio)
        assert phone.registered().state is ev.RegState.REGISTERED
        with sipp.uac(kamailio, "alice", cancel_after_ms=3500) as far:
            event = phone.wait_for(ev.CallRinging)
            t0 = time.monotonic()
            ringer.handle(event)  # what the desktop app does with every SIP event
            handle_ms = (time.monotonic() - t0) * 1000
            assert ringing.wait(5), states
            ended = phone.wait_for(ev.CallEnded)
            ringer.handle(ended)
            assert stopped.wait(5), states
            assert far.wait(10) == 0
        ring_rec.stop()
        speaker_rec.stop()
        # Silence on the ringer once the call is over.
        after = tmp_path / "ringer_after.wav"
        rec = pulse.record(RINGER + ".monitor", after)
        time.sleep(0.5)
        rec.stop()
    finally:
        ringer.close()
        phone.close()
    rang = analyse(tmp_path / "ringer.wav", "ringer")
    info = f"rang={rang} states={states} handle={handle_ms:.2f} ms speaker={_rms_dbfs(tmp_path / 'speaker.wav'):.1f}"
    print(info)
    assert handle_ms < 5.0, info  # the UI thread only queues a command
    assert abs(rang["freq"] - RING_HZ) <= 5.0, info
    assert rang["level_dbfs"] > -30.0, info
    assert rang["active_s"] >= 1.0, info  # ring, pause, ring: 1 s of the 3 s cycle
    assert _rms_dbfs(tmp_path / "speaker.wav") < -60.0, info
    assert _rms_dbfs(after) < -60.0, info


def test_device_list_and_hot_plug(pulse, monkeypatch) -> None:  # noqa: F811
    pulse.apply_env(monkeypatch)
    devices = list_devices()
    assert devices.source == "pulse"
    assert devices.find(DeviceKind.PLAYBACK, pulse.SPEAKER_SINK) is not None
    assert all(not d.id.endswith(".monitor") or d.is_default for d in devices.capture)

    lists: list[tuple[float, object]] = []
    changed = threading.Event()

    def on_change(new) -> None:  # type: ignore[no-untyped-def]
        lists.append((time.monotonic(), new))
        changed.set()

    watcher = DeviceWatcher(on_change).start()
    try:
        assert changed.wait(5)
        changed.clear()
        t0 = time.monotonic()
        module = pulse.add_sink(HEADSET, "USB headset")
        assert changed.wait(5)
        plugged = lists[-1]
        changed.clear()
        pulse.unload(module)
        assert changed.wait(5)
        unplugged = lists[-1]
    finally:
        watcher.stop()
    headset = plugged[1].find(DeviceKind.PLAYBACK, HEADSET)  # type: ignore[attr-defined]
    assert headset is not None and headset.label == "USB headset"
    assert unplugged[1].find(DeviceKind.PLAYBACK, HEADSET) is None  # type: ignore[attr-defined]
    print(f"plugged-in device listed {1000 * (plugged[0] - t0):.0f} ms after the load command started")
    assert plugged[0] - t0 < 1.0


def test_microphone_switched_mid_call(pulse, tmp_path, monkeypatch) -> None:  # noqa: F811
    """Two microphones with different voices (1 kHz, 1.2 kHz): after the switch the far
    end hears the second one; the speaker's stream is not touched."""
    second_hz = STEADY_HZ
    pulse.apply_env(monkeypatch)
    pulse.add_sink("softclock_mic2", "Headset microphone feed")
    mics = {pulse.MIC_SINK: MIC_HZ, "softclock_mic2": second_hz}
    with engine_call_with_sound(pulse, tmp_path, mics, "--max-seconds", "30") as call:
        time.sleep(LISTEN_S)  # the far end hears the first microphone for a while
        call.phone.engine.set_sound_devices(capture="softclock_mic2.monitor")
        switched = call.phone.wait_for(ev.SoundDeviceChanged, lambda e: e.kind == "capture")
        speaker = _listen(pulse, pulse.SPEAKER_SINK, tmp_path / "speaker.wav", seconds=2.0)
    samples, rate = read_wav(call.peer_wav)
    first = dominant_frequency(samples[int(0.3 * rate) : int(1.2 * rate)], rate)
    last = dominant_frequency(samples[-int(1.2 * rate) : -int(0.2 * rate)], rate)
    info = f"switched={switched} first={first} last={last} speaker={speaker}"
    print(info)
    assert switched.device == "softclock_mic2.monitor" and switched.error == "", info
    assert abs(first[0] - MIC_HZ) <= 5.0 and first[1] > -30.0, info
    assert abs(last[0] - second_hz) <= 5.0 and last[1] > -30.0, info
    assert abs(speaker["freq"] - PEER_HZ) <= 5.0 and speaker["active_s"] >= LISTEN_S - 0.3, info
