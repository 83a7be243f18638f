"""Notice a resume from sleep and a change of the host's addresses.

pjsip does not notice either by itself (see pjproject's "Handling IP address
change" guide): after a laptop wakes up or moves to another network, its
registration and NAT bindings are stale until the next refresh, minutes later.
:class:`NetworkWatch` polls two cheap things every ``interval_s`` seconds and
says what changed, so the engine can call ``Endpoint.handleIpChange``:

* **sleep**: Linux and macOS stop the monotonic clock while suspended and the
  wall clock keeps going, so the wall clock jumps ahead of it; on Windows the
  monotonic clock counts the sleep, so the poll itself wakes up late. Either
  gap beyond ``jump_s`` counts (a large manual or NTP clock step too, which
  costs one harmless re-registration).
* **addresses**: the set of (interface, address) pairs from
  ``psutil.net_if_addrs()`` (``getifaddrs`` on Linux and macOS, which lists
  secondary addresses too). A new set is reported once it has held for one
  more poll, so a DHCP hand-over in progress is reported once, settled:
  pjproject asks for ``handleIpChange`` after the new address is usable.

On Linux the addresses are not polled: the watcher's thread sleeps in
``select`` on an ``AF_NETLINK`` socket subscribed to the kernel's address and
route changes (``RTMGRP_IPV4_IFADDR``, ``RTMGRP_IPV6_IFADDR``,
``RTMGRP_IPV4_ROUTE``) and reads the addresses once the messages have been
quiet for ``min(interval_s, 1)`` seconds (a DHCP hand-over is reported once,
settled). Between messages it wakes every ``clock_check_s`` (5 s) only to
compare the clocks (a few microseconds; a resume is seen within that). Where
there is no netlink (macOS, Windows) it polls both every ``interval_s`` as
before: one address poll takes 160-180 us on the 2-core test machine.
"""

from __future__ import annotations

import logging
import socket
import struct
import sys
import time
from collections.abc import Callable

from softclock.sip.poller import Poller

log = logging.getLogger("softclock.sip.netwatch")

Addresses = frozenset[tuple[str, str]]
Clocks = Callable[[], tuple[float, float]]  # (monotonic, wall) seconds


def host_addresses() -> Addresses:
    """Every IPv4 and IPv6 address of every interface, as (interface, address)."""
    import psutil

    found = set()
    for name, addrs in psutil.net_if_addrs().items():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                found.add((name, addr.address))
    return frozenset(found)


# <linux/rtnetlink.h>: the multicast groups of address and route changes.
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
NETLINK_GROUPS = RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR


def netlink_socket(groups: int = NETLINK_GROUPS) -> socket.socket | None:
    """A non-blocking rtnetlink socket told of address and route changes (None off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    except (OSError, AttributeError) as exc:
        log.info("no netlink socket (%s): polling the addresses", exc)
        return None
    try:
        sock.bind((0, groups))
    except OSError as exc:
        sock.close()
        log.info("no netlink subscription (%s): polling the addresses", exc)
        return None
    sock.setblocking(False)
    return sock


def netlink_messages(data: bytes) -> list[int]:
    """The message types (RTM_NEWADDR, RTM_DELROUTE ...) in one netlink datagram."""
    kinds = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        kinds.append(kind)
        offset += (length + 3) & ~3
    return kinds


def _clocks() -> tuple[float, float]:
    return time.monotonic(), time.time()


class NetworkWatch(Poller):
    """Calls ``on_change(reason)`` after a resume from sleep or an address change.

    Args:
        on_change: called on the watcher's thread with a sentence saying why.
        interval_s: seconds between polls.
        jump_s: a gap between the clocks (or a late poll) beyond this is a sleep.
        clocks: injectable ``() -> (monotonic, wall)``.
        addresses: injectable address source.
        notifications: a socket the kernel tells of address changes (see
            :func:`netlink_socket`, the default on Linux); None polls.
        clock_check_s: with notifications, how often only the clocks are compared.
    """

    def __init__(
        self,
        on_change: Callable[[str], None],
        interval_s: float = 2.0,
        jump_s: float = 5.0,
        clocks: Clocks = _clocks,
        addresses: Callable[[], Addresses] = host_addresses,
        notifications: socket.socket | None | bool = True,
        clock_check_s: float = 5.0,
    ) -> None:
        super().__init__("network-watch", log)
        self._on_change = on_change
        self._interval = interval_s
        self._jump = jump_s
        self._clocks = clocks
        self._addresses = addresses
        self._last_clocks = clocks()
        self._reported = addresses()  # the set the SIP stack last adapted to
        self._seen = self._reported  # the set of the previous poll
        if notifications is True:
            notifications = netlink_socket()
        self._netlink: socket.socket | None = notifications or None
        self._clock_check = clock_check_s
        self._settle_at: float | None = None  # when to read the addresses after netlink's messages

    def _sockets(self) -> list[socket.socket]:
        return [self._netlink] if self._netlink is not None else []

    def _wait_s(self) -> float:
        if self._netlink is None:
            return self._interval
        if self._settle_at is not None:
            return max(0.0, self._settle_at - time.monotonic())
        return self._clock_check

    def _join_s(self) -> float:
        return max(self._interval, self._clock_check) + 1.0

    def on_readable(self, sock: socket.socket) -> None:
        """The kernel says addresses or routes changed: read them once it has been quiet a moment."""
        kinds: list[int] = []
        while True:
            try:
                kinds += netlink_messages(sock.recv(65536))
            except BlockingIOError:
                break
            except OSError as exc:  # ENOBUFS: messages were lost; the read below still sees the result
                log.debug("netlink: %s", exc)
                break
        log.debug("netlink: %d message(s)", len(kinds))
        self._settle_at = time.monotonic() + min(self._interval, 1.0)

    def stop(self) -> None:
        super().stop()
        if self._netlink is not None:
            self._netlink.close()
            self._netlink = None

    def check_once(self) -> str:
        if self._netlink is None:
            return self._check(addresses=True)
        if self._settle_at is not None and time.monotonic() >= self._settle_at:
            self._settle_at = None
            self._seen = self._read_addresses()  # quiet since the last message: settled
            return self._check(addresses=True)
        return self._check(addresses=False)

    def _read_addresses(self) -> Addresses:
        try:
            return self._addresses()
        except OSError as exc:  # the OS would not list interfaces: try again next poll
            log.warning("could not list the network addresses: %s", exc)
            return self._seen

    def _check(self, addresses: bool) -> str:
        """One poll: the reason to re-register (also passed to ``on_change``), or ``""``."""
        mono, wall = self._clocks()
        last_mono, last_wall = self._last_clocks
        self._last_clocks = (mono, wall)
        reasons = []
        period = self._interval if self._netlink is None else self._clock_check
        slept = max((wall - last_wall) - (mono - last_mono), (mono - last_mono) - period)
        if slept > self._jump:
            reasons.append(f"resumed after about {slept:.0f} s asleep")
            addresses = True
        now = self._read_addresses() if addresses else self._seen
        if now != self._reported and now == self._seen:
            gone = sorted(addr for _, addr in self._reported - now)
            new = sorted(addr for _, addr in now - self._reported)
            parts = [f"+{a}" for a in new] + [f"-{a}" for a in gone]
            reasons.append(f"network addresses changed ({', '.join(parts) or 'interfaces renamed'})")
            self._reported = now
        elif reasons:
            self._reported = now  # handleIpChange after a sleep adapts to the current set too
        self._seen = now
        reason = "; ".join(reasons)
        if reason:
            log.info("network change: %s", reason)
            self._on_change(reason)
        return reason
