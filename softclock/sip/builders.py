"""pjsua2's configuration objects, built from :mod:`softclock.sip.config`.

Functions of their arguments only: no endpoint, no engine, no network. pjsua2's
config structs can be made and inspected without ``libCreate()``, so each
choice here is tested on its own (``tests/unit/test_sip_builders.py``).
"""

from __future__ import annotations

import os
import socket

import pjsua2 as pj

from softclock.sip.config import AccountConfig, EngineConfig

# pjsip's message log: the level at which it prints each message it sends and
# receives. The engine runs pjsip at least at this level (see pjwrap.LogWriter).
MESSAGE_LOG_LEVEL = 4

SRTP_USE = {
    "off": pj.PJMEDIA_SRTP_DISABLED,
    "optional": pj.PJMEDIA_SRTP_OPTIONAL,
    "mandatory": pj.PJMEDIA_SRTP_MANDATORY,
}

_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, Alpine
)

TCP_NODELAY = (6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY, on


def system_ca_bundle() -> str:
    """The OS's CA bundle (the wheel's OpenSSL 1.0.2 does not find it by itself)."""
    return next((path for path in _CA_BUNDLES if os.path.exists(path)), "")


def tcp_keepalive_options(idle_s: int) -> list[tuple[int, int, int]]:
    """(level, option, value) for OS TCP keep-alives after ``idle_s`` idle seconds."""
    if idle_s <= 0:
        return []
    opts = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    # Linux and Windows call the idle time TCP_KEEPIDLE, macOS TCP_KEEPALIVE.
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    if idle is not None:
        opts.append((socket.IPPROTO_TCP, idle, idle_s))
    if hasattr(socket, "TCP_KEEPINTVL"):
        opts.append((socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, idle_s))
    return opts


def endpoint_config(cfg: EngineConfig, writer: pj.LogWriter) -> pj.EpConfig:
    """No pjsua threads (the engine polls), no media thread, pjsip's log to ``writer``.

    The caller keeps ``writer`` alive as long as the endpoint.
    """
    ep_cfg = pj.EpConfig()
    ep_cfg.uaConfig.threadCnt = 0
    ep_cfg.uaConfig.mainThreadOnly = False
    ep_cfg.uaConfig.userAgent = cfg.user_agent
    if cfg.stun_servers:
        stun = pj.StringVector()
        for server in cfg.stun_servers:
            stun.append(server)
        ep_cfg.uaConfig.stunServer = stun
        ep_cfg.uaConfig.stunIgnoreFailure = True
    ep_cfg.logConfig.writer = writer
    # At least the message log: the writer passes on only what cfg.log_level asks for.
    ep_cfg.logConfig.level = max(cfg.log_level, MESSAGE_LOG_LEVEL)
    ep_cfg.logConfig.consoleLevel = max(cfg.log_level, MESSAGE_LOG_LEVEL)
    ep_cfg.logConfig.msgLogging = True
    ep_cfg.logConfig.decor = 0
    # No media worker thread: RTP sockets share the SIP ioqueue our event
    # thread polls; a media thread would wake 100 times a second when idle.
    ep_cfg.medConfig.hasIoqueue = False
    ep_cfg.medConfig.threadCnt = 0
    return ep_cfg


def transport_config(cfg: EngineConfig, port: int) -> pj.TransportConfig:
    tcfg = pj.TransportConfig()
    tcfg.port = port
    if cfg.bind_address:
        tcfg.boundAddress = cfg.bind_address
    public = cfg.public_address or cfg.bind_address
    if public:
        tcfg.publicAddress = public
    return tcfg


def tcp_transport_config(cfg: EngineConfig) -> pj.TransportConfig:
    """The TCP transport's config: TCP_NODELAY on, and OS keep-alives.

    pjsip leaves Nagle on, so each request over TCP would wait ~40 ms for
    the peer's delayed ACK (measured: 49 ms call set-up instead of 5 ms).
    pjsip's own TCP/TLS keep-alive (a CRLF every 90 s, a compile-time
    setting pjsua2 does not expose) is too slow for NAT boxes that drop an
    idle TCP mapping after 30-60 s; the OS's keep-alive probes after
    ``keepalive_s`` idle seconds hold the mapping open.
    Note the field is ``sockOpts``: SWIG silently accepts a misspelt name.
    """
    tcfg = transport_config(cfg, 0)
    opts = pj.SockOptVector()
    for level, name, value in (TCP_NODELAY, *tcp_keepalive_options(cfg.keepalive_s)):
        opts.append(pj.SockOpt(level, name, value))
    tcfg.sockOptParams.sockOpts = opts
    return tcfg


def tls_transport_config(cfg: EngineConfig, ca_file: str) -> pj.TransportConfig:
    """TLS 1.2 (what the bundled OpenSSL 1.0.2 offers at most), server verified."""
    tcfg = tcp_transport_config(cfg)
    tls = tcfg.tlsConfig
    tls.CaListFile = ca_file or system_ca_bundle()
    tls.verifyServer = True
    tls.method = pj.PJSIP_TLSV1_2_METHOD
    tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2
    tls.msecTimeout = 5000
    return tcfg


def account_config(
    config: AccountConfig, server: str, tcp_id: int | None = None, tls_id: int | None = None
) -> pj.AccountConfig:
    """The account registering with ``server`` (the primary or a backup; "" = no registrar).

    ``tcp_id``/``tls_id``: the transports to pin the account to, when its transport is TCP or TLS.
    """
    acfg = pj.AccountConfig()
    name = f'"{config.display_name}" ' if config.display_name else ""
    acfg.idUri = f"{name}<sip:{config.user}@{config.domain}>" if name else f"sip:{config.user}@{config.domain}"
    tparam = {"tcp": ";transport=tcp", "tls": ";transport=tls"}.get(config.transport, "")
    if server:
        acfg.regConfig.registrarUri = f"sip:{server}{tparam}"
        acfg.regConfig.timeoutSec = config.expires_s
        acfg.regConfig.retryIntervalSec = config.retry_interval_s
        acfg.regConfig.firstRetryIntervalSec = config.retry_interval_s
        acfg.regConfig.randomRetryIntervalSec = 0
        # With backups, the primary's proxy would outlive it: route via the server in use.
        proxy = config.outbound_proxy if config.outbound_proxy and not config.backup_servers else server
        proxies = pj.StringVector()
        proxies.append(f"sip:{proxy};lr{tparam}")
        acfg.sipConfig.proxies = proxies
        cred = pj.AuthCredInfo("digest", "*", config.auth_id or config.user, 0, config.password)
        acfg.sipConfig.authCreds.append(cred)
    else:
        acfg.regConfig.registrarUri = ""
        acfg.regConfig.registerOnAdd = False
    if config.transport == "tcp" and tcp_id is not None:
        acfg.sipConfig.transportId = tcp_id
    if config.transport == "tls" and tls_id is not None:
        acfg.sipConfig.transportId = tls_id
    acfg.mediaConfig.srtpUse = SRTP_USE[config.srtp]
    # Keys travel in the SDP: insist on TLS for them only when SRTP is required.
    acfg.mediaConfig.srtpSecureSignaling = 1 if config.srtp == "mandatory" and config.transport == "tls" else 0
    acfg.natConfig.iceEnabled = config.ice
    # pjsip 2.15 sends each keep-alive after a random int(0.8 * interval) to
    # interval - 1 s: an interval of 1 gives 0, a flood (measured: 168,000
    # packets in 3.5 s). 2 is the least that works.
    acfg.natConfig.udpKaIntervalSec = max(config.keepalive_s, 2) if config.keepalive_s > 0 else 0
    if config.turn_server:
        acfg.natConfig.turnEnabled = True
        acfg.natConfig.turnServer = config.turn_server
        acfg.natConfig.turnConnType = pj.PJ_TURN_TP_UDP
        acfg.natConfig.turnUserName = config.turn_user
        acfg.natConfig.turnPasswordType = 0  # plain text, handed over in memory only
        acfg.natConfig.turnPassword = config.turn_password
    # Contact rewriting on: it is what makes handleIpChange re-register (it
    # skips accounts without it) and follows a NAT's public address; where
    # the registrar sees the address we send (loopback, a LAN) nothing changes.
    # 2, not 1: over TCP/TLS the Contact names the connection's own port, and
    # after the registrar restarts we register over a new connection; mode 1
    # ignores a port-only change on a private address, leaving the registrar
    # a Contact on the dead connection (incoming calls then failed, tested).
    acfg.natConfig.contactRewriteUse = 2
    acfg.natConfig.viaRewriteUse = 0
    acfg.natConfig.sdpNatRewriteUse = 0
    acfg.natConfig.sipOutboundUse = 0
    return acfg


def registrar_host(server: str) -> str:
    """``host:port`` -> ``host`` (an IPv6 literal or a bare host stays as it is), for sentences."""
    return server.rsplit(":", 1)[0] if server.count(":") == 1 else server
