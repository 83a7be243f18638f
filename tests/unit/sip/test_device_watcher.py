"""Without a sound server (a headless session) the device watcher says so once and retries ever more slowly."""

from __future__ import annotations

import logging
import threading

import pytest

from softclock.sound import devices


class _CountingStop(threading.Event):
    """Records each retry wait instead of sleeping; sets itself after ``limit`` waits."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.limit = limit

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


def test_no_sound_server_is_logged_once_and_retried_with_backoff(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    if not devices._use_pulse():
        pytest.skip("the PulseAudio path is Linux-only")
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/softclock-test/native")  # a real connection failure
    watcher = devices.DeviceWatcher(lambda _devices: None)
    stop = _CountingStop(limit=7)
    watcher._stop = stop
    with caplog.at_level(logging.DEBUG, logger="softclock.sip.devices"):
        watcher._run()
    assert stop.waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "sound device events unavailable" in warnings[0].getMessage()
