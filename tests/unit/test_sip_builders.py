"""pjsua2's configuration from the engine's: pure builders, no endpoint (softclock.sip.builders)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pjsua2 as pj
import pytest

from softclock.sip import builders
from softclock.sip.config import AccountConfig, EngineConfig


def test_the_config_module_loads_no_pjsua2() -> None:
    probe = "import sys, softclock.sip.config, softclock.phone; print('pjsua2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


class _Writer(pj.LogWriter):
    def write(self, entry: pj.LogEntry) -> None:
        pass


def test_endpoint_no_threads_and_at_least_the_message_log() -> None:
    writer = _Writer()
    cfg = builders.endpoint_config(EngineConfig(log_level=2, user_agent="UA", stun_servers=("stun.test:3478",)), writer)
    assert (cfg.uaConfig.threadCnt, cfg.uaConfig.mainThreadOnly) == (0, False)
    assert (cfg.medConfig.threadCnt, cfg.medConfig.hasIoqueue) == (0, False)
    assert cfg.uaConfig.userAgent == "UA"
    assert list(cfg.uaConfig.stunServer) == ["stun.test:3478"] and cfg.uaConfig.stunIgnoreFailure
    assert (cfg.logConfig.level, cfg.logConfig.consoleLevel) == (4, 4)  # the writer passes on only level 2
    assert cfg.logConfig.msgLogging
    assert builders.endpoint_config(EngineConfig(log_level=5), writer).logConfig.level == 5


def test_transport_bound_and_public_address() -> None:
    cfg = builders.transport_config(EngineConfig(bind_address="127.0.0.1"), 5070)
    assert (cfg.port, cfg.boundAddress, cfg.publicAddress) == (5070, "127.0.0.1", "127.0.0.1")
    cfg = builders.transport_config(EngineConfig(bind_address="10.0.0.2", public_address="203.0.113.9"), 0)
    assert (cfg.boundAddress, cfg.publicAddress) == ("10.0.0.2", "203.0.113.9")


def test_tls_verifies_the_server_with_tls_1_2() -> None:
    cfg = builders.tls_transport_config(EngineConfig(keepalive_s=0), "/ca.pem")
    assert cfg.tlsConfig.CaListFile == "/ca.pem" and cfg.tlsConfig.verifyServer
    assert cfg.tlsConfig.method == pj.PJSIP_TLSV1_2_METHOD
    assert [(o.level, o.optName) for o in cfg.sockOptParams.sockOpts] == [(socket.IPPROTO_TCP, socket.TCP_NODELAY)]
    assert builders.tls_transport_config(EngineConfig(), "").tlsConfig.CaListFile == builders.system_ca_bundle()


def _account(**kw: object) -> AccountConfig:
    return AccountConfig(**{"user": "alice", "domain": "sip.test", "password": "pw", **kw})  # type: ignore[arg-type]


def test_a_registered_account() -> None:
    cfg = builders.account_config(_account(server="127.0.0.1:5070", display_name="Alice A"), "127.0.0.1:5070")
    assert cfg.idUri == '"Alice A" <sip:alice@sip.test>'
    assert cfg.regConfig.registrarUri == "sip:127.0.0.1:5070"
    assert list(cfg.sipConfig.proxies) == ["sip:127.0.0.1:5070;lr"]
    assert (cfg.regConfig.timeoutSec, cfg.regConfig.retryIntervalSec, cfg.regConfig.randomRetryIntervalSec) == (
        300,
        30,
        0,
    )
    (cred,) = list(cfg.sipConfig.authCreds)
    assert (cred.username, cred.data, cred.realm) == ("alice", "pw", "*")
    assert cfg.natConfig.contactRewriteUse == 2 and cfg.natConfig.udpKaIntervalSec == 15


def test_a_local_account_does_not_register() -> None:
    cfg = builders.account_config(_account(domain="127.0.0.1:5080"), "")
    assert cfg.idUri == "sip:alice@127.0.0.1:5080"
    assert cfg.regConfig.registrarUri == "" and not cfg.regConfig.registerOnAdd
    assert list(cfg.sipConfig.proxies) == []


def test_proxy_transport_and_backups() -> None:
    config = _account(server="a.test", outbound_proxy="proxy.test", transport="tcp")
    cfg = builders.account_config(config, "a.test", tcp_id=7, tls_id=9)
    assert list(cfg.sipConfig.proxies) == ["sip:proxy.test;lr;transport=tcp"]
    assert cfg.regConfig.registrarUri == "sip:a.test;transport=tcp"
    assert cfg.sipConfig.transportId == 7
    # With backups the proxy would outlive a dead primary: route via the server in use.
    config = _account(server="a.test", outbound_proxy="proxy.test", backup_servers=("b.test",))
    assert list(builders.account_config(config, "b.test").sipConfig.proxies) == ["sip:b.test;lr"]


@pytest.mark.parametrize(
    ("srtp", "transport", "use", "secure"),
    [
        ("off", "udp", pj.PJMEDIA_SRTP_DISABLED, 0),
        ("optional", "tls", pj.PJMEDIA_SRTP_OPTIONAL, 0),
        ("mandatory", "udp", pj.PJMEDIA_SRTP_MANDATORY, 0),
        ("mandatory", "tls", pj.PJMEDIA_SRTP_MANDATORY, 1),
    ],
)
def test_srtp(srtp: str, transport: str, use: int, secure: int) -> None:
    cfg = builders.account_config(_account(server="a.test", srtp=srtp, transport=transport), "a.test")
    assert (cfg.mediaConfig.srtpUse, cfg.mediaConfig.srtpSecureSignaling) == (use, secure)


@pytest.mark.parametrize(("keepalive", "interval"), [(0, 0), (1, 2), (2, 2), (25, 25)])
def test_udp_keepalive_never_below_two_seconds(keepalive: int, interval: int) -> None:
    cfg = builders.account_config(_account(server="a.test", keepalive_s=keepalive), "a.test")
    assert cfg.natConfig.udpKaIntervalSec == interval


def test_turn_relay() -> None:
    cfg = builders.account_config(
        _account(server="a.test", ice=True, turn_server="turn.test:3478", turn_user="u", turn_password="t"), "a.test"
    )
    assert cfg.natConfig.iceEnabled and cfg.natConfig.turnEnabled
    assert (cfg.natConfig.turnServer, cfg.natConfig.turnUserName, cfg.natConfig.turnPassword) == (
        "turn.test:3478",
        "u",
        "t",
    )


@pytest.mark.parametrize(
    ("server", "host"), [("pbx.test:5060", "pbx.test"), ("pbx.test", "pbx.test"), ("[::1]:5060", "[::1]:5060")]
)
def test_registrar_host(server: str, host: str) -> None:
    assert builders.registrar_host(server) == host
