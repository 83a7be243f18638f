"""Prove tests/helpers/baresip.py against a bare pjsua2 client (no softclock code).

alice = pjsua2 in this process (worker thread, null sound device), bob/carol = baresip
processes; everyone registers through the session Kamailio on 127.0.0.1.
"""

from __future__ import annotations

import gc
import queue
import struct
import time
import wave

import pjsua2 as pj
import pytest

from tests.helpers.baresip import Baresip, baresip_binary, baresip_module_dir
from tests.helpers.pjbare import endpoint_config, loopback_transport_config
from tests.helpers.procs import missing_tool

WAIT = 10.0


def _require_baresip() -> None:
    if baresip_binary() is None or baresip_module_dir() is None:
        missing_tool("baresip (with ctrl_tcp module) not installed (apt: baresip)")


# -- a bare pjsua2 peer ------------------------------------------------------
class PjCall(pj.Call):
    def __init__(self, peer: PjPeer, acc, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.peer = peer

    def onCallState(self, prm):
        ci = self.getInfo()
        self.peer.q.put(("state", self, ci.state, ci.lastStatusCode))

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        self.peer.q.put(("media", self, [(m.type, m.status, m.dir) for m in ci.media]))

    def onDtmfDigit(self, prm):
        self.peer.q.put(("dtmf", self, prm.digit))

    def onCallTransferRequest(self, prm):
        # pjsua2 only follows a REFER if the application supplies the new Call
        new = PjCall(self.peer, self.peer.acc)
        self.peer.calls.append(new)
        prm.newCall = new
        self.peer.q.put(("transfer", self, prm.dstUri, new))


class PjAccount(pj.Account):
    def __init__(self, peer: PjPeer):
        super().__init__()
        self.peer = peer

    def onRegState(self, prm):
        self.peer.q.put(("reg", None, prm.code, prm.expiration))

    def onIncomingCall(self, prm):
        call = PjCall(self.peer, self, prm.callId)
        self.peer.calls.append(call)
        self.peer.q.put(("incoming", call))


class PjPeer:
    """Endpoint + one account; callbacks (pjsua2 worker thread) go to a Queue."""

    def __init__(self, kamailio, user: str, password: str):
        self.kamailio = kamailio
        self.user = user
        self.password = password
        self.q: queue.Queue = queue.Queue()
        self._backlog: list[tuple] = []
        self.calls: list[PjCall] = []
        self.ep = None
        self.acc = None

    def start(self) -> PjPeer:
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = endpoint_config(log_level=1)
        cfg.uaConfig.maxCalls = 8
        cfg.medConfig.noVad = True  # send RTP for silence too
        ep.libInit(cfg)
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, loopback_transport_config())
        ep.libStart()
        ep.audDevManager().setNullDev()
        self.ep = ep

        k = self.kamailio
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.user}@{k.domain}"
        acfg.regConfig.registrarUri = f"sip:{k.host}:{k.port}"
        acfg.sipConfig.proxies.append(f"sip:{k.host}:{k.port};lr")
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", self.user, 0, self.password))
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        self.acc = PjAccount(self)
        self.acc.create(acfg)
        ev = self.wait(lambda e: e[0] == "reg", WAIT)
        assert ev[2] == 200, f"pjsua2 registration failed: {ev}"
        return self

    # events ---------------------------------------------------------------
    def wait(self, pred, timeout: float = WAIT) -> tuple:
        """Earliest not yet consumed callback event matching ``pred``."""
        for i, ev in enumerate(self._backlog):
            if pred(ev):
                return self._backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"pjsua2 {self.user}: no matching event; backlog: {[e[0] for e in self._backlog]}")
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if pred(ev):
                return ev
            self._backlog.append(ev)

    def wait_state(self, call, state, timeout: float = WAIT) -> tuple:
        return self.wait(lambda e: e[0] == "state" and e[1] is call and e[2] == state, timeout)

    def wait_media(self, call, status, timeout: float = WAIT) -> tuple:
        return self.wait(lambda e: e[0] == "media" and e[1] is call and e[2] and e[2][0][1] == status, timeout)

    def make_call(self, uri: str) -> PjCall:
        call = PjCall(self, self.acc)
        self.calls.append(call)
        call.makeCall(uri, pj.CallOpParam(True))
        return call

    # shutdown -------------------------------------------------------------
    def shutdown(self) -> None:
        ep = self.ep
        if ep is None:
            return
        try:
            active = [c for c in self.calls if c.isActive()]
            if active:
                ep.hangupAllCalls()
                deadline = time.monotonic() + WAIT
                while any(c.isActive() for c in active) and time.monotonic() < deadline:
                    try:
                        self.wait(
                            lambda e: e[0] == "state" and e[2] == pj.PJSIP_INV_STATE_DISCONNECTED,
                            max(0.01, deadline - time.monotonic()),
                        )
                    except TimeoutError:
                        break
            if self.acc is not None:
                self.acc.shutdown()
        finally:
            # every Python wrapper must be gone before libDestroy()
            self._backlog.clear()
            while not self.q.empty():
                self.q.get_nowait()
            self.calls.clear()
            self.acc = None
            gc.collect()
            ep.libDestroy()
            self.ep = None
            del ep
            gc.collect()


