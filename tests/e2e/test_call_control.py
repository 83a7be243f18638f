"""Hold, resume, mute, redial and call waiting with the real engine against the
demo line peer (a second pjsua2 process) on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from softclock import events as ev
from softclock.sip.config import AccountConfig
from softclock.sip.demo import DemoLine
from softclock.store.models import Call
from tests.helpers.harness import PhoneHarness


@pytest.fixture
def demo() -> Iterator[DemoLine]:
    ready = threading.Event()
    errors: list[str] = []
    line = DemoLine(on_ready=lambda uri: ready.set(), on_error=errors.append, ring_ms=200)
    line.start()
    assert ready.wait(15), errors
    yield line
    line.stop()


@pytest.fixture
def phone(tmp_path: Path, demo: DemoLine) -> Iterator[PhoneHarness]:
    harness = PhoneHarness(tmp_path / "data")
    harness.engine.set_account(AccountConfig(user="you", domain=f"127.0.0.1:{harness.engine.local_port}"))
    harness.wait_for(ev.RegistrationChanged)
    yield harness
    harness.close()


def test_hold_and_resume_are_events_and_held_time_is_recorded(phone: PhoneHarness, demo: DemoLine) -> None:
    handle = phone.engine.make_call(demo.uri)
    connected = phone.wait_for(ev.CallConnected)
    phone.engine.hold(handle)
    held = phone.wait_for(ev.CallHoldChanged)
    assert held.hold is ev.HoldState.LOCAL
    phone.engine.resume(handle)
    resumed = phone.wait_for(ev.CallHoldChanged)
    assert resumed.hold is ev.HoldState.NONE
    phone.engine.hangup(handle)
    ended = phone.wait_for(ev.CallEnded)
    with phone.store.session() as s:
        call = s.scalars(select(Call)).one()
    assert call.hold_seconds == pytest.approx(resumed.mono - held.mono, abs=0.01)
    assert call.talk_seconds == pytest.approx(ended.mono - connected.mono, abs=0.05)


def test_mute_is_acknowledged(phone: PhoneHarness, demo: DemoLine) -> None:
    handle = phone.engine.make_call(demo.uri)
    phone.wait_for(ev.CallConnected)
    phone.engine.mute(handle, True)
    assert phone.wait_for(ev.CallMuteChanged).muted is True
    phone.engine.mute(handle, False)
    assert phone.wait_for(ev.CallMuteChanged).muted is False
    phone.engine.hangup(handle)
    phone.wait_for(ev.CallEnded)


def test_answering_a_waiting_call_holds_the_first(phone: PhoneHarness, demo: DemoLine) -> None:
    first = phone.engine.make_call(demo.uri)
    phone.wait_for(ev.CallConnected, lambda e: e.handle == first)
    demo.call_me(f"sip:you@127.0.0.1:{phone.engine.local_port}")
    waiting = phone.wait_for(ev.CallRinging, lambda e: e.direction is ev.Direction.INCOMING)
    phone.engine.answer(waiting.handle, hold_others=True)
    held = phone.wait_for(ev.CallHoldChanged, lambda e: e.handle == first)
    assert held.hold is ev.HoldState.LOCAL
    phone.wait_for(ev.CallConnected, lambda e: e.handle == waiting.handle)
    phone.engine.hangup(waiting.handle)
    phone.wait_for(ev.CallEnded, lambda e: e.handle == waiting.handle)
    phone.engine.hangup(first)
    phone.wait_for(ev.CallEnded, lambda e: e.handle == first)
    with phone.store.session() as s:
        calls = list(s.scalars(select(Call).order_by(Call.id)))
    assert [c.direction for c in calls] == ["outgoing", "incoming"]
    assert calls[0].hold_seconds > 0 and calls[1].hold_seconds == 0


def test_dtmf_digits_are_checked_before_sending(phone: PhoneHarness) -> None:
    with pytest.raises(ValueError, match="not DTMF digits: X"):
        phone.engine.send_dtmf(1, "12X")
