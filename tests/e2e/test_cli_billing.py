"""``softclock`` for billing staff: the entries table, statuses, approving the day, importing an
updated matter list, splitting by m:ss with a ``rest`` piece, and one full stop per message.
Real subprocesses, a real store; times are built from now, never from the wall clock's date."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

from softclock.formatting import as_local, utc_now
from softclock.store.db import open_store
from tests.helpers.app_process import cli_env, softclock
from tests.helpers.entries import make_entry, make_matter


def _one_sentence(text: str) -> None:
    """Each line of ``text`` is a message ending in exactly one full stop."""
    lines = text.splitlines()
    assert lines, "nothing was said"
    for line in lines:
        assert line.endswith(".") and not line.endswith(".."), line


def _entries(tmp_path: Path, *specs: tuple[float, str | None, datetime, str]) -> list[str]:
    """Drafts (raw seconds, matter code or None, started UTC, narrative) in tmp_path's store."""
    store = open_store(tmp_path / "data")
    try:
        matters: dict[str, int] = {}
        ids = []
        for raw, code, started, narrative in specs:
            if code is not None and code not in matters:
                matters[code] = make_matter(store, code)
            local_day = as_local(started).date()  # type: ignore[union-attr]
            ids.append(
                make_entry(
                    store, raw, matters.get(code) if code else None, started=started, day=local_day, narrative=narrative
                )
            )
        return ids
    finally:
        store.close()


