"""Benchmark softclock.sip.audio.SoundBridge: added latency, CPU per call, underruns.

    .venv/bin/python bench/audio_bridge.py [--cpu-seconds 30] [--call-seconds 60]
                                           [--latency-seconds 15] [--no-baseline] [--json OUT]

Everything runs on this machine: a private PulseAudio (null sinks,
``tests/helpers/pulse.py``), a far end in a subprocess
(``tests/helpers/tone_peer.py``, a direct call on 127.0.0.1) and, in this
process, an Endpoint set up like softclock's engine (threadCnt=0, media on the
SIP ioqueue, event thread, null device as the bridge clock).

Phases (one Endpoint, one call each):

1. baseline (``--cpu-seconds``): a call on the null device, no SoundBridge --
   what a call costs without real sound;
2. load (``--call-seconds``): the same with SoundBridge on ``softclock_speaker``
   / ``softclock_mic.monitor`` (PulseAudio names: straight through libpulse by
   default, through PortAudio and ALSA's pulse device with ``--backend
   portaudio``), continuous tones both ways. CPU of this process over the
   middle ``--cpu-seconds`` (psutil, % of one core; the PulseAudio daemon's CPU is
   shown apart), underruns/overruns over the whole call, per minute;
3. latency (``--latency-seconds``): 100 ms bursts, one a second, both ways.
   Measured, not estimated: onsets are timed (``time.monotonic``, one clock
   for all processes) where a frame enters or leaves the bridge's conference
   port (wrappers around its two ring-buffer calls) and where the sound
   server has the audio (``parec`` on the sink's / mic's monitor, 5 ms
   fragments, read by a thread here)::

       playback = (onset in speaker monitor) - (onset in the frame the bridge got
                  from the call, as if played from that tick with no buffering)
       capture  = (tick at which the frame holding the onset left for the call)
                  - (onset in the mic monitor)

   i.e. the latency the bridge adds over an ideal zero-buffer sound device
   (ring + PortAudio + pulse client buffers); network, jitter buffer and codec
   are the same with any device and excluded. The monitor readers' own
   fragment (<= 5 ms) makes playback read slightly high and capture slightly
   low. The estimate from buffer depths (ring average + PortAudio's reported
   latency, ``SoundBridge.latency_ms()``) is printed next to it.

Targets: <= 60 ms per direction, <= 5 % of one core per call.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from bench._common import private_pulse, write_json  # noqa: E402
from tests.helpers.pulse import MIC_SINK, MIC_SOURCE, SPEAKER_SINK, PulseServer  # noqa: E402
from tests.helpers.tone_peer import LocalCaller, finish_peer, start_peer  # noqa: E402

RATE = 16000
LOUD = 0.05  # |sample| above this (-26 dBFS) after QUIET_S of silence = an onset
QUIET_S = 0.3


class OnsetDetector:
    """Finds burst onsets in a stream of s16le chunks; thread-safe append."""

    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self.onsets: list[float] = []
        self._last_loud = -1e9
        self._lock = threading.Lock()

    def feed(self, data: bytes, t_first_sample: float) -> None:
        """``t_first_sample``: the time the chunk's first sample stands for."""
        if not data:
            return
        x = np.frombuffer(data, dtype="<i2")
        loud = np.flatnonzero(np.abs(x) > LOUD * 32768)
        if len(loud) == 0:
            return
        i = int(loud[0])
        t = t_first_sample + i / self.rate
        with self._lock:
            if t - self._last_loud > QUIET_S:
                self.onsets.append(t)
            self._last_loud = t_first_sample + int(loud[-1]) / self.rate


