"""The engine over TLS with SRTP, against Kamailio's TLS listener (test CA)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from softclock import events as ev
from tests.helpers.baresip import Baresip
from tests.helpers.harness import PhoneHarness
from tests.helpers.kamailio import Kamailio
from tests.helpers.sipfixtures import DEFAULT_USERS, require_sip_tools


@pytest.fixture(scope="module")
def tls_kamailio(tmp_path_factory) -> Iterator[Kamailio]:  # type: ignore[no-untyped-def]
    require_sip_tools()
    k = Kamailio(tmp_path_factory.mktemp("kamailio-tls"), DEFAULT_USERS, tls=True)
    k.start()
    yield k
    k.stop()


class _Tls:
    def __init__(self, k: Kamailio) -> None:
        self.domain, self.host, self.port = k.domain, k.host, k.tls_port


@pytest.fixture
def phone(tmp_path: Path) -> Iterator[PhoneHarness]:
    harness = PhoneHarness(tmp_path / "data")
    yield harness
    harness.close()


def test_registers_over_tls_with_the_servers_ca(phone: PhoneHarness, tls_kamailio: Kamailio) -> None:
    phone.account(_Tls(tls_kamailio), transport="tls", tls_ca_file=str(tls_kamailio.tls_ca.ca_cert))
    reg = phone.registered()
    assert reg.state is ev.RegState.REGISTERED, reg.message
    assert reg.message == "Registered as alice@sip.test"


def test_a_certificate_from_another_ca_is_refused_in_words(phone: PhoneHarness, tls_kamailio: Kamailio) -> None:
    phone.account(_Tls(tls_kamailio), transport="tls", tls_ca_file=str(tls_kamailio.tls_ca.other_ca_cert))
    reg = phone.registered()
    assert reg.state is ev.RegState.FAILED
    assert reg.message.startswith("The server's TLS certificate was refused: The certificate is untrusted")


def test_call_over_tls_with_mandatory_srtp(phone: PhoneHarness, tls_kamailio: Kamailio, tmp_path: Path) -> None:
    phone.account(_Tls(tls_kamailio), transport="tls", srtp="mandatory", tls_ca_file=str(tls_kamailio.tls_ca.ca_cert))
    assert phone.registered().state is ev.RegState.REGISTERED
    with Baresip(tmp_path / "bob", tls_kamailio, "bob", "bobpass", mediaenc="srtp-mand") as bob:
        bob.start()
        handle = phone.engine.make_call("sip:bob@sip.test")
        phone.wait_for(ev.CallConnected, lambda e: e.handle == handle)
        bob.wait_event("CALL_ESTABLISHED", timeout=10)
        phone.engine.hangup(handle)
        ended = phone.wait_for(ev.CallEnded)
    assert ended.sip_status == 200
