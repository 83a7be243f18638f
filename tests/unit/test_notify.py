"""Desktop notifications over a real dbus-daemon, with a stand-in notification server."""

from __future__ import annotations

import queue
from pathlib import Path

from softclock.notify import Note, Notifier
from tests.helpers.notifications import notification_bus


def test_a_call_notification_shows_its_actions_and_a_click_comes_back(tmp_path: Path) -> None:
    with notification_bus(tmp_path) as server:
        clicks: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        notifier = Notifier(lambda key, action: clicks.put((key, action)), bus=server.address)
        notifier.start()
        try:
            assert notifier.available.wait(5), notifier.failed
            notifier.notify(
                Note(
                    "7",
                    "Incoming call: Pat Caller",
                    "+1 202-555-0143 · Likely: LEASE-1",
                    (("answer", "Answer"), ("decline", "Decline")),
                )
            )
            (shown,) = server.wait_for(1)
            assert shown["summary"] == "Incoming call: Pat Caller" and shown["app"] == "Softclock"
            assert shown["actions"] == ["answer", "Answer", "decline", "Decline"]
            server.click(int(shown["id"]), "answer")  # type: ignore[call-overload]
            assert clicks.get(timeout=5) == ("7", "answer")
            # The same key replaces its notification (the hint arrives after the first one).
            notifier.notify(Note("7", "Incoming call: Pat Caller", "Likely: LEASE-1", (("answer", "Answer"),)))
            assert server.wait_for(2)[1]["replaces"] == shown["id"]
            notifier.close("7")
            with server.changed:
                assert server.changed.wait_for(lambda: server.closed == [shown["id"]], 5)
        finally:
            notifier.stop()


def test_without_a_notification_server_notifications_are_off_and_say_why(tmp_path: Path) -> None:
    notifier = Notifier(lambda key, action: None, bus=f"unix:path={tmp_path}/no-bus-here")
    notifier.start()
    notifier.stop()
    assert not notifier.available.is_set()
    assert notifier.failed.startswith("desktop notifications are off:")
    notifier.notify(Note("1", "x", "y"))  # queued into nothing, no error
