"""A private PulseAudio daemon for sound tests: null sinks, a fake microphone, recorders.

Facts this relies on (measured on a 2-core Debian 12 machine): PulseAudio 16 runs
in user mode as root; ``module-null-sink`` sinks play into nothing and ``parec``
on a sink's ``.monitor`` records what was played; ``module-sine-source`` delivers
in 2 s bursts, so the microphone is a second null sink (``softclock_mic``) into
which ``pacat`` writes a tone and whose ``.monitor`` is the capture source.

Usage (pytest)::

    from tests.helpers.pulse import pulse  # noqa: F401  (the fixture)

    def test_x(pulse):
        pulse.env          # PULSE_SERVER, PULSE_SINK, PULSE_SOURCE, ... for children
        pulse.apply_env(monkeypatch)   # the same, for this process (before sounddevice opens)
        tone = pulse.play_tone(pulse.MIC_SINK, 1000.0)   # feeds the fake microphone
        rec = pulse.record(pulse.SPEAKER_SINK + ".monitor", tmp_path / "speaker.wav")
        ...
        rec.stop()   # the WAV is complete when this returns

Every process started here is stopped at teardown (the daemon last); nothing is
left running. If ``pulseaudio``/``pacat`` are missing the test is skipped --
unless ``CI=true``, then it fails.
"""

from __future__ import annotations

import math
import os
import select
import shlex
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import wave
from pathlib import Path

import pytest

from tests.helpers.procs import missing_tool

SPEAKER_SINK = "softclock_speaker"
MIC_SINK = "softclock_mic"
MIC_SOURCE = MIC_SINK + ".monitor"


def pulse_binaries() -> dict[str, str | None]:
    return {name: shutil.which(name) for name in ("pulseaudio", "pacat", "pactl")}


def require_pulse() -> None:
    """Skip (or fail when CI=true) unless PulseAudio and its client tools are installed."""
    missing = [n for n, p in pulse_binaries().items() if p is None]
    if not missing:
        return
    missing_tool("PulseAudio missing: " + ", ".join(missing) + " (apt: pulseaudio pulseaudio-utils)")


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 3.0) -> None:
    """Stop ``proc`` and, if it leads its own session (``_spawn``), its whole group."""
    group = None
    try:
        if os.getpgid(proc.pid) == proc.pid:
            group = proc.pid
    except ProcessLookupError:
        pass
    try:
        if group is not None:
            os.killpg(group, sig)
        elif proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if group is not None:
            os.killpg(group, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout)
    except ProcessLookupError:
        pass


class Recording:
    """``parec`` writing a sink monitor (or any source) to a WAV file."""

    def __init__(self, proc: subprocess.Popen, path: Path) -> None:
        self.proc = proc
        self.path = path

    def stop(self) -> Path:
        # pacat/parec quit their main loop on SIGINT/SIGTERM and finalize the WAV header.
        _stop(self.proc, signal.SIGINT)
        return self.path


class TonePlayer:
    """A tone being written into a sink (see :meth:`PulseServer.play_tone`)."""

    def __init__(self, server: PulseServer, proc: subprocess.Popen) -> None:
        self.server = server
        self.proc = proc

    def stop(self) -> None:
        self.server.stop_process(self.proc)


