"""Run inside a network namespace with only loopback (see tests/e2e/test_offline.py):
register with a server name that cannot be resolved and dial an unknown host,
printing each outcome as a JSON line. No packet can leave the namespace."""

from __future__ import annotations

import json
import queue

from softclock import events as ev
from softclock.sip.config import AccountConfig, EngineConfig
from softclock.sip.engine import SipEngine


def main() -> None:
    events: queue.Queue[ev.Event] = queue.Queue()
    engine = SipEngine(events.put, EngineConfig(bind_address="127.0.0.1", log_level=0))
    engine.start()
    try:
        engine.set_account(
            AccountConfig(user="alice", domain="sip.test", server="pbx.unknown-host.test", password="pw-offline")
        )
        while True:
            event = events.get(timeout=30)
            if isinstance(event, ev.RegistrationChanged) and event.state is not ev.RegState.REGISTERING:
                print(json.dumps({"kind": "registration", "state": event.state.value, "message": event.message}))
                break
        engine.make_call("sip:bob@other.unknown-host.test")
        while True:
            event = events.get(timeout=30)
            if isinstance(event, ev.CallFailed):
                print(json.dumps({"kind": "call", "message": event.message}))
                break
            if isinstance(event, ev.CallEnded):
                print(json.dumps({"kind": "call", "message": f"ended {event.sip_status} {event.reason}"}))
                break
    finally:
        engine.shutdown()


if __name__ == "__main__":
    main()
