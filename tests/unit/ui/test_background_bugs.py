"""Bugs in background jobs and in their result handlers are reported as bugs, not swallowed."""

from __future__ import annotations

from typing import Any

from softclock.ui import background
from softclock.ui.background import BackgroundRunner


def test_bugs_on_the_background_paths_reach_the_reporter(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bugs: list[tuple[str, BaseException]] = []
    monkeypatch.setattr(background, "on_bug", lambda where, exc: bugs.append((where, exc)))
    runner = BackgroundRunner()
    try:

        def broken_job() -> Any:
            return {}["missing"]

        runner.submit(broken_job, lambda result: None)
        qtbot.waitUntil(lambda: len(bugs) == 1)
        assert bugs[0][0] == "a background job" and isinstance(bugs[0][1], KeyError)

        def broken_receiver(result: Any) -> None:
            raise RuntimeError("a bug, not a deleted widget")

        runner.submit(lambda: 1, broken_receiver)
        qtbot.waitUntil(lambda: len(bugs) == 2)
        assert bugs[1][0] == "a background result"

        def closed_widget(result: Any) -> None:
            raise RuntimeError("Internal C++ object (QLabel) already deleted.")

        done: list[int] = []
        runner.submit(lambda: 2, closed_widget)
        runner.submit(lambda: 3, done.append)
        qtbot.waitUntil(lambda: done == [3])
        assert len(bugs) == 2  # a widget closed meanwhile is not a bug
    finally:
        runner.stop()
