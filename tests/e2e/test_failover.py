"""Registrar failover against two real Kamailio instances."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from softclock import events as ev
from tests.helpers import sipp
from tests.helpers.harness import PhoneHarness


def test_fails_over_to_the_backup_and_returns_to_the_primary(tmp_path: Path, kamailio_factory) -> None:  # type: ignore[no-untyped-def]
    primary = kamailio_factory()
    backup = kamailio_factory()
    phone = PhoneHarness(tmp_path / "data")
    try:
        phone.account(primary, backup_servers=(f"{backup.host}:{backup.port}",))
        first = phone.registered()
        assert first.state is ev.RegState.REGISTERED
        assert first.server == f"{primary.host}:{primary.port}"

        os.killpg(primary.pid, signal.SIGSTOP)  # every process of it: alive but silent, no ICMP
        stopped = time.monotonic()
        moved = phone.wait_for(
            ev.RegistrationChanged,
            lambda e: e.state is ev.RegState.REGISTERED and e.server.endswith(f":{backup.port}"),
            timeout=10,
        )
        print(f"failover took {moved.mono - stopped:.2f} s")
        assert moved.message.endswith(f"(backup server {backup.host}:{backup.port})")

        with sipp.uas(backup, "bob", "bobpass", talk_ms=800) as far:
            phone.engine.make_call("sip:bob@sip.test")
            phone.wait_for(ev.CallConnected)
            phone.wait_for(ev.CallEnded)
            assert far.wait(10) == 0

        os.killpg(primary.pid, signal.SIGCONT)
        back = phone.wait_for(
            ev.RegistrationChanged,
            lambda e: e.state is ev.RegState.REGISTERED and e.server.endswith(f":{primary.port}"),
            timeout=15,
        )
        assert back.message == "Registered as alice@sip.test"
    finally:
        if primary.pid:
            os.killpg(primary.pid, signal.SIGCONT)
        phone.close()
