"""Only the registrar rings us: which out-of-dialog requests the phone accepts.

A softphone listens on a port anyone can send to. Without a check, a stranger's
INVITE sent straight to our contact address rings like a real call, fills the
call slots and becomes billable time. By default the phone accepts an
out-of-dialog request only when

* it comes from the registrar, one of its backups or the outbound proxy (the
  source address, IP and port, resolved from the configured hosts, plus the
  address each successful registration was answered from; over TLS and TCP the
  registrar sends on the connection we opened to it, so its source is the
  server's own port and a new connection from elsewhere does not match), and
* its request URI names our own user (the address of record's user, which is
  also the user of our Contact).

Anything else is refused (403 from a wrong source, 404 to another user)
without a call or any call event, and counted in the log. ``[sip]
allow_direct_calls = true`` turns the check off for peer-to-peer set-ups; an
account without a registrar (the demo line) has nothing to check against and
is not guarded.

Pure Python, no pjsua2: the engine asks :meth:`InboundGuard.check` from its
callbacks and runs :meth:`InboundGuard.resolve` on a helper thread (DNS may be
slow; it never runs on pjsua2's threads).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from softclock.sip.sipmsg import normal_ip, split_source, uri_user

log = logging.getLogger("softclock.sip.inbound")

Address = tuple[str, int]
Resolver = Callable[[str, int], Iterable[str]]

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}


@dataclass(frozen=True)
class Refusal:
    code: int  # the SIP response: 403 or 404
    why: str  # for the log


WRONG_SOURCE = Refusal(403, "not from the registrar or proxy")
NOT_OURS = Refusal(404, "not addressed to this account")


def system_resolver(host: str, port: int) -> list[str]:
    """Every IP address ``host`` resolves to (none if it does not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def split_server(server: str, transport: str) -> tuple[str, int]:
    """``host[:port]`` (also ``[v6]:port`` and a leading ``sip:``) -> (host, port or the transport's default)."""
    text = server.strip()
    for scheme in ("sips:", "sip:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    text = text.split(";", 1)[0]
    default = DEFAULT_PORTS.get(transport, 5060)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    return host, int(port) if port.isdigit() else default


class InboundGuard:
    """Decides whether an out-of-dialog request may reach the phone. Thread-safe.

    Args:
        resolve: host, port -> IP addresses (injectable for tests).
    """

    def __init__(self, resolve: Resolver = system_resolver) -> None:
        self._resolve = resolve
        self._lock = threading.Lock()
        self._enabled = False
        self._hosts: tuple[tuple[str, int], ...] = ()
        self._users: frozenset[str] = frozenset()
        self._resolved: frozenset[Address] = frozenset()
        self._learned: frozenset[Address] = frozenset()
        self._generation = 0
        self.refused = 0  # since start, every kind

    @property
    def enabled(self) -> bool:
        return self._enabled

    def configure(
        self, *, enabled: bool, servers: Sequence[str] = (), transport: str = "udp", users: Sequence[str] = ()
    ) -> None:
        """A new account: ``servers`` are the registrar, its backups and the outbound proxy.

        Addresses that are IP literals count at once; names count after :meth:`resolve`.
        """
        hosts = tuple(dict.fromkeys(split_server(s, transport) for s in servers if s.strip()))
        literal = frozenset((ip, port) for host, port in hosts if (ip := normal_ip(host)))
        with self._lock:
            self._enabled = enabled and bool(hosts)
            self._hosts = hosts
            self._users = frozenset(u for u in users if u)
            self._resolved = literal
            self._learned = frozenset()
            self._generation += 1

    def resolve(self) -> None:
        """Look the configured hosts up again (blocking: run it on a helper thread)."""
        with self._lock:
            hosts, generation = self._hosts, self._generation
        found: set[Address] = set()
        for host, port in hosts:
            ip = normal_ip(host)
            if ip:
                found.add((ip, port))
                continue
            for address in self._resolve(host, port):
                if normal := normal_ip(address):
                    found.add((normal, port))
        with self._lock:
            if generation != self._generation:
                return  # the account changed meanwhile
            self._resolved = frozenset(found)
        log.debug("inbound requests accepted from %d address(es)", len(found))

    def learn(self, source: str) -> None:
        """The registrar answered a REGISTER from ``source`` (``ip:port``): it may ring us from there."""
        address = split_source(source)
        if address is None:
            return
        with self._lock:
            if address not in self._learned and self._enabled:
                self._learned = self._learned | {address}

    def check(self, source: str, request_uri: str) -> Refusal | None:
        """None if an out-of-dialog request from ``source`` to ``request_uri`` may proceed."""
        with self._lock:
            if not self._enabled:
                return None
            allowed = self._resolved | self._learned
            users = self._users
        address = split_source(source)
        if address is None or address not in allowed:
            return WRONG_SOURCE
        if uri_user(request_uri) not in users:
            return NOT_OURS
        return None

    def count(self, method: str, source: str, refusal: Refusal, answered: str = "") -> int:
        """Log one refusal (no names, numbers or secrets: the method, the source and why)."""
        with self._lock:
            self.refused += 1
            count = self.refused
        code = answered or str(refusal.code)
        log.warning(
            "refused %s from %s: %s, %s (%d refused since start)",
            method,
            source,
            code,
            refusal.why,
            count,
        )
        return count
