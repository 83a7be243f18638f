"""Whatever a caller sends, an answered call is reported and stored, and only the registrar rings us.

The real engine registered with Kamailio on loopback; sipp as the caller, through
Kamailio or straight to the phone's contact address.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from softclock import events as ev
from softclock.store.models import Call
from tests.helpers import sipp
from tests.helpers.harness import PhoneHarness
from tests.helpers.sipp import SippProcess

CALL_EVENTS = (ev.CallRinging, ev.CallStarted, ev.CallConnected, ev.CallEnded)


@pytest.fixture
def phone(tmp_path: Path, kamailio) -> Iterator[PhoneHarness]:  # type: ignore[no-untyped-def]
    harness = PhoneHarness(tmp_path / "data")
    yield harness
    harness.close()


def _registered(phone: PhoneHarness, kamailio, **account: object) -> None:  # type: ignore[no-untyped-def]
    phone.account(kamailio, **account)
    reg = phone.registered()
    assert reg.state is ev.RegState.REGISTERED, reg.message


def _calls(phone: PhoneHarness) -> list[Call]:
    with phone.store.session() as s:
        return list(s.scalars(select(Call).order_by(Call.id)))


def _swig(raw: bytes) -> str:
    """An argument for sipp holding these exact bytes (subprocess encodes with surrogateescape)."""
    return raw.decode("utf-8", "surrogateescape")


def _caller(
    kamailio,
    name: str,
    display: str,
    *,
    user: str = "alice",
    domain: str | None = None,  # type: ignore[no-untyped-def]
    remote: str | None = None,
    from_user: str = "+4930123456",
    talk_ms: int = 1000,
) -> SippProcess:
    """sipp's ``uac`` scenario with a From display name given verbatim (quotes, bytes and all)."""
    return SippProcess(
        name,
        "uac",
        remote or f"{kamailio.host}:{kamailio.port}",
        service=user,
        variables={
            "domain": domain or kamailio.domain,
            "from_user": from_user,
            "from_domain": "gw.test",
            "display": display,
            "talk_ms": talk_ms,
        },
    )


