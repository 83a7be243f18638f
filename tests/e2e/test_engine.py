"""The real SIP engine and capture against Kamailio and sipp on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from softclock import events as ev
from softclock.store.models import Call, TimeEntry
from tests.helpers import sipp
from tests.helpers.harness import PhoneHarness


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[PhoneHarness]:
    harness = PhoneHarness(tmp_path / "data")
    yield harness
    harness.close()


def _calls(phone: PhoneHarness) -> list[Call]:
    with phone.store.session() as s:
        return list(s.scalars(select(Call)))


def _entries(phone: PhoneHarness) -> list[TimeEntry]:
    with phone.store.session() as s:
        return list(s.scalars(select(TimeEntry)))


def test_registers_with_digest_auth(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio)
    reg = phone.registered()
    assert reg.state is ev.RegState.REGISTERED
    assert reg.message == "Registered as alice@sip.test"


def test_wrong_password_is_a_specific_message(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio, password="not-the-password")
    reg = phone.registered()
    assert reg.state is ev.RegState.FAILED
    assert reg.code in (401, 403)
    assert reg.message == f"Wrong username or password ({reg.code})"
    assert "not-the-password" not in repr(reg)


def test_outgoing_call_times_talk_not_ring(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio)
    assert phone.registered().state is ev.RegState.REGISTERED
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=3000, ring_ms=800) as far:
        handle = phone.engine.make_call("sip:bob@sip.test")
        started = phone.wait_for(ev.CallStarted, lambda e: e.handle == handle)
        phone.wait_for(ev.CallConnected, lambda e: e.call_id == started.call_id)
        ended = phone.wait_for(ev.CallEnded, lambda e: e.call_id == started.call_id)
        assert far.wait(10) == 0
        far_talk = far.talk_seconds()
    assert ended.local_hangup is False
    (call,) = _calls(phone)
    (entry,) = _entries(phone)
    assert call.direction == "outgoing"
    assert call.disposition == "answered"
    assert call.ring_seconds == pytest.approx(0.8, abs=0.2)
    assert entry.raw_seconds == pytest.approx(3.0, abs=0.2)
    assert far_talk is not None and entry.raw_seconds == pytest.approx(far_talk, abs=0.2)
    assert entry.raw_seconds == pytest.approx(ended.connect_duration_s, abs=0.1)
    assert entry.status == "draft" and entry.matter_id is None


def test_incoming_call_auto_answered(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio, auto_answer=True)
    assert phone.registered().state is ev.RegState.REGISTERED
    with sipp.uac(kamailio, "alice", talk_ms=1500, from_user="+12025550143", display_name="Pat Caller") as far:
        ringing = phone.wait_for(ev.CallRinging)
        assert ringing.direction is ev.Direction.INCOMING
        assert ringing.display_name == "Pat Caller"
        phone.wait_for(ev.CallConnected)
        phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    (call,) = _calls(phone)
    (entry,) = _entries(phone)
    assert call.direction == "incoming"
    assert call.remote_number == "+12025550143"
    assert call.display_name == "Pat Caller"
    assert entry.raw_seconds == pytest.approx(1.5, abs=0.2)


def test_caller_hangs_up_while_ringing_is_missed(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio)
    assert phone.registered().state is ev.RegState.REGISTERED
    with sipp.uac(kamailio, "alice", cancel_after_ms=700) as far:
        phone.wait_for(ev.CallRinging)
        ended = phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    assert ended.sip_status == 487
    (call,) = _calls(phone)
    assert call.disposition == "missed"
    assert call.talk_seconds == 0.0
    assert call.ring_seconds == pytest.approx(0.7, abs=0.3)
    assert _entries(phone) == []


@pytest.mark.parametrize("code", [486, 603])
def test_declined_call_is_recorded(phone: PhoneHarness, kamailio, code: int) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio)
    assert phone.registered().state is ev.RegState.REGISTERED
    with sipp.uac(kamailio, "alice", expect_decline=True) as far:
        ringing = phone.wait_for(ev.CallRinging)
        phone.engine.decline(ringing.handle, code)
        ended = phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    assert ended.sip_status == code
    (call,) = _calls(phone)
    assert call.disposition == "declined"
    assert _entries(phone) == []


def test_calling_an_unregistered_user_fails_in_words(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio)
    assert phone.registered().state is ev.RegState.REGISTERED
    phone.engine.make_call("sip:nobody@sip.test")
    ended = phone.wait_for(ev.CallEnded)
    assert ended.sip_status in (404, 480)
    (call,) = _calls(phone)
    assert call.disposition == "failed"
    assert _entries(phone) == []


def test_invalid_uri_is_refused_before_sending(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio)
    phone.registered()
    handle = phone.engine.make_call("sip:bob@@sip.test")
    failed = phone.wait_for(ev.CallFailed, lambda e: e.handle == handle)
    assert "not a valid SIP address" in failed.message
    assert _calls(phone) == []


def _closed_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_registrar_that_does_not_answer(phone: PhoneHarness) -> None:
    class Nowhere:
        domain = "sip.test"
        host = "127.0.0.1"
        port = _closed_tcp_port()

    phone.account(Nowhere(), transport="tcp")
    reg = phone.registered(timeout=40)
    assert reg.state is ev.RegState.FAILED
    assert reg.message.startswith("Server not answering")
    assert reg.message.endswith("retrying in 30 s")


def test_shutdown_mid_call_hangs_up_and_records_it(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    """Quitting during a call sends BYE, keeps the talk time, and leaves no
    pjsua2 wrapper alive to abort the process at a later garbage collection."""
    import gc

    phone = PhoneHarness(tmp_path / "data")
    phone.account(kamailio)
    phone.registered()
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=20000, hangup="remote") as far:
        phone.engine.make_call("sip:bob@sip.test")
        phone.wait_for(ev.CallConnected)
        phone.close()
        assert far.wait(10) == 0
    gc.collect()
    from softclock.store.db import open_store

    store = open_store(tmp_path / "data")
    with store.session() as s:
        call = s.scalars(select(Call)).one()
    store.close()
    assert call.disposition == "answered"
    assert call.ended_utc is not None


def test_registers_and_calls_over_tcp(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio, transport="tcp")
    assert phone.registered().state is ev.RegState.REGISTERED
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=1000) as far:
        phone.engine.make_call("sip:bob@sip.test")
        phone.wait_for(ev.CallConnected)
        phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    (entry,) = _entries(phone)
    assert entry.raw_seconds == pytest.approx(1.0, abs=0.2)


def test_registrar_that_swallows_udp_times_out_in_words(phone: PhoneHarness) -> None:
    """A registrar that receives but never answers: pjsip's timer B (32 s) fires."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))

        class Silent:
            domain = "sip.test"
            host = "127.0.0.1"
            port = silent.getsockname()[1]

        phone.account(Silent())
        # The registrar watch says so first (two unanswered OPTIONS, ~4 s) ...
        early = phone.registered(timeout=15)
        assert early.state is ev.RegState.FAILED
        assert (
            early.message == f"Server not answering: 127.0.0.1:{Silent.port}; registering again as soon as it answers"
        )
        # ... then pjsip's own REGISTER transaction gives up.
        reg = phone.wait_for(ev.RegistrationChanged, lambda e: e.code == 408 and e.reason != "no answer", timeout=45)
        received, _ = silent.recvfrom(65535)
    assert received.startswith(b"REGISTER ")
    assert reg.state is ev.RegState.FAILED
    assert reg.message == "Server not answering, retrying in 30 s"
