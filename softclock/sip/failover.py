"""Registrar failover: watch each registrar with SIP OPTIONS and say which to use.

pjsip re-registers only when a registration expires or a request fails, so a
dead registrar would go unnoticed for minutes. A small watcher thread sends
OPTIONS (plain sockets, no pjsua2) to every configured server every few
seconds (3.7 s, 1.7 s with backups); a miss is confirmed by a second OPTIONS 0.3 s
later, two misses in a row (0.7 s each) mark a server down, one answer marks
it up, so a silent primary is left within about 3.5 s. The engine registers
with the first server that is up: the primary as soon as it answers again.

The same watcher serves an account with a single registrar: pjsip by itself
notices a dead registrar only when the registration is refreshed (minutes)
and, after a failure, retries only every ``retryIntervalSec``. The watcher
says at once that the server is unreachable (and why: no network, refused,
no answer), and when it answers again the engine re-registers at once. While
a server is down it is pinged every 0.5 s, so its return is seen within that.
"""

from __future__ import annotations

import errno
import logging
import secrets
import socket
from collections.abc import Callable, Sequence

from softclock.settings import split_host_port
from softclock.sip.poller import Poller

log = logging.getLogger("softclock.sip.failover")


NO_NETWORK = "no network"
REFUSED = "refused"
NO_ANSWER = "no answer"
UNKNOWN_HOST = "unknown host"

# Seconds between a server's first unanswered OPTIONS and the one that confirms it is down.
CONFIRM_S = 0.3
# Seconds between rounds while every server answers: one registrar / with backups.
QUIET_S = 3.7
QUIET_WITH_BACKUPS_S = 1.7

# Errors that mean this host has no route to the server (cable out, Wi-Fi off).
_NO_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EADDRNOTAVAIL, errno.EHOSTDOWN}
)


def options_probe(server: str, transport: str = "udp", timeout: float = 1.0) -> str:
    """``""`` when ``server`` (``host[:port]``) answers a SIP OPTIONS at all, else why
    not: :data:`NO_NETWORK`, :data:`REFUSED`, :data:`NO_ANSWER` or :data:`UNKNOWN_HOST`."""
    host, port = split_host_port(server)
    port = port or 5060
    branch = "z9hG4bK-sc-" + secrets.token_hex(6)
    call_id = "sc-ping-" + secrets.token_hex(8)
    proto = "TCP" if transport == "tcp" else "UDP"
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]
    except OSError:
        return UNKNOWN_HOST
    kind = socket.SOCK_STREAM if transport in ("tcp", "tls") else socket.SOCK_DGRAM
    try:
        with socket.socket(family, kind) as sock:
            sock.settimeout(timeout)
            sock.connect((host, port))
            if transport == "tls":
                return ""  # the port accepts connections: a TLS handshake per ping would cost more than it tells
            local_host, local_port = sock.getsockname()[:2]
            request = (
                f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/{proto} {local_host}:{local_port};branch={branch};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:softclock@{local_host}>;tag={secrets.token_hex(4)}\r\n"
                f"To: <sip:{host}:{port}>\r\n"
                f"Call-ID: {call_id}\r\n"
                "CSeq: 1 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            sock.sendall(request.encode())
            data = sock.recv(4096)
    except ConnectionRefusedError:  # UDP: the ICMP port-unreachable of a dead server
        return REFUSED
    except TimeoutError:
        return NO_ANSWER
    except OSError as exc:
        return NO_NETWORK if exc.errno in _NO_NETWORK_ERRNOS else NO_ANSWER
    return "" if data.startswith(b"SIP/2.0 ") and call_id.encode() in data else NO_ANSWER


class RegistrarWatch(Poller):
    """Pings ``servers`` and calls ``on_change(index)`` with the server to use.

    Args:
        servers: ``host[:port]`` strings, primary first.
        on_change: called on the watcher thread when the preferred server changes.
        interval_s: seconds between rounds of pings.
        ping: injectable for tests (True when the server answered).
        probe: injectable for tests, instead of ``ping``: ``""`` when the
            server answered, else why not (see :func:`options_probe`).
        on_status: called on the watcher thread with ``(index, up, why)`` when
            a server is marked down or up, or why it is down changes.
    """

    def __init__(
        self,
        servers: Sequence[str],
        transport: str,
        on_change: Callable[[int], None],
        interval_s: float = 1.0,
        timeout_s: float = 0.7,
        ping: Callable[[str, str, float], bool] | None = None,
        probe: Callable[[str, str, float], str] | None = None,
        on_status: Callable[[int, bool, str], None] | None = None,
    ) -> None:
        super().__init__("registrar-watch", log)
        self.servers = list(servers)
        self._transport = transport
        self._on_change = on_change
        self._on_status = on_status
        self._interval = interval_s
        self._timeout = timeout_s
        if probe is None and ping is not None:
            answered = ping
            probe = lambda server, transport, timeout: "" if answered(server, transport, timeout) else NO_ANSWER  # noqa: E731
        self._probe = probe or options_probe
        self._misses = [0] * len(self.servers)
        self._up = [True] * len(self.servers)
        self._why = [""] * len(self.servers)
        self.preferred = 0

    def _wait_s(self) -> float:
        # While a server is down, look more often: its return is what the user waits for.
        # After a first miss, ask again at once instead of a whole interval later: a dead
        # server is then told within interval + 2 timeouts + CONFIRM_S, no later than with
        # half the interval and two misses a whole interval apart, at half the idle pings.
        if any(up and misses == 1 for up, misses in zip(self._up, self._misses, strict=True)):
            return min(self._interval, CONFIRM_S)
        return self._interval if all(self._up) else min(self._interval, 0.5)

    def _join_s(self) -> float:
        return self._timeout + self._interval + 1

    def check_once(self) -> int:
        """One round of pings; returns the preferred server's index."""
        for index, server in enumerate(self.servers):
            why = self._probe(server, self._transport, self._timeout)
            if not why:
                self._misses[index] = 0
                if not self._up[index]:
                    log.info("registrar %s answers again", server)
                    self._up[index], self._why[index] = True, ""
                    self._status(index)
            else:
                self._misses[index] += 1
                if self._misses[index] >= 2 and (self._up[index] or why != self._why[index]):
                    log.warning("registrar %s does not answer: %s", server, why)
                    self._up[index], self._why[index] = False, why
                    self._status(index)
        preferred = next((i for i, up in enumerate(self._up) if up), self.preferred)
        if preferred != self.preferred:
            self.preferred = preferred
            self._on_change(preferred)
        return preferred

    def _status(self, index: int) -> None:
        if self._on_status is not None:
            self._on_status(index, self._up[index], self._why[index])