# -- fixtures ----------------------------------------------------------------
@pytest.fixture
def alice(kamailio):
    peer = PjPeer(kamailio, "alice", "alicepass")
    try:
        peer.start()
        yield peer
    finally:
        peer.shutdown()


@pytest.fixture
def bob(kamailio, tmp_path):
    _require_baresip()
    with Baresip(tmp_path / "bob", kamailio, "bob", "bobpass") as b:
        yield b


def _rx_packets(call) -> int:
    return call.getStreamStat(0).rtcp.rxStat.pkt


def _poll(cond, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def _established_call_to_bob(alice: PjPeer, bob: Baresip) -> PjCall:
    call = alice.make_call(bob.aor)
    alice.wait_state(call, pj.PJSIP_INV_STATE_CONFIRMED)
    bob.wait_event("CALL_ESTABLISHED", WAIT)
    return call


# -- tests -------------------------------------------------------------------
def test_pjsua2_calls_baresip_auto_answer_rtp_flows(alice, bob):
    call = alice.make_call(bob.aor)
    alice.wait_state(call, pj.PJSIP_INV_STATE_CONFIRMED)
    ev = bob.wait_event("CALL_ESTABLISHED", WAIT)
    assert ev["direction"] == "incoming"
    assert ev["peeruri"].startswith("sip:alice@sip.test")

    # baresip's 440 Hz sine reaches pjsua2 as RTP
    assert _poll(lambda: _rx_packets(call) >= 25, 5.0), "no RTP from baresip"
    si = call.getStreamInfo(0)
    assert si.codecName in ("PCMU", "PCMA")

    call.hangup(pj.CallOpParam(True))
    alice.wait_state(call, pj.PJSIP_INV_STATE_DISCONNECTED)
    closed = bob.wait_event("CALL_CLOSED", WAIT)
    assert closed["id"] == ev["id"]


def test_baresip_manual_answer(alice, kamailio, tmp_path):
    _require_baresip()
    with Baresip(
        tmp_path / "bob", kamailio, "bob", "bobpass", auto_answer=False, audio_source="silence", silence_seconds=30
    ) as bob:
        call = alice.make_call(bob.aor)
        inc = bob.wait_event("CALL_INCOMING", WAIT)  # not emitted with answermode=auto
        assert inc["peeruri"].startswith("sip:alice@sip.test")
        alice.wait_state(call, pj.PJSIP_INV_STATE_EARLY)  # 180 Ringing
        bob.answer()
        alice.wait_state(call, pj.PJSIP_INV_STATE_CONFIRMED)
        bob.wait_event("CALL_ESTABLISHED", WAIT)
        assert _poll(lambda: _rx_packets(call) >= 10, 5.0), "no RTP (silence) from baresip"
        bob.hangup()
        alice.wait_state(call, pj.PJSIP_INV_STATE_DISCONNECTED)


def test_baresip_dials_pjsua2_hold_and_resume(alice, bob):
    bob.dial("sip:alice@sip.test")
    ev = alice.wait(lambda e: e[0] == "incoming")
    call = ev[1]
    op = pj.CallOpParam()
    op.statusCode = 200
    call.answer(op)
    alice.wait_state(call, pj.PJSIP_INV_STATE_CONFIRMED)
    alice.wait_media(call, pj.PJSUA_CALL_MEDIA_ACTIVE)
    est = bob.wait_event("CALL_ESTABLISHED", WAIT)
    assert est["direction"] == "outgoing"

    bob.hold()
    held = alice.wait_media(call, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD)
    # baresip holds with a=sendonly: pjsua2 answers recvonly (decoding only)
    assert held[2][0][2] == pj.PJMEDIA_DIR_DECODING

    bob.resume()
    active = alice.wait_media(call, pj.PJSUA_CALL_MEDIA_ACTIVE)
    assert active[2][0][2] == pj.PJMEDIA_DIR_ENCODING_DECODING

    bob.hangup()
    alice.wait_state(call, pj.PJSIP_INV_STATE_DISCONNECTED)
    bob.wait_event("CALL_CLOSED", WAIT)


def test_pjsua2_dtmf_rfc2833_reaches_baresip(alice, bob):
    call = _established_call_to_bob(alice, bob)
    call.dialDtmf("123")
    digits = [bob.wait_event("CALL_DTMF_START", WAIT)["param"] for _ in range(3)]
    assert digits == ["1", "2", "3"]
    bob.wait_event("CALL_DTMF_END", WAIT)


def test_baresip_dtmf_reaches_pjsua2(alice, bob):
    call = _established_call_to_bob(alice, bob)
    bob.send_dtmf("4*9#")
    digits = [alice.wait(lambda e: e[0] == "dtmf" and e[1] is call)[2] for _ in range(4)]
    assert "".join(digits) == "4*9#"


def test_baresip_blind_transfer_pjsua2_to_carol(alice, bob, kamailio, tmp_path):
    with Baresip(tmp_path / "carol", kamailio, "carol", "carolpass") as carol:
        call = _established_call_to_bob(alice, bob)
        bob.transfer("sip:carol@sip.test")
        ev = alice.wait(lambda e: e[0] == "transfer" and e[1] is call)
        assert "carol@sip.test" in ev[2]
        new_call = ev[3]
        alice.wait_state(new_call, pj.PJSIP_INV_STATE_CONFIRMED)
        est = carol.wait_event("CALL_ESTABLISHED", WAIT)
        assert est["peeruri"].startswith("sip:alice@sip.test")
        # the transferor's leg ends after the NOTIFY with 200
        bob.wait_event("CALL_CLOSED", WAIT)
        alice.wait_state(call, pj.PJSIP_INV_STATE_DISCONNECTED)
        new_call.hangup(pj.CallOpParam(True))
        alice.wait_state(new_call, pj.PJSIP_INV_STATE_DISCONNECTED)
        carol.wait_event("CALL_CLOSED", WAIT)


def _dominant_hz(path) -> float:
    """Frequency from zero crossings of a 16-bit mono WAV (skips the first 0.2 s)."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(raw) // 2}h", raw)[int(0.2 * rate) :]
    assert len(samples) > rate // 2, "recording too short"
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if a < 0 <= b)
    return crossings * rate / len(samples)


def test_baresip_to_baresip_sine_recorded(kamailio, tmp_path):
    _require_baresip()
    rec = tmp_path / "carol-rx.wav"
    with (
        Baresip(tmp_path / "bob", kamailio, "bob", "bobpass") as bob,
        Baresip(tmp_path / "carol", kamailio, "carol", "carolpass", record_wav=rec) as carol,
    ):
        bob.dial(carol.aor)
        bob.wait_event("CALL_ESTABLISHED", WAIT)
        carol.wait_event("CALL_ESTABLISHED", WAIT)
        # sndfile writes as audio arrives: wait for ~1.5 s of 8 kHz 16-bit mono
        assert _poll(lambda: carol.recordings() and carol.recordings()[-1].stat().st_size > 44 + 24000, WAIT)
        bob.hangup()
        carol.wait_event("CALL_CLOSED", WAIT)
    hz = _dominant_hz(rec)
    assert 430 <= hz <= 450, hz
