"""Call control with the real engine against baresip and sipp through Kamailio:
remote hold, DTMF both ways, blind transfer, the voicemail indicator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from softclock import events as ev
from tests.helpers.baresip import Baresip
from tests.helpers.harness import PhoneHarness
from tests.helpers.sipp import SippProcess


@pytest.fixture
def phone(tmp_path: Path, kamailio) -> Iterator[PhoneHarness]:  # type: ignore[no-untyped-def]
    harness = PhoneHarness(tmp_path / "data")
    harness.account(kamailio)
    assert harness.registered().state is ev.RegState.REGISTERED
    yield harness
    harness.close()


@pytest.fixture
def bob(tmp_path: Path, kamailio) -> Iterator[Baresip]:  # type: ignore[no-untyped-def]
    with Baresip(tmp_path / "bob", kamailio, "bob", "bobpass") as peer:
        peer.start()
        yield peer


def _call_bob(phone: PhoneHarness, bob: Baresip) -> int:
    handle = phone.engine.make_call("sip:bob@sip.test")
    phone.wait_for(ev.CallConnected, lambda e: e.handle == handle)
    bob.wait_event("CALL_ESTABLISHED", timeout=10)
    return handle


def test_remote_hold_and_resume(phone: PhoneHarness, bob: Baresip) -> None:
    handle = _call_bob(phone, bob)
    bob.hold()
    assert phone.wait_for(ev.CallHoldChanged).hold is ev.HoldState.REMOTE
    bob.resume()
    assert phone.wait_for(ev.CallHoldChanged).hold is ev.HoldState.NONE
    phone.engine.hangup(handle)
    phone.wait_for(ev.CallEnded)


def test_dtmf_both_ways(phone: PhoneHarness, bob: Baresip) -> None:
    handle = _call_bob(phone, bob)
    phone.engine.send_dtmf(handle, "19#")
    got = [bob.wait_event("CALL_DTMF_START", timeout=10)["param"] for _ in range(3)]
    assert got == ["1", "9", "#"]
    bob.send_dtmf("42*")
    received = [phone.wait_for(ev.DtmfReceived) for _ in range(3)]
    assert [d.digit for d in received] == ["4", "2", "*"]
    assert {d.method for d in received} == {"rfc2833"}
    phone.engine.hangup(handle)
    phone.wait_for(ev.CallEnded)


def test_blind_transfer_ends_our_leg(phone: PhoneHarness, bob: Baresip, tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    with Baresip(tmp_path / "carol", kamailio, "carol", "carolpass") as carol:
        carol.start()
        handle = _call_bob(phone, bob)
        phone.engine.transfer(handle, "sip:carol@sip.test")
        done = phone.wait_for(ev.CallTransferProgress, lambda e: e.final, timeout=15)
        assert 200 <= done.code < 300
        phone.wait_for(ev.CallEnded, lambda e: e.handle == handle)
        carol.wait_event("CALL_ESTABLISHED", timeout=10)


def test_voicemail_indicator(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    with SippProcess(
        "mwi",
        "notify_mwi",
        f"{kamailio.host}:{kamailio.port}",
        service="alice",
        variables={"domain": kamailio.domain, "new": 2, "old": 8},
    ) as notify:
        mwi = phone.wait_for(ev.MessageWaiting)
        assert notify.wait(10) == 0
    assert (mwi.waiting, mwi.new, mwi.old) == (True, 2, 8)


def test_attended_transfer_joins_the_two_far_ends(phone: PhoneHarness, bob: Baresip, tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    with Baresip(tmp_path / "carol", kamailio, "carol", "carolpass") as carol:
        carol.start()
        to_bob = _call_bob(phone, bob)
        phone.engine.hold(to_bob)
        phone.wait_for(ev.CallHoldChanged, lambda e: e.handle == to_bob)
        to_carol = phone.engine.make_call("sip:carol@sip.test")
        phone.wait_for(ev.CallConnected, lambda e: e.handle == to_carol)
        phone.engine.transfer_to_call(to_bob, to_carol)
        done = phone.wait_for(ev.CallTransferProgress, lambda e: e.final, timeout=15)
        assert 200 <= done.code < 300, done
        ended = {phone.wait_for(ev.CallEnded).handle, phone.wait_for(ev.CallEnded).handle}
        assert ended == {to_bob, to_carol}


def test_dtmf_by_sip_info(phone: PhoneHarness, bob: Baresip) -> None:
    handle = _call_bob(phone, bob)
    phone.engine.send_dtmf(handle, "7", method="info")
    assert bob.wait_event("CALL_DTMF_START", timeout=10)["param"] == "7"
    phone.engine.hangup(handle)
    phone.wait_for(ev.CallEnded)
