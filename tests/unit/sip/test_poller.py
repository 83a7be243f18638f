"""The watchers' shared thread: polls until stopped, and a bug in one poll does not end it."""

from __future__ import annotations

import logging
import threading

import pytest

from softclock.sip.poller import Poller

log = logging.getLogger("softclock.test.poller")


class _Flaky(Poller):
    def __init__(self) -> None:
        super().__init__("flaky-watch", log)
        self.polls = 0
        self.third = threading.Event()

    def _wait_s(self) -> float:
        return 0.01

    def check_once(self) -> None:
        self.polls += 1
        if self.polls == 3:
            self.third.set()
        if self.polls == 1:
            raise ValueError("a bug")


def test_a_bug_in_one_poll_is_logged_and_polling_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    watch = _Flaky()
    with caplog.at_level(logging.ERROR, logger="softclock.test.poller"):
        watch.start()
        assert watch.third.wait(5.0)
        watch.stop()
    assert not watch._thread.is_alive()
    assert [r.getMessage() for r in caplog.records] == ["bug in flaky-watch"]
    assert caplog.records[0].exc_info is not None


def test_stop_from_a_poll_does_not_wait_for_itself() -> None:
    class _SelfStopping(Poller):
        def __init__(self) -> None:
            super().__init__("self-stopping", log)
            self.stopped = threading.Event()

        def _wait_s(self) -> float:
            return 0.01

        def check_once(self) -> None:
            self.stop()
            self.stopped.set()

    watch = _SelfStopping()
    watch.start()
    assert watch.stopped.wait(5.0)
    watch._thread.join(5.0)
    assert not watch._thread.is_alive()
