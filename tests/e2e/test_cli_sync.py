"""`softclock admin ...` and `softclock sync ...` as an installer and a timekeeper run them:
real subprocesses, a real PostgreSQL server, passwords only on stdin and in the keyring."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from softclock.store.db import open_store
from softclock.sync.admin import head_revision
from tests.helpers.app_process import cli_env, softclock
from tests.helpers.entries import make_entry, matter_id

HEAD = head_revision()


def test_installer_and_timekeeper_set_up_approve_and_sync(pg_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = pg_db.cluster
    base = f"127.0.0.1:{cluster.port}/{pg_db.name}"
    su_password = pg_db.superuser_url().password
    alice = f"alice_{pg_db.name[2:12]}"
    for who in ("installer", "alice"):
        (tmp_path / who).mkdir()
    installer = cli_env(tmp_path / "installer")

    result = softclock(["admin", "init-store", f"postgresql://postgres@{base}"], installer, stdin=su_password + "\n")
    assert result.returncode == 0, result.stderr
    assert f"schema {HEAD} (created)" in result.stdout
    admin_url = ["admin", "--url", f"postgresql://postgres@{base}"]
    result = softclock(
        [*admin_url, "add-timekeeper", alice, "--name", "Alice Example", "--office", "Boston"],
        installer,
        stdin=f"{su_password}\nalice-pw-1\n",
    )
    assert result.returncode == 0, result.stderr
    csv = tmp_path / "matters.csv"
    csv.write_text("code,name,client\nM-1,Lease,Acme\nM-2,Audit,Acme,closed\n")
    result = softclock([*admin_url, "import-matters", str(csv)], installer, stdin=su_password + "\n")
    assert result.returncode == 0 and "2 matters imported" in result.stdout, result.stderr

    laptop = cli_env(tmp_path / "alice")
    result = softclock(
        [
            "sync",
            "login",
            "--url",
            f"postgresql://{alice}@{base}",
            "--sslmode",
            "verify-full",
            "--sslrootcert",
            str(cluster.ca_file),
        ],
        laptop,
        stdin="alice-pw-1\n",
    )
    assert result.returncode == 0, result.stderr
    assert f"reached (schema {HEAD}); the password is in the keyring" in result.stdout
    settings = (tmp_path / "alice" / "settings.toml").read_text()
    assert "alice-pw-1" not in settings and 'sslmode = "verify-full"' in settings
    result = softclock(["sync", "--once"], laptop)
    assert result.returncode == 0, result.stderr
    listed = json.loads(softclock(["matters", "list", "--json"], laptop).stdout)
    assert [m["code"] for m in listed] == ["M-1"]  # the closed one is not offered

    store = open_store(tmp_path / "alice" / "data")
    entry = make_entry(store, 700, matter_id(store, "M-1"), narrative="client update")
    store.close()
    assert softclock(["approve", entry], laptop).returncode == 0
    status = json.loads(softclock(["sync", "status", "--json"], laptop).stdout)
    assert status["waiting"] == 1
    result = softclock(["sync", "--once"], laptop)
    assert result.returncode == 0 and result.stdout.startswith("Pushed 1 "), result.stdout + result.stderr
    status = json.loads(softclock(["sync", "status", "--json"], laptop).stdout)
    assert (status["waiting"], status["summary"]) == (0, "Synced just now")

    # Central store down: the approval queues, sync says why, status says since when.
    entry2 = make_entry(open_store(tmp_path / "alice" / "data"), 400, None, narrative="")
    cluster.stop()
    try:
        assert softclock(["entry", "edit", entry2, "--matter", "M-1"], laptop).returncode == 0
        assert softclock(["approve", entry2], laptop).returncode == 0
        result = softclock(["sync", "--once"], laptop)
        assert result.returncode == 1
        assert "refused the connection" in result.stderr and "1 approved entries wait" in result.stderr
        shown = softclock(["sync", "status"], laptop).stdout
        assert shown.startswith("1 waiting, central store unreachable since ")
        assert "alice-pw-1" not in result.stderr + shown
    finally:
        cluster.start()
    result = softclock(["sync", "--once"], laptop)
    assert result.returncode == 0 and result.stdout.startswith("Pushed 1 "), result.stderr


def test_bad_urls_and_passwords_are_refused_in_words(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    result = softclock(["sync", "login", "--url", "postgresql://alice:hunter2@db.example/billing"], env)
    assert result.returncode == 2 and "must not hold a password" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    result = softclock(["sync", "--once"], env)
    assert result.returncode == 2 and "No central store is set" in result.stderr
    assert softclock(["sync", "status"], env).stdout.strip() == "Sync off (no central store set)"


def test_an_installer_on_a_trusted_socket_needs_no_password_and_no_keyring(pg_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A one-off admin command where the server trusts the login (a Unix socket) and no keyring exists."""
    cluster = pg_db.cluster
    env = cli_env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    url = f"postgresql://postgres@/{pg_db.name}?host={cluster.socket_dir}&port={cluster.port}"
    result = softclock(["admin", "init-store", url], env, stdin="\n")
    assert result.returncode == 0, result.stderr
    assert f"schema {HEAD} (created)" in result.stdout