class PulseServer:
    """One private PulseAudio daemon with two null sinks (speaker, microphone feed)."""

    SPEAKER_SINK = SPEAKER_SINK
    MIC_SINK = MIC_SINK
    MIC_SOURCE = MIC_SOURCE

    def __init__(self, base: Path, rate: int = 16000) -> None:
        self.base = Path(base)
        self.rate = rate
        self.runtime = self.base / "run"
        self.socket = self.runtime / "native"
        self.log_path = self.base / "pulseaudio.log"
        self.proc: subprocess.Popen | None = None
        self._children: list[subprocess.Popen] = []
        self._log = None

    # ---------------------------------------------------------------- env

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients of this daemon (merge into os.environ or a child's env)."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_RUNTIME_PATH": str(self.runtime),
            "PULSE_STATE_PATH": str(self.base / "state"),
            "PULSE_CLIENTCONFIG": str(self.base / "client.conf"),
            "PULSE_COOKIE": str(self.base / "cookie"),
            "PULSE_SINK": SPEAKER_SINK,
            "PULSE_SOURCE": MIC_SOURCE,
        }

    def child_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(extra)
        return env

    def apply_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)

    # ---------------------------------------------------------------- life cycle

    def start(self, timeout: float = 10.0) -> PulseServer:
        self.runtime.mkdir(parents=True, exist_ok=True)
        (self.base / "state").mkdir(exist_ok=True)
        (self.base / "home").mkdir(exist_ok=True)
        (self.base / "client.conf").write_text("autospawn = no\nenable-shm = no\nenable-memfd = no\n")
        fmt = f"rate={self.rate} channels=1 format=s16le"
        loads = [
            f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
            f"module-null-sink sink_name={SPEAKER_SINK} {fmt} sink_properties=device.description=softclock-speaker",
            f"module-null-sink sink_name={MIC_SINK} {fmt} sink_properties=device.description=softclock-mic-feed",
        ]
        cmd = [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--system=false",
            "--disallow-exit",
            "--use-pid-file=false",
            "--log-target=stderr",
            "--log-level=notice",
            "-n",  # no default.pa: only what is loaded here (no suspend-on-idle, no hardware)
        ] + [f"--load={m}" for m in loads]
        env = self.child_env(
            HOME=str(self.base / "home"), XDG_RUNTIME_DIR=str(self.runtime), XDG_CONFIG_HOME=str(self.base / "home")
        )
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited ({self.proc.returncode}):\n{self.log()}")
            if self.socket.exists() and self._pactl("list", "short", "sinks", check=False).returncode == 0:
                sinks = self._pactl("list", "short", "sinks").stdout
                if SPEAKER_SINK in sinks and MIC_SINK in sinks:
                    break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"pulseaudio did not come up in {timeout} s:\n{self.log()}")
        self._warm_up(deadline)
        return self

    def add_sink(self, name: str, description: str = "", timeout: float = 10.0) -> str:
        """Load one more null sink -- a headset being plugged in -- with its monitor
        warmed like the others; returns the module index for :meth:`unload`."""
        module = self.pactl(
            "load-module",
            "module-null-sink",
            f"sink_name={name}",
            f"rate={self.rate}",
            "channels=1",
            "format=s16le",
            "sink_properties=\"device.description='" + (description or name) + "'\"",
        ).strip()
        self._warm_up(time.monotonic() + timeout, [name + ".monitor"])
        return module

    def unload(self, module: str) -> None:
        """Unload a module: for a sink, the headset being unplugged."""
        self.pactl("unload-module", module)

    def _warm_up(self, deadline: float, sources: list[str] | None = None) -> None:
        """Keep a low-latency reader on each monitor for the daemon's lifetime.

        Measured: the first stream on an idle null sink's monitor gets its first
        data only after ~1.3-2 s (the idle sink sleeps in 2 s blocks); once one
        low-latency reader is attached, new streams start within ~20 ms. Without
        this a call's first seconds would be missing from recordings. The
        keep-alive readers write to /dev/null (no thread here); a probe reader
        per monitor waits for the first data.
        """
        sources = sources or [SPEAKER_SINK + ".monitor", MIC_SOURCE]
        for source in sources:
            self._spawn(
                ["parec", "--raw", "--latency-msec=10", "-d", source],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        probes = [
            subprocess.Popen(
                ["parec", "--raw", "--latency-msec=10", "-d", source],
                env=self.child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            for source in sources
        ]
        try:
            for probe in probes:
                ready, _, _ = select.select([probe.stdout], [], [], max(0.1, deadline - time.monotonic()))
                if not ready or not probe.stdout.read1(64):
                    raise RuntimeError(f"no data from the null sinks' monitors:\n{self.log()}")
        except RuntimeError:
            self.stop()
            raise
        finally:
            for probe in probes:
                _stop(probe)
                probe.stdout.close()

    def stop(self) -> None:
        for child in reversed(self._children):
            _stop(child, signal.SIGINT)
        self._children.clear()
        if self.proc is not None:
            _stop(self.proc, signal.SIGTERM, timeout=5.0)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["pactl", *args], env=self.child_env(), capture_output=True, text=True, timeout=10, check=check
        )

    def pactl(self, *args: str) -> str:
        return self._pactl(*args).stdout

    # ---------------------------------------------------------------- sound in and out

    def _spawn(self, cmd: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env=self.child_env(), start_new_session=True, **kw)
        self._children.append(proc)
        return proc

    def record(self, source: str, path: Path, rate: int | None = None) -> Recording:
        """Record ``source`` (e.g. ``softclock_speaker.monitor``) into a mono 16-bit WAV."""
        rate = rate or self.rate
        proc = self._spawn(
            [
                "parec",
                "-d",
                source,
                "--file-format=wav",
                f"--rate={rate}",
                "--channels=1",
                "--format=s16le",
                "--latency-msec=20",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return Recording(proc, Path(path))

    def play_tone(
        self, sink: str, freq: float, amplitude: float = 0.3, rate: int | None = None, on_ms: int | None = None
    ) -> TonePlayer:
        """Play a sine into ``sink`` until ``.stop()`` (or teardown).

        ``on_ms``: a burst of that length at the start of every second, silence
        in between (for latency measurements); default: continuous. A shell
        loop ``cat``s a one-second, period-exact chunk into ``pacat --raw``
        (whose back-pressure paces it): no thread in the test process.
        """
        rate = rate or self.rate
        chunk = tone_chunk(freq, rate, amplitude)
        if on_ms is not None:
            keep = rate * on_ms // 1000 * 2
            chunk = chunk[:keep] + bytes(len(chunk) - keep)
        path = Path(tempfile.mkstemp(prefix=f"tone{int(freq)}_", suffix=".raw", dir=self.base)[1])
        path.write_bytes(chunk)
        pacat = (
            f"pacat --playback -d {shlex.quote(sink)} --raw --rate={rate} --channels=1 --format=s16le --latency-msec=20"
        )
        proc = self._spawn(
            ["sh", "-c", f'while cat "$0"; do :; done | {pacat}', str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return TonePlayer(self, proc)

    def stop_process(self, proc: subprocess.Popen) -> None:
        _stop(proc, signal.SIGINT)
        if proc in self._children:
            self._children.remove(proc)


# -------------------------------------------------------------------- WAV and signal helpers


def tone_chunk(freq: float, rate: int, amplitude: float = 0.3) -> bytes:
    """One second of a mono s16le sine (seamless when repeated for integer ``freq``)."""
    peak = int(32767 * amplitude)
    return struct.pack(f"<{rate}h", *(int(peak * math.sin(2 * math.pi * freq * i / rate)) for i in range(rate)))


def read_wav(path: Path):
    """(samples as float numpy array in [-1, 1], rate) of a mono 16-bit WAV."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        channels = w.getnchannels()
        data = w.readframes(w.getnframes())
    samples = np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def dominant_frequency(samples, rate: int) -> tuple[float, float]:
    """(frequency of the strongest FFT bin, interpolated; RMS level in dBFS) of ``samples``."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
    level = 20 * math.log10(rms) if rms > 0 else -200.0
    if len(x) < 16:
        return 0.0, level
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    # Quadratic interpolation of the peak over its neighbours: sub-bin accuracy.
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        k = k + (0.5 * (a - c) / denom if denom else 0.0)
    return float(k * rate / len(x)), level


def active_span(samples, rate: int, threshold_db: float = -40.0, window_s: float = 0.02):
    """The part of ``samples`` between the first and last 20 ms window louder than ``threshold_db``."""
    import numpy as np

    win = max(1, int(rate * window_s))
    n = len(samples) // win
    if n == 0:
        return samples[:0]
    frames = np.asarray(samples[: n * win]).reshape(n, win)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    loud = np.nonzero(rms > 10 ** (threshold_db / 20))[0]
    if len(loud) == 0:
        return samples[:0]
    return samples[loud[0] * win : (loud[-1] + 1) * win]


# -------------------------------------------------------------------- pytest fixture


@pytest.fixture
def pulse(tmp_path_factory):
    """A started private PulseAudio (see :class:`PulseServer`), stopped at teardown."""
    require_pulse()
    # A short path: the socket path must fit in sun_path (108 bytes).
    base = Path(tempfile.mkdtemp(prefix="sc-pulse-"))
    server = PulseServer(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
