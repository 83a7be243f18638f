"""The sleep and address-change detector, with an injected clock and address source."""

from __future__ import annotations

import time

from softclock.sip.netwatch import NetworkWatch, host_addresses


class FakeHost:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = 1_700_000_000.0
        self.addresses = frozenset({("lo", "127.0.0.1"), ("eth0", "192.0.2.10")})

    def clocks(self) -> tuple[float, float]:
        return self.mono, self.wall

    def tick(self, seconds: float = 2.0) -> None:
        self.mono += seconds
        self.wall += seconds


def _watch(host: FakeHost, changes: list[str]) -> NetworkWatch:
    return NetworkWatch(
        changes.append,
        interval_s=2.0,
        jump_s=5.0,
        clocks=host.clocks,
        addresses=lambda: host.addresses,
        notifications=None,
    )


def test_quiet_polls_report_nothing() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    for _ in range(5):
        host.tick()
        assert watch.check_once() == ""
    assert changes == []


def test_wall_clock_jumping_ahead_of_the_monotonic_one_is_a_sleep() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    host.tick()
    host.wall += 3600  # Linux and macOS: the monotonic clock stood still while suspended
    assert watch.check_once() == "resumed after about 3600 s asleep"
    host.tick()
    assert watch.check_once() == ""
    assert changes == ["resumed after about 3600 s asleep"]


def test_a_late_poll_is_a_sleep_where_the_monotonic_clock_counts_it() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    host.tick(602.0)  # Windows: both clocks went on, the poll woke up 10 minutes late
    assert watch.check_once() == "resumed after about 600 s asleep"


def test_small_jitter_and_ntp_slew_are_not_a_sleep() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    host.tick(2.5)
    host.wall += 1.0
    assert watch.check_once() == ""


def test_an_address_change_is_reported_once_it_has_settled() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    host.addresses = frozenset({("lo", "127.0.0.1")})  # Wi-Fi gone ...
    host.tick()
    assert watch.check_once() == ""  # not yet: it may still be changing
    host.addresses = frozenset({("lo", "127.0.0.1"), ("wlan0", "198.51.100.7")})  # ... and another joined
    host.tick()
    assert watch.check_once() == ""
    host.tick()
    assert watch.check_once() == "network addresses changed (+198.51.100.7, -192.0.2.10)"
    host.tick()
    assert watch.check_once() == ""
    assert changes == ["network addresses changed (+198.51.100.7, -192.0.2.10)"]


def test_a_flap_back_to_the_same_addresses_is_not_a_change() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    before = host.addresses
    host.addresses = frozenset({("lo", "127.0.0.1")})
    host.tick()
    watch.check_once()
    host.addresses = before
    host.tick()
    watch.check_once()
    host.tick()
    watch.check_once()
    assert changes == []


def test_sleep_and_new_address_are_one_report() -> None:
    host, changes = FakeHost(), []
    watch = _watch(host, changes)
    host.tick()
    watch.check_once()
    host.wall += 7200
    host.addresses = frozenset({("lo", "127.0.0.1"), ("eth0", "192.0.2.99")})
    host.tick()
    assert watch.check_once() == "resumed after about 7200 s asleep"
    host.tick()
    assert watch.check_once() == ""  # the re-registration after the sleep covered the new address
    assert len(changes) == 1


def test_an_os_error_listing_interfaces_is_not_a_change() -> None:
    host, changes = FakeHost(), []

    def addresses() -> frozenset[tuple[str, str]]:
        if host.mono > 1001:
            raise OSError("netlink busy")
        return host.addresses

    watch = NetworkWatch(changes.append, clocks=host.clocks, addresses=addresses, notifications=None)
    host.tick()
    assert watch.check_once() == ""


def test_the_real_address_source_lists_loopback_cheaply() -> None:
    found = host_addresses()
    assert any(addr == "127.0.0.1" for _, addr in found)
    started = time.perf_counter()
    for _ in range(100):
        host_addresses()
    per_poll = (time.perf_counter() - started) / 100
    print(f"host_addresses(): {per_poll * 1e6:.0f} us per poll")
    assert per_poll < 0.005


def test_with_netlink_only_the_clocks_are_read_until_the_kernel_says_something_changed() -> None:
    import socket
    import struct

    host, changes = FakeHost(), []
    reads = []

    def addresses() -> frozenset[tuple[str, str]]:
        reads.append(1)
        return host.addresses

    kernel, ours = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    watch = NetworkWatch(
        changes.append, interval_s=0.0, clocks=host.clocks, addresses=addresses, notifications=ours, clock_check_s=5.0
    )
    try:
        reads.clear()
        for _ in range(3):
            host.tick(5.0)
            assert watch.check_once() == ""
        assert reads == []  # quiet: no address poll at all
        host.addresses = host.addresses | {("wlan0", "10.0.0.9")}
        kernel.send(struct.pack("=IHHII", 16, 20, 0, 0, 0))  # RTM_NEWADDR
        watch.on_readable(ours)
        assert watch._wait_s() == 0.0  # settled at once (interval 0)
        assert watch.check_once() == "network addresses changed (+10.0.0.9)"
        assert changes == ["network addresses changed (+10.0.0.9)"]
    finally:
        kernel.close()
        watch.stop()


def test_a_real_netlink_socket_opens_on_linux() -> None:
    import sys

    from softclock.sip.netwatch import netlink_socket

    sock = netlink_socket()
    if sys.platform.startswith("linux"):
        assert sock is not None
        sock.close()
    else:
        assert sock is None
