"""Start order (issue 13): the SIP engine starts, and the account registers, before
the store is opened; a call that comes in meanwhile rings in the window at once and
is recorded once capture exists, after the crash recovery of the calls before it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

import softclock.sip.engine
from softclock import events as ev
from softclock.app import build_core
from softclock.capture import Capture
from softclock.phone import Engine, Phone
from softclock.store.db import open_store
from softclock.store.models import Call
from tests.unit.test_ringing_first import ringing


class FakeEngine:
    """The SIP engine's life cycle, without pjsua2; it keeps the sink to report calls with."""

    made: list[FakeEngine] = []

    def __init__(self, sink: Callable[[ev.Event], None], config: object = None) -> None:
        self.sink = sink
        self.local_port = 0
        self.accounts: list[object] = []
        FakeEngine.made.append(self)

    def start(self) -> None:
        self.local_port = 50999

    def set_account(self, config: object) -> None:
        self.accounts.append(config)

    def shutdown(self) -> None:
        pass


def test_the_engine_is_up_before_the_store_and_early_calls_wait_for_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    # A call the last run left open (the app was killed while it rang).
    store = open_store(data)
    crashed = Capture(store, timekeeper=lambda: "me")
    crashed.handle(ringing(1, "before-the-crash"))
    store.close()
    (tmp_path / "settings.toml").write_text('[sip]\nbind_address = "127.0.0.1"\nnull_audio = true\n')
    monkeypatch.setattr(softclock.sip.engine, "SipEngine", FakeEngine)
    seen: list[str] = []
    steps: list[str] = []

    def on_engine(engine: Engine, phone: Phone) -> None:
        assert isinstance(engine, FakeEngine) and engine.local_port == 50999
        steps.append("engine up")
        engine.sink(ringing(1, "while-the-store-opens"))  # handle 1 again: a new run's first call

    core = build_core(tmp_path / "settings.toml", data, lambda event: seen.append(event.call_id), on_engine=on_engine)
    try:
        assert steps == ["engine up"] and seen == ["while-the-store-opens"]  # the window was told at once
        assert core.worker is not None
        core.worker.drain(10)
        with core.store.session() as s:
            calls = {c.sip_call_id: (c.disposition, c.recovered) for c in s.scalars(select(Call))}
        assert calls == {
            "before-the-crash": ("missed", True),  # recovered, as before
            "while-the-store-opens": ("in_progress", False),  # recorded after recovery, still ringing
        }
        assert (data / "sip-port").read_text() == "50999\n"
    finally:
        core.shutdown()
