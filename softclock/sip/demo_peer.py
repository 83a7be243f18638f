"""A scriptable SIP peer on loopback: the "demo line" for users without a PBX.

The desktop app starts it as a subprocess::

    python -m softclock.sip.demo_peer [--port 0] [--ring-ms 1500] ...

and talks to it directly over UDP on 127.0.0.1 (no registrar on either side).

Protocol
--------
stdout carries only protocol lines (pjsua2's own log output is sent to
stderr; at the file-descriptor level, so even pjlib's early start-up messages
cannot corrupt the protocol):

``READY sip:demo@127.0.0.1:PORT``
    Exactly once, when the peer listens.
``INCOMING <id> <remote-uri>``
    A call arrived; 180 Ringing has been sent, 200 OK follows after ``--ring-ms``.
``OUTGOING <id> <target-uri>``
    A ``call`` command started a call.
``CALL_STATE <id> <STATE> <status-code>``
    A call changed state. ``<id>`` is a peer-local call number (1, 2, ...,
    never reused), ``<STATE>`` is pjsip's name (CALLING, INCOMING, EARLY,
    CONNECTING, CONFIRMED, DISCONNECTED), ``<status-code>`` the last SIP status.
``ERROR <text>``
    A command could not be carried out.

stdin takes one command per line:

``call SIP_URI [DISPLAY NAME...]``
    Call ``SIP_URI`` as ``"DISPLAY NAME" <sip:+12025550143@127.0.0.1:PORT>``
    (display name defaults to "Demo Client"); the peer hangs up after
    ``--call-talk-s`` seconds of talk (0 = never).
``hangup``
    Hang up every call.
``quit``
    Hang up every call and exit.

End of file on stdin (the parent closed it or died), SIGTERM or SIGINT also
hang up every call and exit with status 0.

Threading: pjsua2 runs its own worker thread (``threadCnt=1``). Callbacks only
record events and wake the main thread (the one that called ``libCreate``);
the main thread reads stdin, runs timers and makes every pjsua2 call, deletes
wrappers, and shuts the library down.
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import heapq
import itertools
import os
import queue
import re
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Literal, TextIO

import pjsua2 as pj

HOST = "127.0.0.1"
DEMO_USER = "demo"
CALLER_ID_USER = "+12025550143"
DEFAULT_DISPLAY_NAME = "Demo Client"

# A short 440 Hz beep every two seconds, so the caller hears the line is live.
TONE_FREQ_HZ = 440
TONE_ON_MS = 200
TONE_OFF_MS = 1800

PJSIP_ESESSIONTERMINATED = 171140  # PJSIP_ERRNO_START_PJSIP + 140, not exported


def _err(msg: str) -> None:
    try:
        sys.stderr.write(f"demo_peer: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def quote_display_name(name: str) -> str:
    """Return ``name`` as a SIP quoted-string (RFC 3261 section 25.1)."""
    name = re.sub(r"[\r\n]+", " ", name).strip()
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# pjsua2 subclasses: callbacks never block and never call back into the peer's
# logic; they push an event and wake the main loop.
# --------------------------------------------------------------------------


class _PeerCall(pj.Call):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    def __init__(self, peer: DemoPeer, acc: pj.Account, tag: int, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        pj.Call.__init__(self, acc, call_id)
        self._peer = peer
        self.tag = tag

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            ci = self.getInfo()
            self._peer.post(("state", self.tag, ci.state, ci.stateText, ci.lastStatusCode))
        except Exception as exc:  # never let an exception escape into C++
            _err(f"onCallState: {exc!r}")

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self._peer.post(("media", self.tag))
        except Exception as exc:
            _err(f"onCallMediaState: {exc!r}")


class _PeerAccount(pj.Account):  # type: ignore[misc]  # pjsua2 is untyped (SWIG)
    def __init__(self, peer: DemoPeer) -> None:
        pj.Account.__init__(self)
        self._peer = peer

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        # A Call wrapper must be created here, or pjsua2 rejects the call.
        # Sending 180 is a non-blocking pjsua2 call, fine inside a callback.
        try:
            self._peer.on_incoming(self, prm.callId)
        except Exception as exc:
            _err(f"onIncomingCall: {exc!r}")


# What a callback posts to the main loop (see DemoPeer._handle_events).
_Event = (
    tuple[Literal["incoming"], int, str]  # tag, remote URI
    | tuple[Literal["state"], int, int, str, int]  # tag, state, state text, last status code
    | tuple[Literal["media"], int]  # tag
)


@dataclass
class _CallRecord:
    tag: int
    call: _PeerCall
    outgoing: bool
    state: int = pj.PJSIP_INV_STATE_NULL
    hangup_requested: bool = False
    tone: pj.ToneGenerator | None = None


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    fn: Callable[[], None] = field(compare=False)


class DemoPeer:
    def __init__(self, args: argparse.Namespace, proto: TextIO) -> None:
        self.args = args
        self._proto = proto
        self._events: collections.deque[_Event] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._tags = itertools.count(1)
        self._timer_seq = itertools.count()
        self._timers: list[_Timer] = []
        # tag -> record; written by onIncomingCall (worker thread) and the main thread.
        self._calls: dict[int, _CallRecord] = {}
        self._calls_lock = threading.Lock()  # never held while calling pjsua2
        self._stopping = False
        self._signalled = False
        self._stdin_buf = b""
        self._stdin_open = True
        self._stdin_queue: queue.Queue[bytes | None] | None = None  # Windows fallback only
        self.ep: pj.Endpoint | None = None
        self.acc: _PeerAccount | None = None
        self._caller_accounts: dict[str, _PeerAccount] = {}
        self.port = 0

    # ---- thread-safe entry points (callbacks, signal handler) -------------

    def post(self, event: _Event) -> None:
        self._events.append(event)  # deque.append is atomic
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # buffer full: the loop is awake anyway
            pass

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True
        self._wake()

    def on_incoming(self, acc: pj.Account, call_id: int) -> None:
        """Runs inside onIncomingCall (pjsua2 worker thread)."""
        tag = next(self._tags)
        call = _PeerCall(self, acc, tag, call_id)
        with self._calls_lock:
            self._calls[tag] = _CallRecord(tag, call, outgoing=False)
        remote = ""
        try:
            remote = call.getInfo().remoteUri
        except pj.Error:
            pass
        prm = pj.CallOpParam()
        prm.statusCode = 503 if self._stopping else 180
        try:
            call.answer(prm)
        except pj.Error as exc:
            _err(f"answer {prm.statusCode}: {exc.info()}")
        self.post(("incoming", tag, remote))

    # ---- set-up -------------------------------------------------------------

    def start(self) -> None:
        args = self.args
        ep = pj.Endpoint()
        ep.libCreate()
        self.ep = ep
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 1
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = 32
        cfg.uaConfig.userAgent = "softclock-demo-peer"
        cfg.logConfig.level = args.log_level
        cfg.logConfig.consoleLevel = args.log_level  # fd 1 is stderr by now
        ep.libInit(cfg)

        tcfg = pj.TransportConfig()
        tcfg.port = args.port
        tcfg.boundAddress = HOST
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.port = int(ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        ep.libStart()
        ep.audDevManager().setNullDev()

        self.acc = self._make_account(f"sip:{DEMO_USER}@{HOST}:{self.port}")
        self.acc.setDefault()

    def _make_account(self, id_uri: str) -> _PeerAccount:
        acfg = pj.AccountConfig()
        acfg.idUri = id_uri
        acfg.regConfig.registrarUri = ""
        acfg.mediaConfig.transportConfig.boundAddress = HOST
        acc = _PeerAccount(self)
        acc.create(acfg)
        return acc

    def _caller_account(self, display_name: str) -> _PeerAccount:
        # pjsua takes From from the account, so each caller-ID display name
        # gets its own (registrar-less) account.
        acc = self._caller_accounts.get(display_name)
        if acc is None:
            acc = self._make_account(f"{quote_display_name(display_name)} <sip:{CALLER_ID_USER}@{HOST}:{self.port}>")
            self._caller_accounts[display_name] = acc
        return acc

    # ---- protocol output (main thread only) -------------------------------

    def emit(self, line: str) -> None:
        try:
            self._proto.write(line + "\n")
            self._proto.flush()
        except (OSError, ValueError):
            # Nobody reads our stdout any more: the parent is gone.
            if not self._stopping:
                _err("stdout closed, shutting down")
                self._begin_stop()

    # ---- timers -----------------------------------------------------------

    def _schedule(self, delay_s: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, _Timer(time.monotonic() + delay_s, next(self._timer_seq), fn))

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0].due <= now:
            heapq.heappop(self._timers).fn()

    def _next_timeout(self) -> float | None:
        if not self._timers:
            return None
        return max(0.0, self._timers[0].due - time.monotonic())

    # ---- call control (main thread only) ----------------------------------

    def _record(self, tag: int) -> _CallRecord | None:
        with self._calls_lock:
            return self._calls.get(tag)

    def _answer(self, tag: int) -> None:
        rec = self._record(tag)
        if rec is None or rec.hangup_requested or self._stopping:
            return
        if rec.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            return
        prm = pj.CallOpParam()
        prm.statusCode = 200
        try:
            rec.call.answer(prm)
        except pj.Error as exc:  # e.g. the caller cancelled just now
            _err(f"answer 200 on call {tag}: {exc.info()}")

    def _hangup(self, tag: int) -> None:
        rec = self._record(tag)
        if rec is None or rec.hangup_requested:
            return
        if rec.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            return
        rec.hangup_requested = True
        prm = pj.CallOpParam()
        try:
            # pjsua's default code for a UAS call that is answered but not yet
            # CONFIRMED (ACK in flight) is 603, which would then show up as
            # "DISCONNECTED 603" for an answered call. An answered call ends
            # with 200; the main thread does all answering, so this is exact
            # for incoming calls.
            ci = rec.call.getInfo()
            if ci.state >= pj.PJSIP_INV_STATE_CONNECTING:
                prm.statusCode = 200
        except pj.Error:
            pass
        try:
            rec.call.hangup(prm)
        except pj.Error as exc:
            # The far end hung up at the same moment: DISCONNECTED is queued.
            if exc.status != PJSIP_ESESSIONTERMINATED:
                _err(f"hangup call {tag}: {exc.info()}")

    def _hangup_all(self) -> None:
        with self._calls_lock:
            tags = list(self._calls)
        for tag in tags:
            self._hangup(tag)

    def _start_call(self, uri: str, display_name: str) -> None:
        if self._stopping:
            self.emit("ERROR call: shutting down")
            return
        try:
            acc = self._caller_account(display_name)
        except pj.Error as exc:
            self.emit(f"ERROR call: bad display name: {exc.info().splitlines()[0]}")
            return
        tag = next(self._tags)
        call = _PeerCall(self, acc, tag)
        with self._calls_lock:
            self._calls[tag] = _CallRecord(tag, call, outgoing=True)
        prm = pj.CallOpParam(True)
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            with self._calls_lock:
                self._calls.pop(tag, None)
            del call
            self.emit(f"ERROR call {uri}: {exc.reason or exc.info()}")
            return
        # State events queued meanwhile are printed later by the main loop,
        # so OUTGOING always comes before the call's CALL_STATE lines.
        self.emit(f"OUTGOING {tag} {uri}")
        if self.args.max_call_s > 0:
            self._schedule(self.args.max_call_s, lambda: self._hangup(tag))

    def _start_tone(self, rec: _CallRecord) -> None:
        if not self.args.tone or rec.tone is not None or rec.hangup_requested:
            return
        try:
            ci = rec.call.getInfo()
            if not any(m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE for m in ci.media):
                return
            aud = rec.call.getAudioMedia(-1)
            tone = pj.ToneGenerator()
            tone.createToneGenerator()
            td = pj.ToneDesc()
            td.freq1 = TONE_FREQ_HZ
            td.freq2 = 0
            td.on_msec = TONE_ON_MS
            td.off_msec = TONE_OFF_MS
            td.volume = 0
            tones = pj.ToneDescVector()
            tones.append(td)
            tone.play(tones, True)
            tone.startTransmit(aud)
            rec.tone = tone
        except pj.Error as exc:
            _err(f"tone on call {rec.tag}: {exc.info()}")

    @staticmethod
    def _stop_tone(rec: _CallRecord) -> None:
        tone, rec.tone = rec.tone, None
        if tone is not None:
            try:
                tone.stop()
            except pj.Error:
                pass
            del tone

    # ---- event handling (main thread) ---------------------------------------

    def _handle_events(self) -> None:
        while True:
            try:
                ev = self._events.popleft()
            except IndexError:
                return
            match ev:
                case ("incoming", tag, remote):
                    self.emit(f"INCOMING {tag} {remote}")
                    if not self._stopping:
                        self._schedule(self.args.ring_ms / 1000.0, functools.partial(self._answer, tag))
                        if self.args.max_call_s > 0:
                            self._schedule(self.args.max_call_s, functools.partial(self._hangup, tag))
                case ("state", tag, state, text, code):
                    self.emit(f"CALL_STATE {tag} {text} {code}")
                    rec = self._record(tag)
                    if rec is None:
                        continue
                    rec.state = state
                    if state == pj.PJSIP_INV_STATE_CONFIRMED:
                        if rec.outgoing and self.args.call_talk_s > 0:
                            self._schedule(self.args.call_talk_s, functools.partial(self._hangup, tag))
                    elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
                        # The wrapper was kept alive until here; drop it now, outside
                        # of any callback.
                        self._stop_tone(rec)
                        with self._calls_lock:
                            self._calls.pop(tag, None)
                        del rec
                case ("media", tag):
                    rec = self._record(tag)
                    if rec is not None and rec.state != pj.PJSIP_INV_STATE_DISCONNECTED:
                        self._start_tone(rec)

    def _handle_command(self, line: str) -> None:
        parts = line.strip().split()
        if not parts:
            return
        cmd = parts[0].lower()
        if cmd == "call":
            if len(parts) < 2:
                self.emit("ERROR call: usage: call SIP_URI [DISPLAY NAME...]")
                return
            name = " ".join(parts[2:]) or DEFAULT_DISPLAY_NAME
            self._start_call(parts[1], name)
        elif cmd == "hangup":
            self._hangup_all()
        elif cmd == "quit":
            self._begin_stop()
        else:
            self.emit(f"ERROR unknown command: {cmd}")

    # ---- stdin --------------------------------------------------------------

    def _stdin_fd(self) -> int | None:
        if not self._stdin_open or self._stdin_queue is not None:
            return None
        return self._stdin_raw_fd

    def _read_stdin(self) -> None:
        try:
            chunk = os.read(self._stdin_raw_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._stdin_eof()
            return
        self._stdin_buf += chunk
        while b"\n" in self._stdin_buf:
            raw, self._stdin_buf = self._stdin_buf.split(b"\n", 1)
            self._handle_command(raw.decode("utf-8", "replace"))

    def _stdin_eof(self) -> None:
        self._stdin_open = False
        if self._stdin_buf.strip():
            self._handle_command(self._stdin_buf.decode("utf-8", "replace"))
        self._stdin_buf = b""
        self._begin_stop()

    def _start_stdin_thread(self) -> None:
        # select() on a pipe does not work on Windows: a helper thread reads
        # lines (it never touches pjsua2) and the main thread executes them.
        q: queue.Queue[bytes | None] = queue.Queue()
        self._stdin_queue = q

        def reader() -> None:
            try:
                for raw in sys.stdin.buffer:
                    q.put(raw)
                    self._wake()
            except (OSError, ValueError):
                pass
            q.put(None)
            self._wake()

        threading.Thread(target=reader, name="demo-peer-stdin", daemon=True).start()

    def _drain_stdin_queue(self) -> None:
        assert self._stdin_queue is not None
        while self._stdin_open:
            try:
                raw = self._stdin_queue.get_nowait()
            except queue.Empty:
                return
            if raw is None:
                self._stdin_eof()
                return
            self._stdin_buf = raw
            self._read_buffered_line()

    def _read_buffered_line(self) -> None:
        raw, self._stdin_buf = self._stdin_buf, b""
        self._handle_command(raw.decode("utf-8", "replace"))

    # ---- main loop ------------------------------------------------------------

    def _begin_stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._hangup_all()

    def _calls_left(self) -> int:
        with self._calls_lock:
            return len(self._calls)

    def run(self) -> int:
        try:
            self._stdin_raw_fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            self._stdin_raw_fd = -1
            self._stdin_open = False
        if self._stdin_open and os.name == "nt":
            self._start_stdin_thread()

        self.emit(f"READY sip:{DEMO_USER}@{HOST}:{self.port}")

        stop_deadline: float | None = None
        while True:
            if self._signalled:
                self._signalled = False
                self._begin_stop()
            if self._stopping:
                if stop_deadline is None:
                    stop_deadline = time.monotonic() + self.args.shutdown_timeout_s
                if self._calls_left() == 0:
                    break
                if time.monotonic() >= stop_deadline:
                    _err(f"{self._calls_left()} call(s) not disconnected, destroying anyway")
                    break

            timeout = self._next_timeout()
            if stop_deadline is not None:
                left = max(0.0, stop_deadline - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            fds: list[socket.socket | int] = [self._wake_r]
            stdin_fd = self._stdin_fd()
            if stdin_fd is not None:
                fds.append(stdin_fd)
            readable, _, _ = select.select(fds, [], [], timeout)
            if self._wake_r in readable:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
            if stdin_fd is not None and stdin_fd in readable:
                self._read_stdin()
            if self._stdin_queue is not None:
                self._drain_stdin_queue()
            self._handle_events()
            self._run_due_timers()
        return 0

    def shutdown(self) -> None:
        """Tear everything down; every wrapper is gone before libDestroy()."""
        self._timers.clear()
        with self._calls_lock:
            recs = list(self._calls.values())
            self._calls.clear()
        for rec in recs:
            self._stop_tone(rec)
        # Deleting a still-active Call wrapper hangs the call up (pjsua2's
        # Call destructor); only reached when the shutdown timeout expired.
        del recs
        self._events.clear()
        accounts = list(self._caller_accounts.values())
        self._caller_accounts.clear()
        if self.acc is not None:
            accounts.append(self.acc)
            self.acc = None
        for acc in accounts:
            try:
                acc.shutdown()
            except pj.Error:
                pass
        del accounts
        gc.collect()
        if self.ep is not None:
            try:
                self.ep.libDestroy()
            except pj.Error as exc:
                _err(f"libDestroy: {exc.info()}")
            self.ep = None
        self._wake_r.close()
        self._wake_w.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m softclock.sip.demo_peer",
        description="Loopback SIP peer for the softclock demo line.",
    )
    p.add_argument("--port", type=int, default=0, help="UDP port on 127.0.0.1 (0 = ephemeral)")
    p.add_argument(
        "--ring-ms",
        "--answer-after-ms",
        dest="ring_ms",
        type=int,
        default=1500,
        help="ring this long (180 Ringing) before answering incoming calls with 200 OK",
    )
    p.add_argument("--max-call-s", type=float, default=3600.0, help="hang up calls older than this (0 = never)")
    p.add_argument(
        "--call-talk-s",
        type=float,
        default=0.0,
        help="hang up calls made by the 'call' command after this much talk time (0 = never)",
    )
    p.add_argument(
        "--tone",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="play a short 440 Hz beep every 2 s into connected calls",
    )
    p.add_argument("--log-level", type=int, default=0, help="pjsua2 log level, written to stderr")
    p.add_argument(
        "--shutdown-timeout-s",
        type=float,
        default=5.0,
        help="how long to wait for calls to disconnect when exiting",
    )
    args = p.parse_args(argv)
    if args.ring_ms < 0:
        p.error("--ring-ms must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # stdout is the protocol: keep a private handle on it and point fd 1 at
    # stderr, so nothing pjlib prints (even before libInit applies the log
    # config) can end up in the protocol stream.
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    proto = os.fdopen(proto_fd, "w", encoding="utf-8", newline="\n")

    peer = DemoPeer(args, proto)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, peer._on_signal)
    signal.set_wakeup_fd(peer._wake_w.fileno(), warn_on_full_buffer=False)

    code = 1
    try:
        peer.start()
        code = peer.run()
    except pj.Error as exc:
        _err(f"pjsua2 error: {exc.info()}")
        code = 1
    finally:
        signal.set_wakeup_fd(-1)
        peer.shutdown()
        try:
            proto.close()
        except OSError:
            pass
    return code


if __name__ == "__main__":
    sys.exit(main())
