"""Prove the SIP test infrastructure (Kamailio + sipp helpers) with a bare pjsua2 client.

No softclock code is used here.  One pjsua2 Endpoint per module (worker thread,
``threadCnt=1``, ``mainThreadOnly=False``, null sound device); callbacks only put
events on a queue.Queue which the test waits on with timeouts.
"""

from __future__ import annotations

import gc
import queue
import time

import pjsua2 as pj
import pytest

from tests.helpers import sipp
from tests.helpers.pjbare import (
    EVENT_TIMEOUT,
    account_config,
    close_accounts,
    endpoint_config,
    loopback_transport_config,
    wait_event,
)
from tests.helpers.sipfixtures import kamailio, kamailio_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------
# pjsua2 plumbing
# --------------------------------------------------------------------------
class TestCall(pj.Call):
    __test__ = False

    def __init__(self, acc: TestAccount, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.events = acc.events

    def onCallState(self, prm):
        ci = self.getInfo()
        dur = ci.connectDuration.sec + ci.connectDuration.msec / 1000.0
        self.events.put(("call", ci.state, ci.lastStatusCode, dur, ci.remoteUri, time.monotonic()))


class TestAccount(pj.Account):
    __test__ = False

    def __init__(self):
        super().__init__()
        self.events: queue.Queue = queue.Queue()
        self.calls: list[TestCall] = []
        self.incoming_answer_code = 200

    def onRegState(self, prm):
        self.events.put(("reg", prm.code, prm.reason, prm.expiration))

    def onIncomingCall(self, prm):
        call = TestCall(self, prm.callId)
        self.calls.append(call)
        self.events.put(("incoming", prm.callId))
        op = pj.CallOpParam()
        op.statusCode = self.incoming_answer_code
        call.answer(op)


def is_state(state):
    return lambda ev: ev[0] == "call" and ev[1] == state


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("pjsua")
    ep = pj.Endpoint()
    ep.libCreate()
    ep.libInit(endpoint_config(user_agent="sip-infra-test", log_file=log_dir / "pjsua.log"))
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, loopback_transport_config(public=True))
    ep.libStart()
    ep.audDevManager().setNullDev()
    yield ep
    ep.hangupAllCalls()
    gc.collect()
    ep.libDestroy()
    del ep
    gc.collect()


@pytest.fixture
def make_account(endpoint, kamailio):  # noqa: F811
    """Factory: make_account(user, password, register=True) -> TestAccount.

    Teardown: hang up its calls and wait for DISCONNECTED, unregister (and wait
    for the 200 so a late un-REGISTER cannot remove the next test's binding),
    shutdown, drop the wrappers, gc."""
    accounts: list[TestAccount] = []

    def make(user: str, password: str, register: bool = True) -> TestAccount:
        cfg = account_config(
            user, password, kamailio.domain, kamailio.registrar_uri if register else None, kamailio.proxy_uri
        )
        acc = TestAccount()
        acc.create(cfg)
        accounts.append(acc)
        return acc

    yield make

    close_accounts(accounts, lambda acc: acc.events, lambda ev: ev[0] == "reg" and ev[3] == 0)
    accounts.clear()
    gc.collect()


def registered(acc: TestAccount, timeout: float = EVENT_TIMEOUT):
    ev = wait_event(acc.events, lambda ev: ev[0] == "reg", timeout)
    return ev


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------
def test_kamailio_answers_options(kamailio):  # noqa: F811
    assert kamailio.host == "127.0.0.1"
    assert kamailio.domain == "sip.test"
    assert kamailio.running
    assert kamailio._probe(1.0)


def test_pjsua2_register_right_and_wrong_password(make_account):
    good = make_account("alice", "alicepass")
    ev = registered(good)
    assert ev[1] == 200, ev

    bad = make_account("alice", "not-the-password")
    ev = registered(bad)
    # Kamailio answers 403 when credentials are present but wrong; pjsua2
    # reports exactly that code in onRegState.
    assert ev[1] == 403, ev
    assert not bad.getInfo().regIsActive


def test_pjsua2_calls_sipp_uas(make_account, kamailio):  # noqa: F811
    alice = make_account("alice", "alicepass")
    assert registered(alice)[1] == 200
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=1000) as far:
        call = TestCall(alice)
        alice.calls.append(call)
        call.makeCall(f"sip:bob@{kamailio.domain}", pj.CallOpParam(True))
        seen: list = []
        t0 = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_CONFIRMED), seen=seen)[5]
        ev = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_DISCONNECTED), seen=seen)
        elapsed = ev[5] - t0
        assert ev[2] == 200, seen  # normal call clearing
        assert 0.8 < elapsed < 1.6, (elapsed, seen)
        assert 0.8 < ev[3] < 1.6, ev  # pjsua2's connectDuration
        assert far.wait(10) == 0, far.log_text()
        talk = far.talk_seconds()
        assert talk is not None and abs(talk - 1.0) < 0.1, talk
        # sipp has gone: whatever pjsua2 reported after the end is queued by now
        late = []
        while not alice.events.empty():
            late.append(alice.events.get_nowait())
        assert not any(is_state(pj.PJSIP_INV_STATE_CONFIRMED)(e) for e in late), (late, seen)