_REFUSED_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac_refused">
  <Global variables="domain" />
  <send retrans="500" start_txn="invite">
    <![CDATA[

      INVITE sip:[service]@[$domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv;rport
      Max-Forwards: 70
      From: "Your Bank" <sip:stranger@evil.test>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[$domain]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:stranger@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response_txn="invite" response="100" optional="true" />
  <recv response_txn="invite" response="180" optional="true" />
  <recv response_txn="invite" response="__CODE__" />
  <send ack_txn="invite">
    <![CDATA[

      ACK sip:[service]@[$domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv;rport
      Max-Forwards: 70
      From: "Your Bank" <sip:stranger@evil.test>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="100" />
</scenario>
"""


def _refused(tmp_path: Path, code: int, remote: str, user: str, domain: str) -> SippProcess:
    """sipp sends one INVITE to ``remote`` and succeeds (exit 0) only if it is answered ``code``."""
    scenario = tmp_path / f"uac_refused_{code}_{user}.xml"
    scenario.write_text(_REFUSED_UAC.replace("__CODE__", str(code)), encoding="latin-1")
    # SippProcess looks scenarios up by name in its own folder; an absolute path wins the join.
    return SippProcess(
        f"refused-{code}", str(scenario.with_suffix("")), remote, service=user, variables={"domain": domain}
    )


def _call_events_now(phone: PhoneHarness) -> list[ev.Event]:
    """Call events already delivered (the engine emits them before it answers the INVITE)."""
    found = []
    while not phone.queue.empty():
        event = phone.queue.get_nowait()
        phone.seen.append(event)
        phone.capture.handle(event)
        if isinstance(event, CALL_EVENTS):
            found.append(event)
    return found


# ---------------------------------------------------------------- what the caller sends


def test_a_latin1_display_name_is_answered_talked_and_stored(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    _registered(phone, kamailio, auto_answer=True)
    with _caller(kamailio, "latin1", _swig(b'"M\xfcller" ')) as far:
        ringing = phone.wait_for(ev.CallRinging)
        phone.wait_for(ev.CallConnected)
        ended = phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    assert ringing.display_name == "Müller"
    assert ringing.remote_uri == "sip:+4930123456@gw.test"
    for event in phone.seen:
        for value in vars(event).values():
            if isinstance(value, str):
                value.encode("utf-8")  # no lone surrogate anywhere
    (call,) = _calls(phone)
    assert call.display_name == "Müller"
    assert call.remote_number == "+4930123456"
    assert call.disposition == "answered"
    assert call.talk_seconds == pytest.approx(ended.connect_duration_s, abs=0.2)


def test_a_display_name_of_300_characters_keeps_the_number(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    _registered(phone, kamailio, auto_answer=True)
    name = "Attorney General " * 18  # 306 characters: pjsua2's remoteUri says <-error: uri too long->
    with _caller(kamailio, "long", f'"{name.strip()}" ') as far:
        ringing = phone.wait_for(ev.CallRinging)
        phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    assert ringing.display_name == name.strip()
    assert ringing.remote_uri == "sip:+4930123456@gw.test"
    (call,) = _calls(phone)
    assert call.remote_number == "+4930123456"


@pytest.mark.parametrize(
    ("display", "shown"),
    [
        ('"Pat <h1> Caller" ', "Pat <h1> Caller"),
        ('"<sip:+19005550000@evil.test>" ', "<sip:+19005550000@evil.test>"),
        ('"say \\"hi\\"; x=1, y>" ', 'say "hi"; x=1, y>'),
    ],
)
def test_brackets_and_quotes_in_a_display_name_keep_name_and_number(  # type: ignore[no-untyped-def]
    phone: PhoneHarness, kamailio, display: str, shown: str
) -> None:
    _registered(phone, kamailio, auto_answer=True)
    with _caller(kamailio, "brackets", display) as far:
        ringing = phone.wait_for(ev.CallRinging)
        phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    assert ringing.display_name == shown
    assert ringing.remote_uri == "sip:+4930123456@gw.test"
    (call,) = _calls(phone)
    assert call.remote_number == "+4930123456"
    assert call.display_name == shown


def test_the_far_ends_tag_names_the_dialog_both_ways(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    _registered(phone, kamailio, auto_answer=True)
    with sipp.uac(kamailio, "alice", talk_ms=300) as far:
        incoming = phone.wait_for(ev.CallRinging)
        phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    sent = far.messages_text()
    assert incoming.remote_tag and f";tag={incoming.remote_tag}" in sent  # sipp's From tag
    with sipp.uas(kamailio, "bob", "bobpass", talk_ms=300, ring_ms=200) as callee:
        handle = phone.engine.make_call("sip:bob@sip.test")
        outgoing = phone.wait_for(ev.CallRinging, lambda e: e.handle == handle)
        phone.wait_for(ev.CallEnded, lambda e: e.handle == handle)
        assert callee.wait(10) == 0
    assert outgoing.direction is ev.Direction.OUTGOING
    assert outgoing.remote_tag and f";tag={outgoing.remote_tag}" in callee.messages_text()  # its To tag
    stored = {c.direction: c.dialog_tag for c in _calls(phone)}
    assert stored["incoming"] == incoming.remote_tag


# ---------------------------------------------------------------- every line busy


def test_a_call_refused_because_every_line_is_busy_is_reported_and_recorded_busy(  # type: ignore[no-untyped-def]
    phone: PhoneHarness, kamailio
) -> None:
    """pjsua2 here has 4 call slots (PJSUA_MAX_CALLS) and refuses a fifth INVITE 486 by itself."""
    _registered(phone, kamailio)
    holders = [sipp.uac(kamailio, "alice", expect_decline=True, from_user=f"+1202555010{i}") for i in range(4)]
    try:
        ringing = [phone.wait_for(ev.CallRinging) for _ in holders]
        with sipp.uac(kamailio, "alice", expect_decline=True, from_user="+12025550199", display_name="Fifth") as fifth:
            busy = phone.wait_for(ev.CallRinging, lambda e: e.remote_uri.startswith("sip:+12025550199@"))
            ended = phone.wait_for(ev.CallEnded, lambda e: e.handle == busy.handle)
            assert fifth.wait(10) == 0
        assert "486" in fifth.messages_text()
        for call in ringing:
            phone.engine.decline(call.handle)
        for holder in holders:
            assert holder.wait(10) == 0
        for _ in ringing:
            phone.wait_for(ev.CallEnded)
    finally:
        for holder in holders:
            holder.stop()
    assert (ended.sip_status, ended.reason, ended.local_hangup) == (486, "Busy Here (all lines in use)", False)
    assert busy.direction is ev.Direction.INCOMING and busy.display_name == "Fifth" and busy.remote_tag
    assert busy.call_id in fifth.messages_text()
    records = {c.remote_number: c for c in _calls(phone)}
    assert records["+12025550199"].disposition == "busy"
    assert records["+12025550199"].dialog_tag == busy.remote_tag
    assert sorted(c.disposition for c in records.values()) == ["busy"] + ["declined"] * 4


# ---------------------------------------------------------------- only the registrar rings us


def test_a_direct_invite_is_refused_403_and_the_registrar_still_rings(  # type: ignore[no-untyped-def]
    phone: PhoneHarness, kamailio, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _registered(phone, kamailio)
    port = phone.engine.local_port
    contact = f"127.0.0.1:{port}"
    with caplog.at_level(logging.WARNING, logger="softclock.sip.inbound"):
        for _ in range(2):
            with _refused(tmp_path, 403, contact, "alice", contact) as stranger:
                assert stranger.wait(10) == 0, stranger.log_text()
    assert _call_events_now(phone) == []
    lines = [r.getMessage() for r in caplog.records if r.name == "softclock.sip.inbound"]
    assert len(lines) == 2
    assert lines[0].startswith("refused INVITE from 127.0.0.1:") and "403, not from the registrar or proxy" in lines[0]
    assert lines[1].endswith("(2 refused since start)")
    assert "Your Bank" not in "".join(lines)
    # The same phone still rings for a call the registrar routes to it.
    with sipp.uac(kamailio, "alice", expect_decline=True, from_user="+12025550143") as real:
        ringing = phone.wait_for(ev.CallRinging)
        assert ringing.remote_uri == "sip:+12025550143@external.test"
        phone.engine.decline(ringing.handle)
        phone.wait_for(ev.CallEnded)
        assert real.wait(10) == 0
    assert [c.remote_number for c in _calls(phone)] == ["+12025550143"]


def test_a_request_for_another_user_through_the_registrar_is_refused_404(  # type: ignore[no-untyped-def]
    phone: PhoneHarness, kamailio, tmp_path: Path
) -> None:
    _registered(phone, kamailio)
    contact = f"127.0.0.1:{phone.engine.local_port}"
    # Kamailio relays a request for a loopback address as it is: mallory@<our contact>.
    with _refused(tmp_path, 404, f"{kamailio.host}:{kamailio.port}", "mallory", contact) as relayed:
        assert relayed.wait(10) == 0, relayed.log_text()
    assert _call_events_now(phone) == []
    assert _calls(phone) == []


def test_allow_direct_calls_lets_a_peer_ring_us(phone: PhoneHarness, kamailio) -> None:  # type: ignore[no-untyped-def]
    _registered(phone, kamailio, allow_direct_calls=True, auto_answer=True)
    contact = f"127.0.0.1:{phone.engine.local_port}"
    with _caller(kamailio, "direct", '"Peer" ', remote=contact, domain=contact, talk_ms=300) as peer:
        ringing = phone.wait_for(ev.CallRinging)
        phone.wait_for(ev.CallEnded)
        assert peer.wait(10) == 0
    assert ringing.display_name == "Peer"


def test_incoming_over_tcp_through_the_registrar_rings(phone: PhoneHarness, kamailio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Over TCP the registrar sends on the connection we opened: its source is the server's port."""
    _registered(phone, kamailio, transport="tcp", auto_answer=True)
    with sipp.uac(kamailio, "alice", talk_ms=300) as far:
        phone.wait_for(ev.CallRinging)
        phone.wait_for(ev.CallEnded)
        assert far.wait(10) == 0
    assert [c.disposition for c in _calls(phone)] == ["answered"]


def test_incoming_over_tls_through_the_registrar_rings(phone: PhoneHarness, tmp_path: Path) -> None:
    """Over TLS the registrar's INVITE comes on our connection to it: accepted (and nothing else is)."""
    from tests.helpers.kamailio import Kamailio
    from tests.helpers.sipfixtures import DEFAULT_USERS, require_sip_tools

    require_sip_tools()
    server = Kamailio(tmp_path / "kamailio-tls", DEFAULT_USERS, tls=True)
    server.start()
    try:

        class Tls:
            domain, host, port = server.domain, server.host, server.tls_port

        _registered(phone, Tls, transport="tls", auto_answer=True, tls_ca_file=str(server.tls_ca.ca_cert))
        with sipp.uac(server, "alice", talk_ms=300) as far:
            phone.wait_for(ev.CallRinging)
            phone.wait_for(ev.CallEnded)
            assert far.wait(10) == 0
        # A direct INVITE from this host (another port, UDP) is still refused.
        contact = f"127.0.0.1:{phone.engine.local_port}"
        with _refused(tmp_path, 403, contact, "alice", contact) as stranger:
            assert stranger.wait(10) == 0, stranger.log_text()
    finally:
        server.stop()
    assert [c.disposition for c in _calls(phone)] == ["answered"]
