"""End-to-end tests of the demo-line peer (softclock.sip.demo_peer).

The peer runs as a subprocess, exactly as the desktop app starts it; the test
process plays the app with a bare pjsua2 client (its own worker thread, events
pushed into a queue.Queue and waited on with timeouts). Everything is UDP on
127.0.0.1 without a registrar.

Call wrappers live only inside ``SipClient``; tests hold integer handles, so a
failing test's traceback cannot keep a pjsua2 wrapper alive until libDestroy().
"""

from __future__ import annotations

import gc
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pjsua2 as pj
import psutil
import pytest

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
STEP_TIMEOUT = 10.0


# ---------------------------------------------------------------------------
# A bare pjsua2 client playing the desktop app
# ---------------------------------------------------------------------------


class _ClientCall(pj.Call):
    def __init__(self, client: SipClient, acc, handle: int, call_id=pj.PJSUA_INVALID_ID):
        pj.Call.__init__(self, acc, call_id)
        self._client = client
        self.handle = handle

    def onCallState(self, prm):
        try:
            ci = self.getInfo()
            self._client.events.put(("state", self.handle, ci.stateText, ci.lastStatusCode, time.monotonic()))
        except Exception as exc:  # never let an exception escape into C++
            self._client.events.put(("error", self.handle, repr(exc), 0, time.monotonic()))


class _ClientAccount(pj.Account):
    def __init__(self, client: SipClient):
        pj.Account.__init__(self)
        self._client = client

    def onIncomingCall(self, prm):
        try:
            handle = self._client._new_handle()
            call = _ClientCall(self._client, self, handle, prm.callId)
            self._client._calls[handle] = call
            ci = call.getInfo()
            self._client.events.put(("incoming", handle, ci.remoteUri, ci.remoteContact, time.monotonic()))
        except Exception as exc:
            self._client.events.put(("error", -1, repr(exc), 0, time.monotonic()))