def _rewrite_chain(db: Path, from_id: int) -> None:
    """What someone with the database file can do: change an event and recompute every hash after it,
    the head, and the checkpoint. The laptop alone cannot tell."""
    import sqlite3

    from softclock import audit

    with sqlite3.connect(db) as conn:
        prev = conn.execute(
            "SELECT hash FROM audit_events WHERE id < ? ORDER BY id DESC LIMIT 1", (from_id,)
        ).fetchone()
        prev = prev[0] if prev else audit.GENESIS
        rows = conn.execute(
            "SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason "
            "FROM audit_events WHERE id >= ? ORDER BY id",
            (from_id,),
        ).fetchall()
        for event_id, at, actor, entity, entity_id, field, old, new, reason in rows:
            reason = "rewritten" if event_id == from_id else reason
            digest = audit._digest_iso(prev, audit._iso(at), actor, entity, entity_id, field, old, new, reason)
            conn.execute(
                "UPDATE audit_events SET reason = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (reason, prev, digest, event_id),
            )
            prev = digest
        conn.execute(
            "UPDATE audit_head SET last_hash = ?, checked_id = NULL, checked_hash = NULL, checked_count = NULL", (prev,)
        )


def test_the_chain_is_anchored_centrally_and_a_copied_store_is_a_named_conflict(pg_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster = pg_db.cluster
    base = f"127.0.0.1:{cluster.port}/{pg_db.name}"
    su_password = pg_db.superuser_url().password
    alice, bob = f"alice_{pg_db.name[2:12]}", f"bob_{pg_db.name[2:12]}"
    for who in ("installer", alice, bob):
        (tmp_path / who).mkdir()
    installer = cli_env(tmp_path / "installer")
    assert (
        softclock(
            ["admin", "init-store", f"postgresql://postgres@{base}"], installer, stdin=su_password + "\n"
        ).returncode
        == 0
    )
    admin_url = ["admin", "--url", f"postgresql://postgres@{base}"]
    for who in (alice, bob):
        result = softclock(
            [*admin_url, "add-timekeeper", who, "--name", who], installer, stdin=f"{su_password}\npw-{who}\n"
        )
        assert result.returncode == 0, result.stderr
    csv = tmp_path / "matters.csv"
    csv.write_text("code,name,client\nM-1,Lease,Acme\n")
    assert softclock([*admin_url, "import-matters", str(csv)], installer, stdin=su_password + "\n").returncode == 0

    envs = {}
    for who in (alice, bob):
        envs[who] = cli_env(tmp_path / who)
        result = softclock(
            [
                "sync",
                "login",
                "--url",
                f"postgresql://{who}@{base}",
                "--sslmode",
                "verify-full",
                "--sslrootcert",
                str(cluster.ca_file),
            ],
            envs[who],
            stdin=f"pw-{who}\n",
        )
        assert result.returncode == 0, result.stderr
        assert softclock(["sync", "--once"], envs[who]).returncode == 0  # the matters
    store = open_store(tmp_path / alice / "data")
    entries = [make_entry(store, 300 + i, matter_id(store, "M-1"), narrative=f"call {i}") for i in range(2)]
    store.close()
    # Alice's store copied to Bob's laptop while her entries were drafts (the copy is a computer of its own).
    import shutil

    shutil.rmtree(tmp_path / bob / "data")
    shutil.copytree(tmp_path / alice / "data", tmp_path / bob / "data")
    store = open_store(tmp_path / bob / "data")
    with store.session() as s, s.begin():
        s.execute(text("DELETE FROM sync_state WHERE key LIKE 'device%' OR key = 'anchored_head'"))
    own = make_entry(store, 500, matter_id(store, "M-1"), narrative="bob's call")
    store.close()

    assert softclock(["approve", *entries], envs[alice]).returncode == 0
    assert softclock(["sync", "--once"], envs[alice]).returncode == 0
    matched = softclock(["audit", "verify", "--central"], envs[alice])
    assert matched.returncode == 0, matched.stderr
    assert matched.stdout.splitlines()[1].startswith("The audit chain matches the 1 anchor(s) the central store holds")

    # Bob's own entry goes through; the id Alice's entry holds is a named conflict, and nothing is stuck.
    approved = softclock(["approve", entries[0], own], envs[bob])
    assert approved.returncode == 0, approved.stderr
    pushed = softclock(["sync", "--once"], envs[bob])
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith("Pushed 1 (already there 0, conflicts 1)")
    shown = softclock(["sync", "status"], envs[bob]).stdout
    assert (
        f"Conflict: entry {entries[0]} version 1: another timekeeper's entry in the central store has this "
        "entry's id" in shown
    )
    status = json.loads(softclock(["sync", "status", "--json"], envs[bob]).stdout)
    assert (status["waiting"], status["conflicts"]) == (0, 1)
    assert status["conflicting"][0]["entry"] == entries[0]

    # Alice's chain rewritten wholesale: intact on the laptop, not what the firm holds.
    _rewrite_chain(tmp_path / alice / "data" / "softclock.db", from_id=2)
    local = softclock(["audit", "verify"], envs[alice])
    assert local.returncode == 0, local.stderr
    central = softclock(["audit", "verify", "--central"], envs[alice])
    assert central.returncode == 1
    assert central.stderr.startswith(
        "Audit trail broken: the audit chain is not the one the central store anchored: event "
    )
    assert "so the chain was rewritten from its start" in central.stderr
