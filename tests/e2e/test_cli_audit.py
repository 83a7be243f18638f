"""`softclock audit verify` as a person runs it: a real subprocess on a store
whose calls went through capture, then edited behind the app's back."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from softclock import events as ev
from softclock.capture import Capture
from softclock.store.db import open_store
from tests.helpers.app_process import cli_env, softclock

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def _captured(data: Path, talks: list[float]) -> None:
    store = open_store(data)
    capture = Capture(store, timekeeper=lambda: "alice", mono=lambda: 1000.0)
    for handle, talk in enumerate(talks, start=1):
        call_id = f"call-{handle}"
        capture.handle(ev.CallStarted(1000.0, T0, call_id, handle, "alice@sip.test", "sip:+12025550143@sip.test", ""))
        capture.handle(ev.CallConnected(1001.0, T0 + timedelta(seconds=1), call_id, handle))
        capture.handle(
            ev.CallEnded(1001.0 + talk, T0 + timedelta(seconds=1 + talk), call_id, handle, 200, "OK", talk, False)
        )
    store.close()


def test_the_default_check_is_the_whole_chain_and_names_an_entry_edited_in_the_file(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    _captured(tmp_path / "data", [4.9, 30.0])
    intact = softclock(["audit", "verify"], env)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout == "Audit trail intact: 2 entries agree with their trail of 2 events, all checked.\n"

    db = tmp_path / "data" / "softclock.db"
    with sqlite3.connect(db) as conn:
        (entry,) = conn.execute(
            "SELECT t.id FROM time_entries t JOIN calls c ON c.id = t.call_id WHERE c.sip_call_id = 'call-1'"
        ).fetchone()
        conn.execute("UPDATE time_entries SET raw_seconds = 3600 WHERE id = ?", (entry,))
    # The whole check rehashed the trail, so it was the entry that changed; the quick one cannot tell which.
    for flags, culprit in (
        ([], "the entry was"),
        (["--full"], "the entry was"),
        (["--since-checkpoint"], "the entry or its trail was"),
    ):
        broken = softclock(["audit", "verify", *flags], env)
        assert broken.returncode == 1, flags
        assert broken.stderr == (
            f"Audit trail broken: entry {entry}: raw_seconds is 3600.0 but its trail says "
            f"'4.900' (event 1): {culprit} changed outside the app.\n"
        ), broken.stderr
    refused = softclock(["approve", entry], env)
    assert refused.returncode == 1 and "raw_seconds is 3600.0 but" in refused.stderr


def test_a_deleted_tail_fails_both_checks_and_keeps_failing(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    _captured(tmp_path / "data", [30.0, 40.0, 50.0])
    assert softclock(["audit", "verify"], env).returncode == 0
    with sqlite3.connect(tmp_path / "data" / "softclock.db") as conn:
        conn.execute("DELETE FROM audit_events WHERE id = 3")
        conn.execute("DELETE FROM time_entries WHERE id NOT IN (SELECT entity_id FROM audit_events)")
        conn.execute(
            "UPDATE audit_head SET last_id = 2, count = 2, last_hash = (SELECT hash FROM audit_events WHERE id = 2)"
        )
    for flags in (["--since-checkpoint"], [], ["--full"], []):
        broken = softclock(["audit", "verify", *flags], env)
        assert broken.returncode == 1, flags
        assert broken.stderr == "Audit trail broken: event 3, the last one checked, is missing: events were deleted.\n"


def test_the_quick_check_says_how_far_it_went(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    _captured(tmp_path / "data", [30.0])
    assert softclock(["audit", "verify"], env).returncode == 0
    _captured(tmp_path / "data", [])  # nothing new
    quick = softclock(["audit", "verify", "--since-checkpoint"], env)
    assert quick.returncode == 0
    assert quick.stdout == (
        "Audit trail intact: 1 entries agree with their trail of 1 events; 0 checked since the last "
        "check, at event 1 (without --since-checkpoint every event is checked).\n"
    )
