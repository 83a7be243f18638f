"""The ``softclock`` command as users and IT run it: real subprocesses, real store."""

from __future__ import annotations

import json
from pathlib import Path

from softclock import events as ev
from softclock.formatting import fmt_duration
from tests.helpers import sipp
from tests.helpers.app_process import AppProcess, add_alice, cli_env, softclock
from tests.helpers.harness import PhoneHarness


def test_account_add_reads_the_password_from_stdin_into_the_keyring(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    result = softclock(
        ["account", "add", "--server", "pbx.example.org:5080", "--user", "alice", "--transport", "tcp"],
        env,
        stdin="Sup3r-Secret\n",
    )
    assert result.returncode == 0, result.stderr
    assert "saved; the password is in the keyring" in result.stdout
    settings = (tmp_path / "settings.toml").read_text()
    assert 'server = "pbx.example.org:5080"' in settings
    assert "Sup3r-Secret" not in settings + result.stdout + result.stderr
    assert json.loads((tmp_path / "keyring.json").read_text()) == {
        "softclock\0sip:alice@pbx.example.org": "Sup3r-Secret"
    }
    shown = softclock(["account", "show"], env)
    assert shown.stdout.strip() == "alice@pbx.example.org via pbx.example.org:5080 (TCP)"


def test_no_keyring_backend_is_a_clear_error(tmp_path: Path) -> None:
    env = cli_env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = softclock(["account", "add", "--server", "pbx", "--user", "alice"], env, stdin="Sup3r-Secret\n")
    assert result.returncode == 2
    assert "No usable keyring backend" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Sup3r-Secret" not in result.stdout + result.stderr
    assert not (tmp_path / "settings.toml").exists()


def test_account_add_without_a_password_says_so(tmp_path: Path) -> None:
    result = softclock(["account", "add", "--server", "pbx", "--user", "alice"], cli_env(tmp_path), stdin="")
    assert result.returncode == 2
    assert "No password given" in result.stderr


def test_matters_add_import_and_list(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert softclock(["matters", "add", "2024-001", "Contract review", "--client", "Acme Corp"], env).returncode == 0
    good = tmp_path / "good.csv"
    good.write_text("code,name,client\n2024-002,Lease dispute,Beta LLC\n2024-003,Trademark,Acme Corp\n")
    result = softclock(["matters", "import", str(good)], env)
    assert result.returncode == 0 and "Imported 2 matters" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("2024-004,Will,Gamma\n2024-005,Trust\n")
    result = softclock(["matters", "import", str(bad)], env)
    assert result.returncode == 2
    assert "line 2: expected 3 fields" in result.stderr and "nothing was imported" in result.stderr
    listed = json.loads(softclock(["matters", "list", "--json"], env).stdout)
    assert [m["code"] for m in listed] == ["2024-001", "2024-003", "2024-002"]
    dup = softclock(["matters", "add", "2024-001", "Again", "--client", "Acme Corp"], env)
    assert dup.returncode == 2 and "exists already" in dup.stderr


def _one_real_call(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    """A 1 s call from alice to a sipp UAS, captured into tmp_path/data."""
    phone = PhoneHarness(tmp_path / "data")
    try:
        phone.account(kamailio)
        phone.registered()
        with sipp.uas(kamailio, "bob", "bobpass", talk_ms=1000) as far:
            phone.engine.make_call("sip:bob@sip.test")
            phone.wait_for(ev.CallEnded)
            assert far.wait(10) == 0
    finally:
        phone.close()


def test_calls_and_entries_as_json_after_a_real_call(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    _one_real_call(tmp_path, kamailio)
    env = cli_env(tmp_path)
    calls = json.loads(softclock(["calls", "--json"], env).stdout)
    entries = json.loads(softclock(["entries", "--json"], env).stdout)
    assert len(calls) == 1 and calls[0]["disposition"] == "answered" and calls[0]["direction"] == "outgoing"
    assert len(entries) == 1 and entries[0]["status"] == "draft" and entries[0]["matter"] is None
    assert abs(entries[0]["raw_seconds"] - 1.0) < 0.2
    assert entries[0]["sip_call_id"] == calls[0]["sip_call_id"]
    text = softclock(["entries"], env).stdout
    # The listing truncates to whole seconds, as the live timer does: a 0.98 s call reads 0:00:00.
    assert "unassigned" in text and fmt_duration(entries[0]["raw_seconds"]) in text
    assert fmt_duration(entries[0]["raw_seconds"]) in ("0:00:00", "0:00:01")


def test_dial_hands_the_number_to_the_running_app(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    env = cli_env(tmp_path)
    add_alice(tmp_path, env, kamailio.port)
    app = AppProcess(env)
    try:
        app.wait_for_line("registration shown: Registered as alice@sip.test")
        with sipp.uas(kamailio, "bob", "bobpass", talk_ms=1000) as far:
            handed = softclock(["dial", "bob"], env)
            assert handed.returncode == 0, handed.stderr
            assert "running Softclock" in handed.stdout
            assert far.wait(15) == 0
        app.wait_for_line("ended: answered")
    finally:
        code = app.stop()
    assert code == 0, "\n".join(app.lines[-20:])
    calls = json.loads(softclock(["calls", "--json"], env).stdout)
    assert [c["remote_uri"] for c in calls] == ["sip:bob@sip.test"]
    assert "alicepass" not in "\n".join(app.lines)
    log_file = tmp_path / "data" / "softclock.log"
    assert log_file.stat().st_mode & 0o777 == 0o600
    assert "alicepass" not in log_file.read_text()


def test_bad_dial_string_on_the_cli(tmp_path: Path) -> None:
    result = softclock(["dial", "not a number"], cli_env(tmp_path))
    assert result.returncode == 2
    assert "characters a number or SIP address cannot have" in result.stderr


def test_review_approve_reopen_and_audit_verify_on_a_real_call(tmp_path: Path, kamailio) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    _one_real_call(tmp_path, kamailio)
    env = cli_env(tmp_path)
    assert softclock(["matters", "add", "2024-001", "Lease", "--client", "Acme"], env).returncode == 0
    (entry,) = json.loads(softclock(["entries", "--json"], env).stdout)
    short_id = entry["id"][:8]
    refused = softclock(["approve", short_id], env)
    assert refused.returncode == 1 and "a billable entry needs a matter" in refused.stderr
    edited = softclock(["entry", "edit", short_id, "--matter", "2024-001", "--narrative", "Lease terms"], env)
    assert edited.returncode == 0, edited.stderr
    assert softclock(["approve", short_id], env).returncode == 0
    (approved,) = json.loads(softclock(["entries", "--status", "approved", "--json"], env).stdout)
    assert (approved["matter"], approved["billed_units"], approved["version"]) == ("2024-001", 1, 1)
    locked = softclock(["entry", "edit", short_id, "--narrative", "changed"], env)
    assert locked.returncode == 2 and "reopen it" in locked.stderr
    assert softclock(["reopen", short_id, "--reason", "client asked"], env).returncode == 0
    assert json.loads(softclock(["entries", "--json"], env).stdout)[0]["version"] == 2
    intact = softclock(["audit", "verify"], env)
    assert intact.returncode == 0 and "intact" in intact.stdout
    with sqlite3.connect(tmp_path / "data" / "softclock.db") as db:
        db.execute("UPDATE audit_events SET reason = 'another reason' WHERE field = 'narrative'")
    # The quick check starts at the checkpoint the last one left; the default rehashes every event.
    since = softclock(["audit", "verify", "--since-checkpoint"], env)
    assert since.returncode == 0 and "; 0 checked since the last check, at event" in since.stdout
    broken = softclock(["audit", "verify"], env)
    assert broken.returncode == 1 and "was edited after it was written" in broken.stderr
    assert softclock(["audit", "verify", "--full"], env).returncode == 1  # --full: the default's old name


def test_entry_merge_and_split_on_the_command_line(tmp_path: Path) -> None:
    from datetime import timedelta

    from softclock.store.db import open_store
    from tests.helpers.entries import NOW, make_entry, matter_id

    env = cli_env(tmp_path)
    for code, client in (("2024-001", "Acme"), ("2024-002", "Beta")):
        assert softclock(["matters", "add", code, "Lease", "--client", client], env).returncode == 0
    store = open_store(tmp_path / "data")
    lease, other = matter_id(store, "2024-001"), matter_id(store, "2024-002")
    first = make_entry(store, 300, lease, narrative="Call one")
    second = make_entry(store, 200, lease, started=NOW + timedelta(minutes=30), narrative="Call two")
    stray = make_entry(store, 100, other, started=NOW + timedelta(minutes=60))
    store.close()

    refused = softclock(["entry", "merge", first[:8], stray[:8]], env)
    assert refused.returncode == 2
    assert f"entry {stray[:8]} is on matter 2024-002, not on matter 2024-001 like entry {first[:8]}" in refused.stderr
    merged = softclock(["entry", "merge", second[:8], first[:8], "--reason", "one conversation"], env)
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.strip() == f"Merged into {first[:8]} (500 s, 2 units)."
    entries = {e["id"]: e for e in json.loads(softclock(["entries", "--json"], env).stdout)}
    assert set(entries) == {first, stray}
    assert (entries[first]["raw_seconds"], entries[first]["narrative"]) == (500.0, "Call one; Call two")

    split = softclock(["entry", "split", first[:8], "120", "380", "--matter", "2024-001", "--matter", "2024-002"], env)
    assert split.returncode == 0, split.stderr
    after = json.loads(softclock(["entries", "--json"], env).stdout)
    assert sorted((e["matter"], e["raw_seconds"]) for e in after) == [
        ("2024-001", 120.0),
        ("2024-002", 100.0),
        ("2024-002", 380.0),
    ]
    one_matter = softclock(["entry", "split", stray[:8], "50", "50", "--matter", "2024-001"], env)
    assert one_matter.returncode == 2 and "2 pieces but 1 matters" in one_matter.stderr
    verified = softclock(["audit", "verify", "--full"], env)
    assert verified.returncode == 0 and verified.stdout.startswith("Audit trail intact: ")
    assert verified.stdout.strip().endswith(" events, all checked.")


def test_unusable_settings_files_are_one_sentence_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    config = tmp_path / "settings.toml"
    cases = [
        (
            b"[sip]\nlocal_port = 99999\n",
            ["account", "show"],
            f"softclock: {config}: [sip] local_port must be 0 (any free port) to 65535, not 99999\n",
        ),
        (
            b'sip = "x"\n',
            ["account", "show"],
            f"softclock: {config}: sip must be a table (a [sip] section), not a string ('x')\n",
        ),
        (
            b'[account]\ndisplay_name = "Fran\xe7ois"\n',
            ["account", "show"],
            f"softclock: The settings file {config} is not UTF-8 text (line 2, byte 30); save it as UTF-8.\n",
        ),
        (
            b"[sip]\nlocal_port = 99999\n",
            ["run"],
            f"softclock: {config}: [sip] local_port must be 0 (any free port) to 65535, not 99999\n",
        ),
    ]
    for content, args, stderr in cases:
        config.write_bytes(content)
        result = softclock(args, env)
        assert (result.returncode, result.stderr, result.stdout) == (2, stderr, ""), content
    result = softclock(["--config", str(tmp_path), "account", "show"], env)
    assert (result.returncode, result.stderr) == (
        2,
        f"softclock: The settings file {tmp_path} is a directory; give the path of a TOML file.\n",
    )


# A caller chooses the display name and the user part; the central store the matter names.
HOSTILE = "Bob\x1b[2J\x1b]0;owned\x07\t|\r\n\x00\x7f\x9b\u202eevil\u2066x\u2069\u200e\u200f\u061c"
HOSTILE_SHOWN = "Bob\\x1b[2J\\x1b]0;owned\\x07\\t|\\r\\n\\x00\\x7f\\x9b\\u202eevil\\u2066x\\u2069\\u200e\\u200f\\u061c"


def test_network_text_is_printed_inert_and_kept_raw_in_json(tmp_path: Path) -> None:
    from sqlalchemy import update

    from softclock.store.db import open_store
    from softclock.store.models import Call, Matter
    from tests.helpers.entries import make_call, make_entry, make_matter

    store = open_store(tmp_path / "data")
    matter = make_matter(store, "M-1", client="Acme" + HOSTILE)
    call = make_call(store)
    make_entry(store, 65, matter, call=call)
    with store.session() as s, s.begin():
        s.execute(update(Call).values(display_name=HOSTILE, remote_uri=f"sip:{HOSTILE}@evil", disposition="answered"))
        s.execute(update(Matter).values(code="M-1" + HOSTILE, name=HOSTILE))
    store.close()
    env = cli_env(tmp_path)
    dangerous = set("\x1b\x07\x00\r\x7f\x9b\u202e\u2066\u2069\u200e\u200f\u061c")
    for args, columns, header in ((["calls"], 5, 0), (["entries"], 5, 1), (["matters", "list"], 3, 0)):
        result = softclock(args, env)
        assert result.returncode == 0, result.stderr
        assert dangerous.isdisjoint(result.stdout), args
        (line,) = result.stdout.splitlines()[header:]
        assert line.count("\t") == columns - 1 and HOSTILE_SHOWN in line, args
    assert json.loads(softclock(["calls", "--json"], env).stdout)[0]["display_name"] == HOSTILE
    assert json.loads(softclock(["entries", "--json"], env).stdout)[0]["matter"] == "M-1" + HOSTILE
    assert json.loads(softclock(["matters", "list", "--json"], env).stdout)[0]["name"] == HOSTILE
    # An error sentence quoting such text is inert too.
    code = HOSTILE.replace("\x00", "")
    assert softclock(["matters", "add", code, "Lease", "--client", "Acme"], env).returncode == 0
    result = softclock(["matters", "add", code, "Lease", "--client", "Acme"], env)
    assert result.returncode == 2 and dangerous.isdisjoint(result.stderr) and "\\x1b[2J" in result.stderr
