"""Staying registered: the registrar dies and comes back, the network changes,
keep-alives flow. Real Kamailio, real pjsua2, real sipp calls; loopback only."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from softclock import events as ev
from tests.helpers import sipp, udp_fakes
from tests.helpers.harness import PhoneHarness
from tests.helpers.netns import require_namespace, run_probe


def _answer_call_from_sipp(phone: PhoneHarness, server: object) -> None:
    """sipp calls alice through the registrar: proof that alice's binding is there."""
    with sipp.uac(server, "alice", talk_ms=500) as caller:
        phone.wait_for(ev.CallConnected, timeout=10)
        phone.wait_for(ev.CallEnded, timeout=10)
        assert caller.wait(15) == 0, caller.log_text()[-2000:]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_registers_again_within_seconds_when_the_registrar_returns(
    tmp_path: Path, kamailio_factory, transport: str
) -> None:  # type: ignore[no-untyped-def]
    server = kamailio_factory()
    where = f"{server.host}:{server.port}"
    phone = PhoneHarness(tmp_path / "data")
    try:
        phone.account(server, auto_answer=True, transport=transport)
        assert phone.registered().state is ev.RegState.REGISTERED

        # Killed: its registrations (kept in memory) die with it.
        os.killpg(server.pid, signal.SIGKILL)
        killed = time.monotonic()
        server.stop()
        down = phone.wait_for(ev.RegistrationChanged, lambda e: e.state is ev.RegState.FAILED, timeout=10)
        print(f"outage noticed after {down.mono - killed:.2f} s")
        assert down.message == (
            f"Server unreachable: {where} refuses SIP (is it running?); registering again as soon as it answers"
        )
        assert down.server == where

        server.start(same_port=True)  # back, same address, knowing nothing of alice
        back = time.monotonic()
        again = phone.wait_for(ev.RegistrationChanged, lambda e: e.state is ev.RegState.REGISTERED, timeout=10)
        print(f"registered again {again.mono - back:.2f} s after the registrar returned")
        assert again.mono - back < 5.0
        assert again.message == "Registered as alice@sip.test"
        between = [e for e in phone.seen if isinstance(e, ev.RegistrationChanged) and e.mono > down.mono]
        assert between[0].message == f"Server {where} answers again: registering as alice@sip.test…"

        _answer_call_from_sipp(phone, server)
    finally:
        phone.close()


