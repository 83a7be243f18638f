"""Drive the real SIP engine and capture without Qt: events go through a queue
that the test thread drains, exactly as the UI's bridge would deliver them."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from softclock import events as ev
from softclock.capture import Capture
from softclock.sip.config import AccountConfig, EngineConfig
from softclock.sip.engine import SipEngine
from softclock.store.db import Store, open_store

E = TypeVar("E", bound=ev.Event)


class PhoneHarness:
    def __init__(self, data: Path, **engine: object) -> None:
        self.queue: queue.Queue[ev.Event] = queue.Queue()
        self.seen: list[ev.Event] = []
        self.store: Store = open_store(data)
        self.capture = Capture(self.store, timekeeper=lambda: "alice")
        engine.setdefault("null_audio", True)
        config = EngineConfig(bind_address="127.0.0.1", **engine)  # type: ignore[arg-type]
        self.engine = SipEngine(self.queue.put, config)
        self.engine.start()

    def account(self, kamailio: object, user: str = "alice", password: str = "alicepass", **kw: object) -> None:
        self.engine.set_account(
            AccountConfig(
                user=user,
                domain=kamailio.domain,  # type: ignore[attr-defined]
                server=f"{kamailio.host}:{kamailio.port}",  # type: ignore[attr-defined]
                password=password,
                **kw,  # type: ignore[arg-type]
            )
        )

    def wait_for(self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = 15.0) -> E:
        """Deliver events to capture until one of ``kind`` matching ``where`` arrives."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                names = [type(e).__name__ for e in self.seen]
                raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {names}")
            try:
                event = self.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            self.capture.handle(event)
            if isinstance(event, kind) and where(event):
                return event

    def registered(self, timeout: float = 10.0) -> ev.RegistrationChanged:
        return self.wait_for(ev.RegistrationChanged, lambda e: e.state is not ev.RegState.REGISTERING, timeout=timeout)

    def close(self) -> None:
        self.engine.shutdown()
        while not self.queue.empty():
            self.capture.handle(self.queue.get_nowait())
        self.store.close()