class SipClient:
    def __init__(self):
        self.events: queue.Queue = queue.Queue()
        self._calls: dict[int, _ClientCall] = {}
        self._next = 0
        self._lock = threading.Lock()
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 1
        cfg.uaConfig.mainThreadOnly = False
        cfg.logConfig.level = 0
        cfg.logConfig.consoleLevel = 0
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = 0
        tcfg.boundAddress = HOST
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.port = int(self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:you@{HOST}:{self.port}"
        acfg.mediaConfig.transportConfig.boundAddress = HOST
        self.acc = _ClientAccount(self)
        self.acc.create(acfg)

    @property
    def uri(self) -> str:
        return f"sip:you@{HOST}:{self.port}"

    def _new_handle(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    # -- call control (test thread; registered with pjlib, it called libCreate)

    def make_call(self, uri: str) -> int:
        handle = self._new_handle()
        call = _ClientCall(self, self.acc, handle)
        self._calls[handle] = call
        call.makeCall(uri, pj.CallOpParam(True))
        return handle

    def answer(self, handle: int, code: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code
        self._calls[handle].answer(prm)

    def hangup(self, handle: int) -> None:
        self._calls[handle].hangup(pj.CallOpParam())

    def forget(self, handle: int) -> None:
        self._calls.pop(handle, None)

    def remote_uri(self, handle: int) -> str:
        return self._calls[handle].getInfo().remoteUri

    # -- events

    def wait(self, kind: str, handle: int | None = None, state: str | None = None, timeout: float = STEP_TIMEOUT):
        """Return the first matching event; earlier non-matching ones are dropped."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            try:
                ev = self.events.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(
                    f"no {kind} {state or ''} event for call {handle} within {timeout} s; saw {seen}"
                ) from None
            seen.append(ev)
            if ev[0] == "error":
                raise AssertionError(f"client callback failed: {ev}")
            if ev[0] != kind or (handle is not None and ev[1] != handle):
                continue
            if state is not None and ev[2] != state:
                continue
            if ev[0] == "state" and ev[2] == "DISCONNECTED":
                self.forget(ev[1])
            return ev

    def clear_calls(self) -> None:
        """Hang up what is left (after a failed test) and drop every wrapper."""
        for handle in list(self._calls):
            try:
                self.hangup(handle)
            except pj.Error:
                pass
        deadline = time.monotonic() + STEP_TIMEOUT
        while self._calls and time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if ev[0] == "state" and ev[2] == "DISCONNECTED":
                self.forget(ev[1])
        self._calls.clear()
        while True:
            try:
                self.events.get_nowait()
            except queue.Empty:
                break
        gc.collect()

    def close(self) -> None:
        self.clear_calls()
        self.acc.shutdown()
        del self.acc
        gc.collect()
        self.ep.libDestroy()
        del self.ep


# ---------------------------------------------------------------------------
# The peer subprocess
# ---------------------------------------------------------------------------


class PeerProcess:
    READY_RE = re.compile(r"^READY (sip:demo@127\.0\.0\.1:(\d+))$")

    def __init__(self, args: list[str], stderr_path: Path):
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "softclock.sip.demo_peer", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.lines: queue.Queue = queue.Queue()
        self.transcript: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.uri = ""
        self.port = 0

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # EOF

    def next_line(self, timeout: float = STEP_TIMEOUT) -> str | None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"peer printed nothing within {timeout} s; so far {self.transcript}; stderr tail: {self.stderr_tail()}"
            ) from None
        if line is not None:
            self.transcript.append(line)
        return line

    def expect(self, pattern: str, timeout: float = STEP_TIMEOUT) -> re.Match:
        """Wait for a stdout line matching ``pattern`` (full match)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            line = self.next_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"peer stdout closed before {pattern!r}; saw {self.transcript}")
            m = rx.fullmatch(line)
            if m:
                return m

    def wait_ready(self) -> str:
        line = self.next_line()
        m = self.READY_RE.match(line or "")
        assert m, f"first stdout line must be READY, got {line!r}; stderr: {self.stderr_tail()}"
        self.uri, self.port = m.group(1), int(m.group(2))
        return self.uri

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stderr_tail(self, n: int = 2000) -> str:
        try:
            self._stderr.flush()
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Fixture teardown: ask nicely (EOF), then SIGTERM, then SIGKILL."""
        self.close_stdin()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sip_client():
    client = SipClient()
    yield client
    client.close()
    del client
    gc.collect()


@pytest.fixture
def start_peer(tmp_path):
    peers: list[PeerProcess] = []

    def start(*args: str) -> PeerProcess:
        peer = PeerProcess(list(args), tmp_path / f"peer{len(peers)}.stderr")
        peers.append(peer)
        peer.wait_ready()
        return peer

    yield start
    for peer in peers:
        peer.stop()


@pytest.fixture
def client(start_peer, sip_client):
    # Depends on start_peer so that it is torn down first: leftover client
    # calls are hung up while the peer is still there to answer the BYE.
    yield sip_client
    sip_client.clear_calls()


def _exit_code_within(peer: PeerProcess, timeout: float) -> int:
    try:
        return peer.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"peer still running {timeout} s later; stdout {peer.transcript}; stderr: {peer.stderr_tail()}"
        ) from None


def _assert_gone(peer: PeerProcess) -> None:
    assert not psutil.pid_exists(peer.proc.pid) or (psutil.Process(peer.proc.pid).status() == psutil.STATUS_ZOMBIE), (
        "peer process is still around"
    )
    assert peer.proc.pid not in {c.pid for c in psutil.Process().children(recursive=True)}


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------


def test_ready_line_and_inbound_call_rings_then_answers(start_peer, client):
    ring_ms = 800
    peer = start_peer("--ring-ms", str(ring_ms))
    assert peer.uri == f"sip:demo@127.0.0.1:{peer.port}"

    h = client.make_call(peer.uri)
    early = client.wait("state", h, "EARLY")
    assert early[3] == 180
    confirmed = client.wait("state", h, "CONFIRMED")
    assert confirmed[3] == 200
    rang = confirmed[4] - early[4]
    assert ring_ms / 1000 - 0.05 <= rang <= ring_ms / 1000 + 1.0, f"rang {rang:.3f} s"

    m = peer.expect(r"INCOMING (\d+) (.*)")
    tag = m.group(1)
    # pjsip prints From/To URIs without the port (see test below)
    assert "sip:you@127.0.0.1" in m.group(2)
    peer.expect(rf"CALL_STATE {tag} CONFIRMED 200")

    client.hangup(h)
    client.wait("state", h, "DISCONNECTED")
    peer.expect(rf"CALL_STATE {tag} DISCONNECTED 200")
    assert peer.proc.poll() is None, "the peer must keep running after a call"


def test_call_command_rings_client_with_phone_number_caller_id(start_peer, client):
    peer = start_peer("--ring-ms", "300")
    peer.send(f"call {client.uri}")
    tag = peer.expect(rf"OUTGOING (\d+) {re.escape(client.uri)}").group(1)

    h, remote, contact = client.wait("incoming")[1:4]
    # pjsip never prints a port in From/To URIs, so the caller ID is
    # "Demo Client" <sip:+12025550143@127.0.0.1>; the port is in Contact.
    m = re.fullmatch(r'"([^"]*)" <sip:([^@]+)@127\.0\.0\.1(?::(\d+))?>', remote)
    assert m, remote
    assert m.group(1) == "Demo Client"
    assert m.group(2) == "+12025550143"
    assert m.group(3) in (None, str(peer.port))
    assert f"sip:+12025550143@127.0.0.1:{peer.port}" in contact, contact

    client.answer(h, 180)
    peer.expect(rf"CALL_STATE {tag} EARLY 180")
    client.answer(h, 200)
    client.wait("state", h, "CONFIRMED")
    peer.expect(rf"CALL_STATE {tag} CONFIRMED 200")

    client.hangup(h)
    client.wait("state", h, "DISCONNECTED")
    peer.expect(rf"CALL_STATE {tag} DISCONNECTED 200")


def test_call_command_with_display_name_hangs_up_after_talk_time(start_peer, client):
    peer = start_peer("--call-talk-s", "1")
    peer.send(f"call {client.uri} Front Desk")
    tag = peer.expect(r"OUTGOING (\d+) .*").group(1)
    h, remote = client.wait("incoming")[1:3]
    assert remote == '"Front Desk" <sip:+12025550143@127.0.0.1>'

    client.answer(h, 200)
    confirmed = client.wait("state", h, "CONFIRMED")
    bye = client.wait("state", h, "DISCONNECTED")  # the peer hangs up by itself
    assert 0.9 <= bye[4] - confirmed[4] <= 3.0
    peer.expect(rf"CALL_STATE {tag} DISCONNECTED 200")


def test_hangup_command_ends_calls_and_errors_are_reported(start_peer, client):
    peer = start_peer("--ring-ms", "0")
    peer.send("frobnicate")
    peer.expect(r"ERROR unknown command: frobnicate")
    peer.send("call")
    peer.expect(r"ERROR call: usage: .*")

    h = client.make_call(peer.uri)
    client.wait("state", h, "CONFIRMED")
    peer.send("hangup")
    client.wait("state", h, "DISCONNECTED")
    peer.expect(r"CALL_STATE \d+ DISCONNECTED 200")
    assert peer.proc.poll() is None


@pytest.mark.parametrize("with_call", [False, True], ids=["idle", "in-call"])
def test_stdin_eof_exits_cleanly(start_peer, client, with_call):
    peer = start_peer("--ring-ms", "100")
    h = None
    if with_call:
        h = client.make_call(peer.uri)
        client.wait("state", h, "CONFIRMED")

    peer.close_stdin()
    if with_call:
        client.wait("state", h, "DISCONNECTED")  # the peer sent BYE
    assert _exit_code_within(peer, 5) == 0, peer.stderr_tail()
    _assert_gone(peer)
    if with_call:
        _drain(peer)  # next_line() records into peer.transcript
        assert any(re.fullmatch(r"CALL_STATE \d+ DISCONNECTED 200", ln) for ln in peer.transcript)
    assert "Assertion" not in peer.stderr_tail(100000)


def _drain(peer: PeerProcess) -> list[str]:
    out = []
    while True:
        line = peer.next_line(timeout=5)
        if line is None:
            return out
        out.append(line)


def test_quit_command_exits_cleanly(start_peer, client):
    peer = start_peer()
    peer.send("quit")
    assert _exit_code_within(peer, 5) == 0, peer.stderr_tail()
    _assert_gone(peer)


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM semantics are POSIX")
def test_sigterm_during_call_hangs_up_and_exits_cleanly(start_peer, client):
    peer = start_peer("--ring-ms", "100")
    h = client.make_call(peer.uri)
    client.wait("state", h, "CONFIRMED")
    peer.proc.send_signal(signal.SIGTERM)
    client.wait("state", h, "DISCONNECTED")
    assert _exit_code_within(peer, 5) == 0, peer.stderr_tail()
    _assert_gone(peer)
