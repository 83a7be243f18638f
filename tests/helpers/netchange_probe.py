"""Run inside a network namespace with only loopback (see
tests/e2e/test_staying_registered.py): start Kamailio there, register, add the
address 127.0.0.2 to ``lo`` and report, as JSON lines, what the engine does on
its own: it must notice the new address and register again; then sipp calls
alice to show the registration holds. No packet can leave the namespace."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from softclock import events as ev
from softclock.sip.config import AccountConfig, EngineConfig
from softclock.sip.engine import SipEngine
from tests.helpers import sipp
from tests.helpers.kamailio import Kamailio
from tests.helpers.sipfixtures import DEFAULT_USERS


def _say(**line: object) -> None:
    print(json.dumps(line), flush=True)


def _next_registration(events: queue.Queue[ev.Event], timeout: float = 15.0) -> ev.RegistrationChanged:
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(event, ev.RegistrationChanged):
            return event


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Kamailio(Path(tmp), DEFAULT_USERS) as server:
        events: queue.Queue[ev.Event] = queue.Queue()
        bind = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"  # "" = all interfaces, as the app does
        engine = SipEngine(events.put, EngineConfig(bind_address=bind, log_level=0, network_poll_s=0.2))
        engine.start()
        try:
            engine.set_account(
                AccountConfig(
                    user="alice",
                    domain="sip.test",
                    server=f"{server.host}:{server.port}",
                    password=DEFAULT_USERS["alice"],
                    auto_answer=True,
                )
            )
            first = _next_registration(events)
            while first.state is ev.RegState.REGISTERING:
                first = _next_registration(events)
            _say(kind=first.state.value, message=first.message)

            subprocess.run(["ip", "addr", "add", "127.0.0.2/8", "dev", "lo"], check=True)
            added = time.monotonic()
            _say(kind="address-added")
            asked = _next_registration(events)
            _say(kind=asked.state.value, message=asked.message, after_s=round(asked.mono - added, 3))
            done = _next_registration(events)
            _say(kind=done.state.value, message=done.message)

            with sipp.uac(server, "alice", talk_ms=300) as caller:
                rc = caller.wait(20)
            _say(kind="call", sipp_rc=rc)
        finally:
            engine.shutdown()


if __name__ == "__main__":
    main()
