"""What the SIP engine is told: plain frozen dataclasses, no pjsua2.

The core (``app.py``, ``phone.py``) and the UI build and type against these
without loading pjsua2; :mod:`softclock.sip.builders` turns them into pjsua2's
own configuration objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from softclock import events as ev

Sink = Callable[[ev.Event], None]

DTMF_DIGITS = frozenset("0123456789*#ABCD")
SRTP_MODES = ("off", "optional", "mandatory")
TRANSPORTS = ("udp", "tcp", "tls")


@dataclass(frozen=True)
class AccountConfig:
    """What the engine needs to register one account. ``password`` is never logged."""

    user: str
    domain: str
    server: str = ""  # host[:port]; empty: a local account with no registrar
    auth_id: str = ""
    password: str = field(default="", repr=False)
    transport: str = "udp"
    outbound_proxy: str = ""
    display_name: str = ""
    auto_answer: bool = False
    backup_servers: tuple[str, ...] = ()  # tried in order when the server stops answering
    srtp: str = "off"  # off | optional | mandatory (SDES keys; over TLS only when mandatory)
    ice: bool = False
    keepalive_s: int = 15  # UDP keep-alive to the server, keeps NAT bindings open; 0 = off
    turn_server: str = ""  # host[:port] of a TURN relay for media (with ICE); "" = none
    turn_user: str = ""
    turn_password: str = field(default="", repr=False)
    tls_ca_file: str = ""  # "" = the system's CA bundle
    expires_s: int = 300
    retry_interval_s: int = 30
    # Out-of-dialog requests (calls) are accepted only from the registrar, its backups and the
    # outbound proxy, to our own user; True turns that off (peer-to-peer set-ups).
    allow_direct_calls: bool = False

    @property
    def address(self) -> str:
        return f"{self.user}@{self.domain}"

    @property
    def servers(self) -> tuple[str, ...]:
        """The registrar first, then its backups."""
        return (self.server, *self.backup_servers)


@dataclass(frozen=True)
class EngineConfig:
    bind_address: str = ""  # "" = all interfaces
    public_address: str = ""
    local_port: int = 0
    null_audio: bool = True  # no sound at all (tests, headless); else native devices or the Python bridge
    playback_device: str = ""  # "" = the system default
    capture_device: str = ""
    log_level: int = 3
    user_agent: str = "Softclock"
    stun_servers: tuple[str, ...] = ()  # host[:port] each, tried in order; empty: no STUN
    keepalive_s: int = 15  # TCP/TLS: OS keep-alive probes after this many idle seconds; 0 = off
    watch_network: bool = True  # re-register after a resume from sleep or an address change
    network_poll_s: float = 2.0
