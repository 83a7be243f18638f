"""Run inside a network namespace with only loopback (see
tests/e2e/test_staying_registered.py): register with a server the host has
no route to and print, as JSON lines, the first two failures the engine
reports. No packet can leave the namespace."""

from __future__ import annotations

import json
import queue
import time

from softclock import events as ev
from softclock.sip.config import AccountConfig, EngineConfig
from softclock.sip.engine import SipEngine


def main() -> None:
    events: queue.Queue[ev.Event] = queue.Queue()
    engine = SipEngine(events.put, EngineConfig(log_level=0))
    engine.start()
    try:
        engine.set_account(
            AccountConfig(user="alice", domain="sip.test", server="192.0.2.1:5060", password="pw-noroute")
        )
        started, failures = time.monotonic(), 0
        while failures < 2:
            event = events.get(timeout=15)
            if isinstance(event, ev.RegistrationChanged) and event.state is ev.RegState.FAILED:
                failures += 1
                print(json.dumps({"message": event.message, "after_s": round(event.mono - started, 1)}), flush=True)
    finally:
        engine.shutdown()


if __name__ == "__main__":
    main()