class _Lines(logging.Handler):
    """pjsip's log lines (level 4 names each message sent), waitable."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._grew = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._grew:
            self.lines.append(record.getMessage())
            self._grew.notify_all()

    def wait_for(self, pattern: str, start: int, timeout: float = 10.0) -> str:
        """The first line from index ``start`` on that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        with self._grew:
            while True:
                found = next((line for line in self.lines[start:] if re.search(pattern, line)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or not self._grew.wait(left):
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout} s")


@pytest.fixture
def pjsip_lines() -> Iterator[_Lines]:
    pjlog = logging.getLogger("softclock.pjsip")
    lines = _Lines()
    pjlog.addHandler(lines)
    level = pjlog.level
    pjlog.setLevel(logging.DEBUG)
    yield lines
    pjlog.removeHandler(lines)
    pjlog.setLevel(level)


def _registers_sent(lines: list[str]) -> int:
    return sum(1 for line in lines if re.search(r"TX \d+ bytes Request msg REGISTER/cseq=", line))


def test_network_changed_sends_a_fresh_register_and_registration_holds(
    tmp_path: Path, kamailio, pjsip_lines: _Lines
) -> None:  # type: ignore[no-untyped-def]
    lines = pjsip_lines
    phone = PhoneHarness(tmp_path / "data", log_level=4)  # 4: pjsip logs each message sent
    try:
        phone.account(kamailio, auto_answer=True)
        assert phone.registered().state is ev.RegState.REGISTERED
        before = _registers_sent(lines.lines)

        phone.engine.network_changed("resumed after about 3600 s asleep")
        asked = phone.wait_for(ev.RegistrationChanged, lambda e: e.state is ev.RegState.REGISTERING, timeout=5)
        assert asked.message == (
            "Network changed (resumed after about 3600 s asleep): registering again as alice@sip.test…"
        )
        again = phone.wait_for(ev.RegistrationChanged, lambda e: e.state is not ev.RegState.REGISTERING, timeout=10)
        assert again.state is ev.RegState.REGISTERED, again.message
        print(f"re-registered {again.mono - asked.mono:.3f} s after network_changed()")
        assert _registers_sent(lines.lines) > before

        _answer_call_from_sipp(phone, kamailio)
    finally:
        phone.close()


@pytest.mark.parametrize("bind", ["127.0.0.1", ""], ids=["bound", "all-interfaces"])
def test_an_address_added_in_a_network_namespace_re_registers(bind: str) -> None:
    """Bound to an address the transports stay; on all interfaces (the app's
    default) handleIpChange also restarts the UDP listener."""
    require_namespace()
    lines, output = run_probe("tests.helpers.netchange_probe", bind)
    print(lines)
    kinds = [line["kind"] for line in lines]
    assert kinds == ["registered", "address-added", "registering", "registered", "call"], lines
    assert lines[2]["message"] == (
        "Network changed (network addresses changed (+127.0.0.2)): registering again as alice@sip.test…"
    )
    assert lines[2]["after_s"] < 2.0  # polled every 0.2 s, settled after one more poll
    assert lines[3]["message"] == "Registered as alice@sip.test"
    assert lines[4] == {"kind": "call", "sipp_rc": 0}
    assert "alicepass" not in output


def test_no_route_to_the_server_says_no_network() -> None:
    """A laptop off every network: the host has no route to the registrar."""
    require_namespace()
    lines, output = run_probe("tests.helpers.noroute_probe", timeout=60)
    print(lines)
    assert [line["message"] for line in lines] == [
        "No network: the server cannot be reached, retrying in 30 s",  # pjsip's own REGISTER
        "No network: the server 192.0.2.1:5060 cannot be reached; registering again as soon as it answers",
    ]
    assert "pw-noroute" not in output


@pytest.mark.parametrize("asked", [1, 2])
def test_udp_keepalives_reach_the_registrar_at_the_interval(tmp_path: Path, asked: int) -> None:
    """pjsip waits a random whole int(0.8 * interval) .. interval - 1 s between
    keep-alives; for 1 s that is 0 s (a flood), so the engine sends at 2 at least."""
    from softclock.sip.config import AccountConfig

    registrar = udp_fakes.Registrar()
    phone = PhoneHarness(tmp_path / "data")
    try:
        phone.engine.set_account(
            AccountConfig(user="alice", domain="sip.test", server=f"127.0.0.1:{registrar.port}", keepalive_s=asked)
        )
        assert phone.registered().state is ev.RegState.REGISTERED
        assert registrar.got_keepalives.wait(8), f"keep-alives seen: {len(registrar.keepalives)}"
        gaps = [b - a for a, b in zip(registrar.keepalives, registrar.keepalives[1:], strict=False)]
        print(f"keep-alive gaps (s) for {asked} s:", ", ".join(f"{gap:.3f}" for gap in gaps))
        assert all(0.9 <= gap <= 2.05 for gap in gaps), gaps
        assert registrar.registers == 1  # keep-alives, not re-registrations
        assert registrar.keepalives[-1] - registrar.keepalives[0] >= 2.7
    finally:
        phone.close()
        registrar.close()


def test_tcp_connection_to_the_registrar_has_os_keepalives(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    phone = PhoneHarness(tmp_path / "data", keepalive_s=7)
    try:
        phone.account(kamailio, transport="tcp")
        assert phone.registered().state is ev.RegState.REGISTERED
        out = subprocess.run(
            ["ss", "-tnoH", "state", "established", f"( dport = :{kamailio.port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(out)
        timers = re.findall(r"timer:\(keepalive,([\d.]+)(ms|sec|min)", out)
        assert timers, out  # the kernel's keep-alive timer runs on pjsip's connection
        scale = {"ms": 0.001, "sec": 1.0, "min": 60.0}
        assert all(float(value) * scale[unit] <= 7.0 for value, unit in timers), timers  # not the 2 h default
    finally:
        phone.close()


def test_stun_servers_are_asked_and_ice_offers_candidates(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    stun = udp_fakes.StunServer()
    phone = PhoneHarness(tmp_path / "data", stun_servers=(f"127.0.0.1:{stun.port}",))
    try:
        phone.account(kamailio, ice=True)
        assert phone.registered().state is ev.RegState.REGISTERED
        assert stun.asked.wait(5), "no STUN Binding Request reached the configured server"
        with sipp.uas(kamailio, "bob", "bobpass", talk_ms=500) as far:
            phone.engine.make_call("sip:bob@sip.test")
            phone.wait_for(ev.CallConnected)
            phone.wait_for(ev.CallEnded)
            assert far.wait(10) == 0
            invite = far.messages_text().split("INVITE sip:", 1)[1]
        assert "a=ice-ufrag:" in invite
        assert re.search(r"a=candidate:\S+ 1 UDP \d+ \S+ \d+ typ host", invite), invite[:3000]
        # The server-reflexive candidate is the address our STUN server reported.
        assert re.search(r"a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ srflx", invite), invite[:3000]
    finally:
        phone.close()
        stun.close()


def test_turn_relay_is_asked_with_the_user_and_password_from_the_settings(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    turn = udp_fakes.TurnServer("relay-alice", "relay-pw")
    phone = PhoneHarness(tmp_path / "data")
    try:
        phone.account(
            kamailio, ice=True, turn_server=f"127.0.0.1:{turn.port}", turn_user="relay-alice", turn_password="relay-pw"
        )
        assert phone.registered().state is ev.RegState.REGISTERED
        handle = phone.engine.make_call("sip:carol@sip.test")  # media (and its relay) is set up per call
        assert turn.got_signed.wait(5), "no authenticated TURN Allocate"
        assert turn.signed[0] == (b"relay-alice", True)
        phone.engine.hangup(handle)
        phone.wait_for(ev.CallEnded, timeout=15)
    finally:
        phone.close()
        turn.close()


def test_a_call_survives_a_network_change(tmp_path: Path, kamailio, pjsip_lines: _Lines) -> None:  # type: ignore[no-untyped-def]
    """handleIpChange re-registers, then re-INVITEs the call (pjsip's default)."""
    from tests.helpers.baresip import Baresip

    phone = PhoneHarness(tmp_path / "data", log_level=4)
    try:
        phone.account(kamailio)
        assert phone.registered().state is ev.RegState.REGISTERED
        with Baresip(tmp_path / "bob", kamailio, "bob", "bobpass") as bob:
            bob.start()
            handle = phone.engine.make_call("sip:bob@sip.test")
            phone.wait_for(ev.CallConnected, lambda e: e.handle == handle)
            bob.wait_event("CALL_ESTABLISHED", timeout=10)
            mark = len(pjsip_lines.lines)

            phone.engine.network_changed("network addresses changed (+192.0.2.7)")
            again = phone.wait_for(ev.RegistrationChanged, lambda e: e.state is not ev.RegState.REGISTERING)
            assert again.state is ev.RegState.REGISTERED
            # The re-INVITE with fresh media, and its 200 from bob.
            pjsip_lines.wait_for(r"TX \d+ bytes Request msg INVITE/cseq=", mark)
            pjsip_lines.wait_for(r"RX \d+ bytes Response msg 200/INVITE/cseq=", mark)

            phone.engine.hangup(handle)
            ended = phone.wait_for(ev.CallEnded, lambda e: e.handle == handle)
            assert ended.local_hangup
            bob.wait_event("CALL_CLOSED", timeout=10)
            assert not [e for e in phone.seen if isinstance(e, ev.CallEnded) and e.mono < ended.mono]
    finally:
        phone.close()
