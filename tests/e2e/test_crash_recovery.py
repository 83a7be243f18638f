"""Crash recovery: the app is killed (``kill -9``) mid-call and started again.

A real call through Kamailio to a sipp UAS that never hangs up by itself. While
the call runs, the UI ticker writes a heartbeat every second; after SIGKILL
nothing else is written. The next start-up must close the call at its last
heartbeat, flag it as recovered and keep the talk time up to that heartbeat.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.helpers import sipp
from tests.helpers.app_process import AppProcess, add_alice, cli_env, softclock

TALK_S = 5.0


def _calls(env: dict[str, str]) -> list[dict[str, Any]]:
    result = softclock(["calls", "--json"], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _entries(env: dict[str, str]) -> list[dict[str, Any]]:
    result = softclock(["entries", "--json"], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _poll_calls(env: dict[str, str], ready: Any, what: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Read ``calls --json`` until ``ready(calls)`` holds (the app logs no line for these states)."""
    deadline = time.monotonic() + timeout
    calls: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        calls = _calls(env)
        if ready(calls):
            return calls
        time.sleep(0.1)
    raise AssertionError(f"the store never showed {what}; calls: {calls}")


def test_a_call_cut_by_kill_9_is_recovered_at_its_last_heartbeat(tmp_path: Path, kamailio_factory) -> None:  # type: ignore[no-untyped-def]
    # A registrar of its own: the killed app's binding stays registered until it
    # expires, and calls to alice would fork to it (final responses held back).
    kamailio = kamailio_factory()
    env = cli_env(tmp_path)
    add_alice(tmp_path, env, kamailio.port)

    app = AppProcess(env)
    try:
        app.wait_for_line("registration shown: Registered as alice@sip.test")
        # hangup="remote": sipp waits for our BYE, which never comes.
        with sipp.uas(kamailio, "bob", "bobpass", talk_ms=600_000, hangup="remote", timeout_s=120) as far:
            handed = softclock(["dial", "bob"], env)
            assert handed.returncode == 0, handed.stderr
            _poll_calls(
                env,
                lambda calls: len(calls) == 1 and calls[0]["answered_utc"] is not None,
                "the call answered",
            )
            ack = far.events().get("ACK_RECEIVED")
            assert ack is not None, far.log_text()
            time.sleep(max(0.0, ack + TALK_S - time.time()))  # let the call run ~5 s of talk
            # The heartbeat has been writing the running talk time while the call is open.
            live = _calls(env)
            assert live[0]["disposition"] == "in_progress" and not live[0]["recovered"], live
            assert live[0]["talk_seconds"] >= TALK_S - 1.5, live
            killed_at = time.time()
            os.kill(app.proc.pid, signal.SIGKILL)
            assert app.proc.wait(10) == -signal.SIGKILL
            real_talk = killed_at - ack
            far_events = far.events()
            assert "BYE_RECEIVED" not in far_events, far.log_text()  # killed: no BYE was sent
            far_messages = far.messages_text()
        # (leaving the with block stops sipp and removes bob's binding)
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
    assert "ended: answered" not in "\n".join(app.drain())  # its whole log, not just what was awaited

    restarted = AppProcess(env)
    try:
        restarted.wait_for_line("main window shown")
        warning = restarted.wait_for_line("recovered call ")
        restarted.wait_for_line("1 call(s) left open by a crash were closed and flagged")
        restarted.wait_for_line("registration shown: Registered as alice@sip.test")
    finally:
        # 30 s, not 15: a SIGTERM that lands while the main thread is inside a logging
        # call (likely right after the line we waited for) makes shutdown wait ~10 s
        # for the SIP thread, which is blocked on the same log handler's lock.
        code = restarted.stop(timeout=30)
    log_text = "\n".join(restarted.lines)
    assert code == 0, log_text
    assert "WARNING softclock.capture" in warning
    assert "Traceback" not in log_text
    assert "cannot listen for other launches" not in log_text  # the stale IPC socket was cleared

    calls = _calls(env)
    entries = _entries(env)
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["recovered"] is True
    assert call["disposition"] == "answered"
    assert call["direction"] == "outgoing" and call["remote_uri"] == "sip:bob@sip.test"
    assert call["answered_utc"] is not None and call["ended_utc"] is not None
    assert call["sip_call_id"] in warning
    assert f"Call-ID: {call['sip_call_id']}" in far_messages  # the same call the far end answered
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["sip_call_id"] == call["sip_call_id"]
    assert entry["status"] == "draft"
    # Closed at the last heartbeat (at most ~1 s before the kill), never after it.
    assert abs(entry["raw_seconds"] - real_talk) <= 2.0, (entry["raw_seconds"], real_talk)
    assert entry["raw_seconds"] <= real_talk + 0.5, (entry["raw_seconds"], real_talk)
    assert abs(call["talk_seconds"] - entry["raw_seconds"]) < 0.01, (call, entry)