class MonitorReader:
    """``parec`` on a monitor source; each chunk's samples end 'now' when read."""

    def __init__(self, pulse: PulseServer, source: str) -> None:
        self.detector = OnsetDetector()
        self.proc = subprocess.Popen(
            ["parec", "--raw", "-d", source, f"--rate={RATE}", "--channels=1", "--format=s16le", "--latency-msec=5"],
            env=pulse.child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        while True:
            data = self.proc.stdout.read1(4096)
            now = time.monotonic()
            if not data:
                return
            data = pending + data
            usable = len(data) - len(data) % 2
            pending = data[usable:]
            self.detector.feed(data[:usable], now - (usable // 2) / RATE)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(3)
        self._thread.join(2)


def pair(sent: list[float], got: list[float], window: float = 0.5) -> list[float]:
    """Delays from each ``sent`` onset to the first ``got`` onset within ``window`` s."""
    delays = []
    j = 0
    for t in sent:
        while j < len(got) and got[j] < t - 0.05:
            j += 1
        if j < len(got) and got[j] - t <= window:
            delays.append(got[j] - t)
    return delays


def summary(delays_s: list[float]) -> dict:
    if not delays_s:
        return {"n": 0}
    ms = sorted(d * 1000 for d in delays_s)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
    }


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def measure_cpu(seconds: float, pulse_pid: int | None) -> tuple[float, float | None]:
    me = psutil.Process()
    pa = psutil.Process(pulse_pid) if pulse_pid else None
    c0, p0, w0 = cpu_seconds(me), cpu_seconds(pa) if pa else 0.0, time.monotonic()
    time.sleep(seconds)
    c1, p1, w1 = cpu_seconds(me), cpu_seconds(pa) if pa else 0.0, time.monotonic()
    wall = w1 - w0
    return 100 * (c1 - c0) / wall, (100 * (p1 - p0) / wall if pa else None)


def run_call(caller: LocalCaller, peer_args: list[str], body) -> None:
    peer, port = start_peer(*peer_args)
    try:
        caller.make_call(f"sip:peer@127.0.0.1:{port}")
        audio = caller.wait_audio(5.0)
        mgr = caller.ep.audDevManager()
        mgr.setNullDev()
        try:
            body(audio)
        finally:
            del audio
            gc.collect()
            mgr.setNoDev()
            caller.hangup()
            caller.call = None
            gc.collect()
    finally:
        finish_peer(peer)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-seconds", type=float, default=30.0)
    ap.add_argument("--call-seconds", type=float, default=60.0)
    ap.add_argument("--latency-seconds", type=float, default=15.0)
    ap.add_argument("--playback-block-ms", type=int, default=0, help="default: SoundBridge's")
    ap.add_argument("--capture-block-ms", type=int, default=0, help="default: SoundBridge's")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument(
        "--backend",
        choices=("", "pulse", "portaudio"),
        default="",
        help="SOFTCLOCK_SOUND_BACKEND (default: libpulse on Linux)",
    )
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    if args.backend:
        os.environ["SOFTCLOCK_SOUND_BACKEND"] = args.backend
    from softclock.sip.audio import SoundBridge

    extra = {}
    if args.playback_block_ms:
        extra["playback_block_ms"] = args.playback_block_ms
    if args.capture_block_ms:
        extra["capture_block_ms"] = args.capture_block_ms

    results: dict = {"cpu_seconds": args.cpu_seconds, "call_seconds": args.call_seconds}
    with private_pulse("sc-bench-") as (_base, pulse), contextlib.ExitStack() as stack:
        caller = LocalCaller(log_level=1).start()
        stack.callback(caller.stop)
        # ---------------------------------------------------------- 1. baseline
        if not args.no_baseline:

            def baseline(audio):
                mgr = caller.ep.audDevManager()
                audio.startTransmit(mgr.getPlaybackDevMedia())
                mgr.getCaptureDevMedia().startTransmit(audio)
                time.sleep(2.0)
                cpu, pa_cpu = measure_cpu(args.cpu_seconds, None)
                results["baseline_cpu_pct"] = round(cpu, 2)

            run_call(caller, ["--freq", "440", "--max-seconds", str(args.cpu_seconds + 30)], baseline)
            print(f"baseline (null device, no bridge): CPU {results['baseline_cpu_pct']:.2f} % of one core", flush=True)

        # ---------------------------------------------------------- 2. load
        mic = pulse.play_tone(MIC_SINK, 1000.0)

        def load(audio):
            bridge = SoundBridge(caller.ep, playback_device=SPEAKER_SINK, capture_device=MIC_SOURCE, **extra)
            bridge.open()
            bridge.connect(audio)
            try:
                t0 = time.monotonic()
                margin = max(0.0, (args.call_seconds - args.cpu_seconds) / 2)
                time.sleep(margin)
                cpu, pa_cpu = measure_cpu(args.cpu_seconds, pulse.proc.pid if pulse.proc else None)
                time.sleep(max(0.0, args.call_seconds - (time.monotonic() - t0)))
                elapsed = time.monotonic() - t0
                st = bridge.stats()
                results.update(
                    bridge_cpu_pct=round(cpu, 2),
                    pulseaudio_cpu_pct=round(pa_cpu, 2) if pa_cpu is not None else None,
                    load_seconds=round(elapsed, 1),
                    underruns=st["underruns"],
                    overruns=st["overruns"],
                    underruns_per_min=round(st["underruns"] * 60 / elapsed, 2),
                    overruns_per_min=round(st["overruns"] * 60 / elapsed, 2),
                    estimated_latency_ms=st["latency_ms"],
                    stats=st,
                )
            finally:
                bridge.close()

        run_call(caller, ["--freq", "440", "--max-seconds", str(args.call_seconds + 30)], load)
        mic.stop()
        print(
            f"bridge call ({results['load_seconds']} s): CPU {results['bridge_cpu_pct']:.2f} % of one core "
            f"over {args.cpu_seconds:.0f} s (pulseaudio daemon {results['pulseaudio_cpu_pct']} %); "
            f"underruns {results['underruns']} ({results['underruns_per_min']}/min), "
            f"overruns {results['overruns']} ({results['overruns_per_min']}/min)",
            flush=True,
        )
        print(f"  playback ring: {results['stats']['playback']}", flush=True)
        print(f"  capture ring:  {results['stats']['capture']}", flush=True)
        print(f"  device xruns:  {results['stats']['device']}", flush=True)

        # ---------------------------------------------------------- 3. latency
        mic = pulse.play_tone(MIC_SINK, 1000.0, on_ms=100)
        speaker_mon = MonitorReader(pulse, SPEAKER_SINK + ".monitor")
        mic_mon = MonitorReader(pulse, MIC_SOURCE)
        into_bridge = OnsetDetector()  # frames from the call, as the port got them
        out_of_bridge = OnsetDetector()  # frames to the call, as the port gave them

        def latency(audio):
            bridge = SoundBridge(caller.ep, playback_device=SPEAKER_SINK, capture_device=MIC_SOURCE, **extra)
            bridge.open()
            port = bridge._port  # the conference port's two hand-overs, whichever the backend
            write, read = port._sink_write, port._source_read

            def timed_write(data):  # the conference tick handing us the call's frame
                into_bridge.feed(data, time.monotonic())
                write(data)

            def timed_read(n):  # the frame we hand to the call at this tick; an ideal
                data = read(n)  # device would have captured its last sample just now
                out_of_bridge.feed(data, time.monotonic() - (n // 2 - 1) / RATE)
                return data

            port._sink_write, port._source_read = timed_write, timed_read
            bridge.connect(audio)
            try:
                time.sleep(args.latency_seconds)
                results["estimated_latency_ms_bursts"] = bridge.latency_ms()
            finally:
                bridge.close()

        run_call(
            caller, ["--freq", "440", "--burst", "100,900", "--max-seconds", str(args.latency_seconds + 30)], latency
        )
        time.sleep(0.2)
        speaker_mon.stop()
        mic_mon.stop()
        mic.stop()
        down = summary(pair(into_bridge.onsets, speaker_mon.detector.onsets))
        up = summary(pair(mic_mon.detector.onsets, out_of_bridge.onsets))
        results["latency_playback"] = down
        results["latency_capture"] = up
        print(f"latency added, playback (call -> speaker), measured: {down}", flush=True)
        print(f"latency added, capture (mic -> call), measured:     {up}", flush=True)
        print(
            f"latency estimated from buffer depths + PortAudio's reported latency: "
            f"{results.get('estimated_latency_ms_bursts')}",
            flush=True,
        )
        ok_lat = all(s.get("median_ms", 1e9) <= 60 for s in (down, up))
        ok_cpu = results["bridge_cpu_pct"] <= 5.0
        print(
            f"targets: latency <= 60 ms per direction: {'OK' if ok_lat else 'MISSED'}; "
            f"CPU <= 5 %: {'OK' if ok_cpu else 'MISSED'}",
            flush=True,
        )
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
