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

Measured cost on the 2-core test machine (4 interfaces): one poll takes
160-180 us (``tests/unit/sip/test_netwatch.py`` prints it), i.e. under 0.01 %
of a core at the default 2 s interval. Netlink notifications would cost
nothing while idle but are Linux-only; polling works the same everywhere.
"""

from __future__ import annotations

import logging
import socket
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
    """

    def __init__(
        self,
        on_change: Callable[[str], None],
        interval_s: float = 2.0,
        jump_s: float = 5.0,
        clocks: Clocks = _clocks,
        addresses: Callable[[], Addresses] = host_addresses,
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

    def _wait_s(self) -> float:
        return self._interval

    def check_once(self) -> str:
        """One poll: the reason to re-register (also passed to ``on_change``), or ``""``."""
        mono, wall = self._clocks()
        last_mono, last_wall = self._last_clocks
        self._last_clocks = (mono, wall)
        reasons = []
        slept = max((wall - last_wall) - (mono - last_mono), (mono - last_mono) - self._interval)
        if slept > self._jump:
            reasons.append(f"resumed after about {slept:.0f} s asleep")
        try:
            now = self._addresses()
        except OSError as exc:  # the OS would not list interfaces: try again next poll
            log.warning("could not list the network addresses: %s", exc)
            now = self._seen
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