def test_entries_show_ids_local_times_to_the_second_and_a_header(tmp_path: Path) -> None:
    started = utc_now().replace(microsecond=123456) - timedelta(hours=3)
    first, second = _entries(tmp_path, (65.4, "M-1", started, ""), (3725, None, started + timedelta(minutes=5), ""))
    result = softclock(["entries"], cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header == ["ID", "STARTED", "MATTER", "DURATION", "STATUS"]
    local = as_local(started)
    assert local is not None
    assert rows == [
        [first[:8], local.strftime("%Y-%m-%d %H:%M:%S"), "M-1", "0:01:05", "draft"],
        [second[:8], (local + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"), "unassigned", "1:02:05", "draft"],
    ]
    assert not re.search(r"\d\.\d{6}", result.stdout)  # no microseconds
    # --json keeps the whole id and the UTC time, for scripts.
    listed = json.loads(softclock(["entries", "--json"], cli_env(tmp_path)).stdout)
    assert [e["id"] for e in listed] == [first, second]


def test_an_unknown_status_is_an_error_naming_the_valid_ones(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    _entries(tmp_path, (120, "M-1", utc_now() - timedelta(hours=1), ""))
    result = softclock(["entries", "--status", "bogus"], env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "softclock: There is no entry status 'bogus': use draft, approved, synced or invoiced.\n"
    drafts = softclock(["entries", "--status", "Draft"], env)
    assert drafts.returncode == 0 and len(drafts.stdout.splitlines()) == 2
    approved = softclock(["entries", "--status", "approved"], env)
    assert approved.returncode == 0 and approved.stdout.splitlines() == ["ID\tSTARTED\tMATTER\tDURATION\tSTATUS"]


def test_approve_today_says_so_when_nothing_is_left(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    nothing = softclock(["approve", "--today"], env)
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "Nothing to approve today.\n", "")
    (entry,) = _entries(tmp_path, (400, "M-1", utc_now() - timedelta(seconds=1), "Lease terms"))  # today's
    approved = softclock(["approve", "--today"], env)
    assert (approved.returncode, approved.stdout, approved.stderr) == (0, f"Approved {entry[:8]}.\n", "")
    again = softclock(["approve", "--today"], env)
    assert (again.returncode, again.stdout) == (0, "Nothing to approve today.\n")
    no_ids = softclock(["approve"], env)
    assert (no_ids.returncode, no_ids.stderr) == (2, "softclock: Nothing to approve: give entry ids or --today.\n")


def test_matters_import_update_updates_or_skips_existing_matters(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    first = tmp_path / "matters.csv"
    first.write_text("code,name,client\nM-1,Lease,Acme\nM-2,Will,Beta LLC\nM-3,Trust,Beta LLC\n")
    done = softclock(["matters", "import", str(first)], env)
    assert (done.returncode, done.stdout) == (0, f"Imported 3 matters from {first}.\n")
    updated = tmp_path / "matters-2.csv"
    updated.write_text(
        "code,name,client\nM-1,Lease renewal,Acme\nM-2,Will,Gamma Inc.\nM-3,Trust,Beta LLC\nM-4,Estate,Acme\n"
    )
    refused = softclock(["matters", "import", str(updated)], env)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (
        f"softclock: {updated}: line 2: Matter M-1 exists already; nothing was imported (--update updates existing matters).\n"
    )
    assert len(json.loads(softclock(["matters", "list", "--json"], env).stdout)) == 3  # nothing was imported
    done = softclock(["matters", "import", "--update", str(updated)], env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"Imported {updated}: 1 new, 2 updated, 1 unchanged.\n"
    listed = {
        m["code"]: (m["name"], m["client"]) for m in json.loads(softclock(["matters", "list", "--json"], env).stdout)
    }
    assert listed == {
        "M-1": ("Lease renewal", "Acme"),
        "M-2": ("Will", "Gamma Inc."),
        "M-3": ("Trust", "Beta LLC"),
        "M-4": ("Estate", "Acme"),
    }
    same = softclock(["matters", "import", "--update", str(updated)], env)
    assert same.stdout == f"Imported {updated}: 0 new, 0 updated, 4 unchanged.\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("M-1,Lease,Acme\nM-9,Nothing\n")
    failed = softclock(["matters", "import", "--update", str(bad)], env)
    assert (failed.returncode, failed.stderr) == (
        2,
        f"softclock: {bad}: line 2: expected 3 fields (code,name,client), found 2; nothing was imported.\n",
    )


def test_split_takes_m_ss_and_a_rest_piece(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    started = utc_now() - timedelta(hours=2)
    whole, other, third = _entries(
        tmp_path,
        (400.4, "M-1", started, "Call one"),
        (300, "M-1", started + timedelta(minutes=20), ""),
        (200, "M-1", started + timedelta(minutes=40), ""),
    )
    split = softclock(["entry", "split", whole[:8], "4:00", "rest"], env)
    assert split.returncode == 0, split.stderr
    _one_sentence(split.stdout)
    after = {e["id"]: e for e in json.loads(softclock(["entries", "--json"], env).stdout)}
    new = [i for i in after if i not in (whole, other, third)]
    assert len(new) == 1
    assert (after[whole]["raw_seconds"], after[new[0]]["raw_seconds"]) == (240.0, 160.4)
    assert split.stdout == f"Split into {whole[:8]} (4:00), {new[0][:8]} (2:40).\n"
    # rest may be anywhere; plain numbers are still seconds.
    middle = softclock(["entry", "split", other, "60", "rest", "1:30"], env)
    assert middle.returncode == 0, middle.stderr
    pieces = sorted(
        e["raw_seconds"]
        for e in json.loads(softclock(["entries", "--json"], env).stdout)
        if e["started_utc"] and e["raw_seconds"] in (60.0, 150.0, 90.0)
    )
    assert pieces == [60.0, 90.0, 150.0]
    for args, stderr in [
        ([third[:8], "rest", "rest"], "softclock: Only one piece can be rest.\n"),
        (
            [third[:8], "4:xx", "rest"],
            "softclock: '4:xx' is not a length: give m:ss (4:30), h:mm:ss, seconds or rest.\n",
        ),
        (
            [third[:8], "3:20", "rest"],
            f"softclock: The other pieces take 3:20 of entry {third[:8]}'s 3:20: nothing is left for rest.\n",
        ),
        (["ffffffff", "1:00", "rest"], "softclock: There is no draft entry 'ffffffff'.\n"),
        ([third[:8], "1:00", "1:00"], f"softclock: the pieces add up to 120.0 s but entry {third[:8]} has 200.0 s.\n"),
    ]:
        refused = softclock(["entry", "split", *args], env)
        assert (refused.returncode, refused.stderr, refused.stdout) == (2, stderr, ""), args


def test_every_message_ends_in_one_full_stop(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    (entry,) = _entries(tmp_path, (120, None, utc_now() - timedelta(hours=1), ""))
    said = []
    for args in (
        ["matters", "add", "M-9", "Lease", "--client", "Acme Inc."],
        ["matters", "number", "+1 202 555 0143", "--client", "Acme Inc."],
        ["matters", "add", "M-9", "Lease", "--client", "Acme Inc."],  # exists already.
        ["matters", "import", str(tmp_path / "missing.csv")],
        ["approve", entry[:8]],  # refused: a billable entry needs a matter
        ["entry", "edit", entry[:8]],  # nothing to change
        ["entry", "edit", entry[:8], "--narrative", "Called about the lease"],
        ["entry", "merge", entry[:8], "nothere"],
        ["reopen", entry[:8], "--reason", "why not"],  # only approved entries are reopened
    ):
        result = softclock(args, env)
        said.append(result.stdout + result.stderr)
        _one_sentence(result.stdout + result.stderr)
    assert said[1] == "+12025550143 now suggests Acme Inc.\n"
    assert said[2] == "softclock: Matter M-9 exists already.\n"
    assert said[4].startswith(f"Refused {entry[:8]}: ")
