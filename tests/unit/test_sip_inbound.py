"""Only the registrar rings us: the decision itself (softclock.sip.inbound), without pjsua2."""

from __future__ import annotations

import logging

import pytest

from softclock.sip.inbound import NOT_OURS, WRONG_SOURCE, InboundGuard, split_server


def _dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return table.get(host, [])

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


def test_the_registrar_may_ring_our_user() -> None:
    guard = InboundGuard(_dns({}))
    guard.configure(enabled=True, servers=["127.0.0.1:5070"], users=["alice"])
    assert guard.check("127.0.0.1:5070", "sip:alice@127.0.0.1:40000;ob") is None


def test_a_stranger_on_the_registrars_host_but_another_port_is_refused_403() -> None:
    guard = InboundGuard(_dns({}))
    guard.configure(enabled=True, servers=["127.0.0.1:5070"], users=["alice"])
    assert guard.check("127.0.0.1:40001", "sip:alice@127.0.0.1:40000") is WRONG_SOURCE
    assert guard.check("10.0.0.9:5070", "sip:alice@127.0.0.1:40000") is WRONG_SOURCE
    assert WRONG_SOURCE.code == 403


def test_another_user_through_the_registrar_is_refused_404() -> None:
    guard = InboundGuard(_dns({}))
    guard.configure(enabled=True, servers=["127.0.0.1:5070"], users=["alice"])
    assert guard.check("127.0.0.1:5070", "sip:mallory@127.0.0.1:40000") is NOT_OURS
    assert guard.check("127.0.0.1:5070", "sip:127.0.0.1:40000") is NOT_OURS
    assert guard.check("127.0.0.1:5070", "sip:Alice@127.0.0.1") is NOT_OURS  # the user part is case-sensitive
    assert guard.check("127.0.0.1:5070", "sip:%61lice@127.0.0.1") is None  # escaped, still alice
    assert NOT_OURS.code == 404


def test_names_count_once_resolved_with_the_transports_default_port() -> None:
    dns = _dns({"pbx.example": ["192.0.2.10", "2001:db8::10"], "backup.example": ["192.0.2.11"]})
    guard = InboundGuard(dns)
    guard.configure(
        enabled=True,
        servers=["pbx.example", "backup.example:5080", "sip:proxy.example;lr"],
        transport="tls",
        users=["alice"],
    )
    assert guard.check("192.0.2.10:5061", "sip:alice@h") is WRONG_SOURCE  # not resolved yet
    guard.resolve()
    assert dns.asked == [("pbx.example", 5061), ("backup.example", 5080), ("proxy.example", 5061)]
    assert guard.check("192.0.2.10:5061", "sip:alice@h") is None
    assert guard.check("[2001:db8:0::10]:5061", "sip:alice@h") is None
    assert guard.check("192.0.2.11:5080", "sip:alice@h") is None
    assert guard.check("192.0.2.10:40000", "sip:alice@h") is WRONG_SOURCE  # over TLS: not its connection


def test_the_address_a_registration_was_answered_from_counts() -> None:
    guard = InboundGuard(_dns({}))  # e.g. DNS SRV sent us to a host we did not name
    guard.configure(enabled=True, servers=["sip.example"], users=["alice"])
    guard.resolve()
    assert guard.check("198.51.100.7:5060", "sip:alice@h") is WRONG_SOURCE
    guard.learn("198.51.100.7:5060")
    guard.learn("not an address")
    assert guard.check("198.51.100.7:5060", "sip:alice@h") is None


def test_a_new_account_forgets_the_old_ones_addresses() -> None:
    guard = InboundGuard(_dns({}))
    guard.configure(enabled=True, servers=["127.0.0.1:5070"], users=["alice"])
    guard.learn("127.0.0.2:5060")
    guard.configure(enabled=True, servers=["127.0.0.9:5070"], users=["bob"])
    assert guard.check("127.0.0.1:5070", "sip:bob@h") is WRONG_SOURCE
    assert guard.check("127.0.0.2:5060", "sip:bob@h") is WRONG_SOURCE
    assert guard.check("127.0.0.9:5070", "sip:alice@h") is NOT_OURS


def test_a_lookup_that_finishes_after_the_account_changed_is_dropped() -> None:
    guard = InboundGuard()

    def slow(host: str, port: int) -> list[str]:
        guard.configure(enabled=True, servers=["127.0.0.9:5070"], users=["bob"])  # meanwhile
        return ["192.0.2.10"]

    guard._resolve = slow  # type: ignore[method-assign]
    guard.configure(enabled=True, servers=["pbx.example"], users=["alice"])
    guard.resolve()
    assert guard.check("192.0.2.10:5060", "sip:bob@h") is WRONG_SOURCE


@pytest.mark.parametrize("servers", [[], [""]])
def test_off_when_asked_or_without_a_registrar(servers: list[str]) -> None:
    guard = InboundGuard(_dns({}))
    guard.configure(enabled=False, servers=["127.0.0.1:5070"], users=["alice"])
    assert guard.check("203.0.113.5:5060", "sip:anyone@h") is None
    guard.configure(enabled=True, servers=servers, users=["you"])  # the demo line: no registrar
    assert not guard.enabled
    assert guard.check("127.0.0.1:41000", "sip:you@127.0.0.1") is None


def test_each_refusal_is_one_log_line_with_a_running_count(caplog: pytest.LogCaptureFixture) -> None:
    guard = InboundGuard(_dns({}))
    with caplog.at_level(logging.WARNING, logger="softclock.sip.inbound"):
        assert guard.count("INVITE", "127.0.0.1:40001", WRONG_SOURCE) == 1
        assert guard.count("INVITE", "127.0.0.1:40001", NOT_OURS) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "refused INVITE from 127.0.0.1:40001: 403, not from the registrar or proxy (1 refused since start)",
        "refused INVITE from 127.0.0.1:40001: 404, not addressed to this account (2 refused since start)",
    ]


@pytest.mark.parametrize(
    ("server", "transport", "parsed"),
    [
        ("pbx.example", "udp", ("pbx.example", 5060)),
        ("pbx.example", "tls", ("pbx.example", 5061)),
        ("127.0.0.1:5070", "udp", ("127.0.0.1", 5070)),
        ("[::1]:5070", "tcp", ("::1", 5070)),
        ("[::1]", "tcp", ("::1", 5060)),
        ("sip:pbx.example:5080;transport=tcp", "tcp", ("pbx.example", 5080)),
    ],
)
def test_split_server(server: str, transport: str, parsed: tuple[str, int]) -> None:
    assert split_server(server, transport) == parsed