def test_pjsua2_hangs_up_sipp_uas_remote(make_account, kamailio):  # noqa: F811
    alice = make_account("alice", "alicepass")
    assert registered(alice)[1] == 200
    with sipp.uas(kamailio, "carol", "carolpass", ring_ms=100, hangup="remote") as far:
        call = TestCall(alice)
        alice.calls.append(call)
        call.makeCall(f"sip:carol@{kamailio.domain}", pj.CallOpParam(True))
        seen: list = []
        wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_EARLY), seen=seen)
        wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_CONFIRMED), seen=seen)
        # hold the call for ~0.5 s: use the queue wait as the clock (no sleep)
        with pytest.raises(AssertionError):
            wait_event(alice.events, lambda ev: True, timeout=0.5)
        call.hangup(pj.CallOpParam())
        wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_DISCONNECTED), seen=seen)
        assert far.wait(10) == 0, far.log_text()
        talk = far.talk_seconds()
        assert talk is not None and 0.45 < talk < 0.7, talk


def test_sipp_uac_calls_pjsua2(make_account, kamailio):  # noqa: F811
    alice = make_account("alice", "alicepass")
    assert registered(alice)[1] == 200
    alice.incoming_answer_code = 200
    with sipp.uac(kamailio, "alice", talk_ms=1000, from_user="+12025550143") as caller:
        seen: list = []
        wait_event(alice.events, lambda ev: ev[0] == "incoming", seen=seen)
        conf = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_CONFIRMED), seen=seen)
        assert '"Pat Caller" <sip:+12025550143@external.test>' in conf[4], conf
        ev = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_DISCONNECTED), seen=seen)
        assert 0.8 < ev[5] - conf[5] < 1.6, seen
        assert caller.wait(10) == 0, caller.log_text()


def test_sipp_uac_cancels_while_ringing(make_account, kamailio):  # noqa: F811
    alice = make_account("alice", "alicepass")
    assert registered(alice)[1] == 200
    alice.incoming_answer_code = 180
    with sipp.uac(kamailio, "alice", cancel_after_ms=300) as caller:
        seen: list = []
        wait_event(alice.events, lambda ev: ev[0] == "incoming", seen=seen)
        ev = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_DISCONNECTED), seen=seen)
        assert ev[2] == 487, seen
        assert not any(is_state(pj.PJSIP_INV_STATE_CONFIRMED)(e) for e in seen), seen
        assert caller.wait(10) == 0, caller.log_text()


def test_sipp_uac_expect_decline(make_account, kamailio):  # noqa: F811
    alice = make_account("alice", "alicepass")
    assert registered(alice)[1] == 200
    alice.incoming_answer_code = 486
    with sipp.uac(kamailio, "alice", expect_decline=True, display_name=None) as caller:
        seen: list = []
        ev = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_DISCONNECTED), seen=seen)
        assert ev[2] == 486, seen
        assert caller.wait(10) == 0, caller.log_text()


def test_call_to_unregistered_user_is_404(make_account, kamailio):  # noqa: F811
    alice = make_account("alice", "alicepass")
    assert registered(alice)[1] == 200
    call = TestCall(alice)
    alice.calls.append(call)
    call.makeCall(f"sip:carol@{kamailio.domain}", pj.CallOpParam(True))
    ev = wait_event(alice.events, is_state(pj.PJSIP_INV_STATE_DISCONNECTED))
    assert ev[2] == 404, ev


def test_sipp_register_helper(kamailio):  # noqa: F811
    with sipp.register(kamailio, "bob", "bobpass") as ok:
        assert ok.wait(10) == 0, ok.log_text()
    with sipp.unregister(kamailio, "bob", "bobpass", ok.local_port) as un:
        assert un.wait(10) == 0, un.log_text()
    with sipp.register(kamailio, "bob", "wrong") as bad:
        assert bad.wait(10) == 1
        assert "403 Forbidden" in bad.log_text()


def test_kamailio_factory_separate_instance(kamailio_factory, kamailio):  # noqa: F811
    k2 = kamailio_factory(users={"dave": "davepass"})
    assert k2.port != kamailio.port
    with sipp.register(k2, "dave", "davepass") as ok:
        assert ok.wait(10) == 0, ok.log_text()
    with sipp.register(k2, "alice", "alicepass") as unknown:
        assert unknown.wait(10) == 1
    k2.stop()
    assert not k2.running


def test_local_from_domain_needs_proxy_auth(kamailio):  # noqa: F811
    # From domain sip.test without credentials: Kamailio challenges with 407,
    # which the sipp UAC scenario does not expect -> exit code 1.
    with sipp.uac(kamailio, "alice", from_user="bob", from_domain="sip.test") as caller:
        assert caller.wait(10) == 1
        assert "407 Proxy Authentication Required" in caller.log_text()
