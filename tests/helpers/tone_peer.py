"""A far end for sound tests: answers one direct call, plays a tone, records what it hears.

Run as a subprocess (one pjsua2 Endpoint per process)::

    python -m tests.helpers.tone_peer --port 0 --freq 440 --record /tmp/heard.wav

:class:`LocalCaller` is the other side, for the test process itself: an Endpoint
configured like softclock's engine (``threadCnt=0``, media on the SIP ioqueue,
an event thread polling ``libHandleEvents``, pjsua2 calls on the creating
thread, the sound device closed until media is up). :func:`start_peer` runs
this module as a subprocess and returns ``(process, port)``.

The peer listens on UDP 127.0.0.1 (``--port 0``: any free port), prints ``READY <port>``
on stdout, answers the first INVITE (any user: call ``sip:peer@127.0.0.1:<port>``)
with 200, and once media is up plays a ``--freq`` Hz tone to the caller
(``pj.ToneGenerator``; continuous, or ``--burst ON_MS,OFF_MS``) while recording
the caller's audio with ``pj.AudioMediaRecorder`` to ``--record`` (16-bit mono
WAV at the bridge's rate). It prints ``MEDIA`` when media starts and ``DONE``
after the call ended and the WAV is complete, then exits. It also exits (hanging
up) when its stdin closes or after ``--max-seconds``.

The conference bridge runs on pjsua's null sound device (the wheel has no other).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pjsua2 as pj

from tests.helpers.pjbare import endpoint_config, loopback_transport_config

_REPO = str(Path(__file__).resolve().parents[2])


class _Writer(pj.LogWriter):
    def write(self, entry: pj.LogEntry) -> None:
        sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")


class _Call(pj.Call):
    def __init__(self, peer: Peer, acc: pj.Account, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.peer = peer

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.peer.ended.set()
            self.peer.wake.set()

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.peer.media_active(self.getAudioMedia(i))


class _Account(pj.Account):
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        if self.peer.call is not None:
            call = _Call(self.peer, self, prm.callId)
            op = pj.CallOpParam()
            op.statusCode = 486
            call.hangup(op)
            return
        call = _Call(self.peer, self, prm.callId)
        self.peer.call = call
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.call: _Call | None = None
        self.ended = threading.Event()
        self.wake = threading.Event()  # the call ended or stdin closed
        self.tone: pj.ToneGenerator | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self._media_started = False

    def media_active(self, audio: pj.AudioMedia) -> None:
        if self._media_started:
            return
        self._media_started = True
        rate = int(pj.AudioMedia.getPortInfoFromId(0).format.clockRate) or 16000
        tone = pj.ToneGenerator()
        tone.createToneGenerator(rate, 1)
        desc = pj.ToneDesc()
        desc.freq1 = int(self.args.freq)
        desc.freq2 = 0
        if self.args.burst:
            on, off = (int(x) for x in self.args.burst.split(","))
        else:
            on, off = 10000, 0
        desc.on_msec = on
        desc.off_msec = off
        desc.volume = 0  # pjmedia's default amplitude
        tones = pj.ToneDescVector()
        tones.append(desc)
        tone.play(tones, True)
        tone.startTransmit(audio)
        self.tone = tone
        if self.args.record:
            rec = pj.AudioMediaRecorder()
            rec.createRecorder(self.args.record)
            audio.startTransmit(rec)
            self.recorder = rec
        print(f"MEDIA {time.monotonic():.6f}", flush=True)


def _watch_stdin(wake: threading.Event) -> None:
    try:
        while sys.stdin.buffer.read1(4096):
            pass
    except (OSError, ValueError):
        pass
    wake.set()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--freq", type=float, default=440.0)
    ap.add_argument("--burst", default="", help="ON_MS,OFF_MS (default: continuous)")
    ap.add_argument("--record", default="")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--log-level", type=int, default=2)
    args = ap.parse_args(argv)

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = endpoint_config(log_level=args.log_level)
    writer = _Writer()
    cfg.logConfig.writer = writer
    cfg.logConfig.consoleLevel = args.log_level
    ep.libInit(cfg)
    tcfg = loopback_transport_config()
    tcfg.port = args.port
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
    ep.libStart()
    ep.audDevManager().setNullDev()

    peer = Peer(args)
    acc = _Account(peer)
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:peer@127.0.0.1:{port}"
    acfg.regConfig.registerOnAdd = False
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acc.create(acfg, True)

    threading.Thread(target=_watch_stdin, args=(peer.wake,), daemon=True).start()
    print(f"READY {port}", flush=True)

    peer.wake.wait(args.max_seconds)  # the call ended, stdin closed, or time is up

    # The recorder finishes its WAV when deleted (complete ~0.3 s later).
    if peer.recorder is not None:
        peer.recorder = None
        gc.collect()
    if peer.tone is not None:
        peer.tone = None
        gc.collect()
    if not peer.ended.is_set():
        ep.hangupAllCalls()
        peer.ended.wait(3.0)
    time.sleep(0.4)
    peer.call = None
    acc.shutdown()
    del acc
    gc.collect()
    ep.libDestroy()
    print("DONE", flush=True)
    return 0


# ---------------------------------------------------------------------- the caller side


class _CallerCall(pj.Call):
    def __init__(self, caller: LocalCaller, acc: pj.Account) -> None:
        super().__init__(acc)
        self.caller = caller
        self.audio_index: int | None = None
        self.media = threading.Event()
        self.ended = threading.Event()

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended.set()

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()  # keep it alive: info.media's items point into it
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.audio_index = i
                self.media.set()


class LocalCaller:
    """This process's Endpoint, set up like ``softclock.sip.engine`` (see module doc).

    Every method runs on the thread that called :meth:`start` (it plays the
    engine's command thread); callbacks run on the event thread.
    """

    def __init__(self, log_level: int = 2) -> None:
        self.log_level = log_level
        self.ep: pj.Endpoint | None = None
        self.acc: pj.Account | None = None
        self.call: _CallerCall | None = None
        self._writer: _Writer | None = None
        self._running = threading.Event()
        self._events: threading.Thread | None = None

    def start(self) -> LocalCaller:
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = endpoint_config(threads=0, log_level=self.log_level)
        self._writer = _Writer()
        cfg.logConfig.writer = self._writer
        cfg.logConfig.consoleLevel = self.log_level
        cfg.medConfig.hasIoqueue = False
        cfg.medConfig.threadCnt = 0
        ep.libInit(cfg)
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, loopback_transport_config())
        ep.libStart()
        ep.audDevManager().setNoDev()
        self.ep = ep
        acc = pj.Account()
        acfg = pj.AccountConfig()
        acfg.idUri = "sip:tester@127.0.0.1"
        acfg.regConfig.registerOnAdd = False
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acc.create(acfg, True)
        self.acc = acc
        self._running.set()
        self._events = threading.Thread(target=self._event_loop, name="caller-events", daemon=True)
        self._events.start()
        return self

    def _event_loop(self) -> None:
        assert self.ep is not None
        self.ep.libRegisterThread("caller-events")
        while self._running.is_set():
            self.ep.libHandleEvents(50)

    def make_call(self, uri: str) -> _CallerCall:
        assert self.acc is not None
        call = _CallerCall(self, self.acc)
        call.makeCall(uri, pj.CallOpParam(True))
        self.call = call
        return call

    def wait_audio(self, timeout: float = 5.0) -> pj.AudioMedia:
        """The call's audio media once active (call on the starting thread)."""
        # No local reference to the call: a traceback must not keep the
        # wrapper alive past libDestroy() (its destructor would then abort).
        if self.call is None or not self.call.media.wait(timeout):
            raise TimeoutError("call media did not become active")
        return self.call.getAudioMedia(self.call.audio_index)

    def talk_through_bridge(
        self, port: int, seconds: float, playback_device: str | None = None, capture_device: str | None = None
    ) -> dict:
        """Call the tone peer on ``port`` with softclock's SoundBridge on the given
        devices (None: PULSE_SINK / PULSE_SOURCE), talk for ``seconds``, hang up;
        returns the bridge's stats from just before it closed."""
        from softclock.sip.audio import SoundBridge

        bridge = None
        try:
            self.make_call(f"sip:peer@127.0.0.1:{port}")
            audio = self.wait_audio(5.0)
            mgr = self.ep.audDevManager()
            mgr.setNullDev()  # the bridge's master clock, as the engine does when media is up
            bridge = SoundBridge(self.ep, playback_device=playback_device, capture_device=capture_device)
            bridge.open()
            bridge.connect(audio)
            time.sleep(seconds)  # the conversation: what was heard is measured afterwards
            stats = bridge.stats()
            bridge.close()  # before setNoDev() and libDestroy()
            del audio
            mgr.setNoDev()
            self.hangup()
            self.call = None
            return stats
        finally:
            if bridge is not None:
                bridge.close()
            bridge = None
            gc.collect()

    def hangup(self, timeout: float = 5.0) -> None:
        call = self.call
        if call is None:
            return
        if not call.ended.is_set():
            try:
                call.hangup(pj.CallOpParam(True))
            except pj.Error:
                pass
            call.ended.wait(timeout)

    def stop(self) -> None:
        ep = self.ep
        if ep is None:
            return
        try:
            self.hangup()
        finally:
            self.call = None
            if self.acc is not None:
                try:
                    self.acc.shutdown()
                except pj.Error:
                    pass
            self.acc = None
            time.sleep(0.1)
            self._running.clear()
            if self._events is not None:
                self._events.join(3.0)
            gc.collect()
            ep.libDestroy()
            self.ep = None


def start_peer(*args: str, python: str = sys.executable, timeout: float = 10.0) -> tuple[subprocess.Popen, int]:
    """Run the peer (``args`` as on its command line); returns (process, SIP port)."""
    err_file = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [python, "-m", "tests.helpers.tone_peer", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err_file,
        text=True,
        cwd=_REPO,
    )
    proc.err_file = err_file  # type: ignore[attr-defined]
    line = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY ") or not line:
            break
    if not line.startswith("READY "):
        proc.kill()
        proc.communicate(timeout=5)
        raise RuntimeError(f"tone peer did not start: {line!r}\n{peer_log(proc)[-2000:]}")
    return proc, int(line.split()[1])


def peer_log(proc: subprocess.Popen) -> str:
    err_file = getattr(proc, "err_file", None)
    if err_file is None:
        return ""
    err_file.seek(0)
    return err_file.read()


def finish_peer(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """Wait for the peer to exit (closing its stdin); returns its stdout."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    return proc.stdout.read()


if __name__ == "__main__":
    sys.exit(main())
