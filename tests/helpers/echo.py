"""An acoustic echo path in a private PulseAudio, and the measure of echo return.

The "room" is a ``module-loopback`` from the speaker sink's monitor into the
microphone feed sink: whatever we play comes back into our microphone ~30 ms
later, as from a loudspeaker into a laptop's microphone. PulseAudio's
``module-echo-cancel`` (WebRTC) can then sit between the bridge and those two
devices, as the README tells users to set it up.
"""

from __future__ import annotations

import math
from pathlib import Path

from tests.helpers.pulse import MIC_SINK, MIC_SOURCE, SPEAKER_SINK, PulseServer, read_wav
from tests.helpers.tone_peer import LocalCaller, finish_peer, start_peer

FAR_HZ = 440.0  # the far end's voice, which must not come back to it
NEAR_HZ = 1000.0  # our talker, who must still get through

EC_SINK = "ec_sink"
EC_SOURCE = "ec_source"


class EchoRoom:
    def __init__(self, pulse: PulseServer, coupling_db: float = 0.0, delay_ms: int = 30) -> None:
        self.pulse = pulse
        self.loopback = pulse.pactl(
            "load-module",
            "module-loopback",
            f"source={SPEAKER_SINK}.monitor",
            f"sink={MIC_SINK}",
            f"latency_msec={delay_ms}",
            "source_dont_move=true",
            "sink_dont_move=true",
        ).strip()
        if coupling_db:
            for line in pulse.pactl("list", "short", "sink-inputs").splitlines():
                fields = line.split("\t")
                if len(fields) > 2 and fields[1] == self.loopback:
                    pulse.pactl("set-sink-input-volume", fields[0], f"{10 ** (coupling_db / 20):.4f}")

    @staticmethod
    def plain_devices() -> tuple[str, str]:
        """(speaker, microphone) straight on the devices: no canceller."""
        return SPEAKER_SINK, MIC_SOURCE

    def load_echo_cancel(self) -> tuple[str, str]:
        """Put PulseAudio's WebRTC echo canceller in front of them; (its sink, its source)."""
        self.pulse.pactl(
            "load-module",
            "module-echo-cancel",
            "aec_method=webrtc",
            f"source_master={MIC_SOURCE}",
            f"sink_master={SPEAKER_SINK}",
            f"source_name={EC_SOURCE}",
            f"sink_name={EC_SINK}",
            f"rate={self.pulse.rate}",
            "channels=1",
            "use_master_format=0",
            # Echo cancelling only: WebRTC's noise suppression takes a steady test
            # tone for noise and removes it, and its gain control moves levels.
            'aec_args="noise_suppression=0 analog_gain_control=0 digital_gain_control=0"',
        )
        return EC_SINK, EC_SOURCE


def band_level_db(samples, rate: int, freq: float, width: float = 20.0) -> float:
    """RMS level (dBFS) of ``samples`` within ``freq`` +- ``width``/2 Hz."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    if len(x) == 0:
        return -200.0
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    band = np.abs(freqs - freq) <= width / 2
    power = 2 * np.sum(np.abs(spectrum[band]) ** 2) / len(x) ** 2  # Parseval, one-sided
    return 10 * math.log10(power) if power > 0 else -200.0


def echo_return(played_wav: Path, returned_wav: Path, freq: float) -> dict:
    """Level of ``freq`` our speaker played vs what reached the far end, over the
    second half of each recording (a canceller has converged by then)."""
    played, rate_p = read_wav(played_wav)
    returned, rate_r = read_wav(returned_wav)
    played_db = band_level_db(played[len(played) // 2 :], rate_p, freq)
    returned_db = band_level_db(returned[len(returned) // 2 :], rate_r, freq)
    return {
        "played_dbfs": round(played_db, 1),
        "returned_dbfs": round(returned_db, 1),
        "erl_db": round(played_db - returned_db, 1),
    }


def measure_echo(pulse: PulseServer, devices: tuple[str, str], tmp: Path, seconds: float = 6.0) -> dict:
    """One bridged call with the far end playing FAR_HZ, the bridge on ``devices``
    (speaker, microphone): the echo return at the far end (:func:`echo_return`)
    and the level of our NEAR_HZ talker it heard (``near_end_dbfs``). Play the
    near-end tone into MIC_SINK before calling this."""
    tmp.mkdir(parents=True, exist_ok=True)
    heard = tmp / "peer_heard.wav"
    played = pulse.record(SPEAKER_SINK + ".monitor", tmp / "speaker.wav")
    peer, port = start_peer("--freq", str(FAR_HZ), "--record", str(heard), "--max-seconds", str(seconds + 30))
    caller = LocalCaller(log_level=1).start()
    try:
        caller.talk_through_bridge(port, seconds, *devices)
    finally:
        caller.stop()
        finish_peer(peer)
        played.stop()
    result = echo_return(tmp / "speaker.wav", heard, FAR_HZ)
    samples, rate = read_wav(heard)
    result["near_end_dbfs"] = round(band_level_db(samples[len(samples) // 2 :], rate, NEAR_HZ), 1)
    return result
