"""The central store on a real PostgreSQL server: roles and row-level security, push and pull,
and the faults of issue 5 (server down, connection killed mid-batch, two laptops, bad credentials)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, event, func, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from softclock import review, secrets
from softclock.billing import Policy
from softclock.settings import CentralSettings
from softclock.store.db import Store, open_memory_store
from softclock.store.models import Matter, TimeEntry
from softclock.sync import admin
from softclock.sync.central import CentralEntry, Timekeeper
from softclock.sync.connect import login_of, parse_url
from softclock.sync.service import Sync, SyncFailed, SyncWorker
from tests.helpers.app_process import ROOT
from tests.helpers.entries import make_entry, make_matter

FIRM = Policy()


class Central:
    """A central store initialised by its installer, with two timekeepers and a billing login."""

    def __init__(self, pg_db) -> None:  # type: ignore[no-untyped-def]
        self.db = pg_db
        self.installer = create_engine(pg_db.superuser_url(), pool_pre_ping=True)
        admin.init_store(self.installer)
        suffix = pg_db.name.removeprefix("t_")[:12]
        self.alice, self.bob, self.billing = f"alice_{suffix}", f"bob_{suffix}", f"billing_{suffix}"
        admin.add_timekeeper(self.installer, admin.NewTimekeeper(self.alice, "Alice", office="Boston"), "pw-alice")
        admin.add_timekeeper(self.installer, admin.NewTimekeeper(self.bob, "Bob", rate=350.0), "pw-bob")
        admin.add_staff(self.installer, self.billing, "billing", "pw-billing")
        admin.import_matters(self.installer, "code,name,client\nM-1,Lease,Acme\nM-2,Audit,Globex\n")

    def settings(self, user: str, sslmode: str = "verify-full", sslrootcert: str | None = None) -> CentralSettings:
        url = self.db.url(user, None, sslmode="disable").set(query={})
        return CentralSettings(url=url.render_as_string(), sslmode=sslmode,
                               sslrootcert=str(sslrootcert or self.db.cluster.ca_file))  # fmt: skip

    def login(self, user: str, password: str) -> CentralSettings:
        """What `softclock sync login` does: the password goes to the keyring, nowhere else."""
        settings = self.settings(user)
        secrets.set_central_password(login_of(parse_url(settings.url)), password)
        return settings

    def engine_as(self, user: str, password: str):  # type: ignore[no-untyped-def]
        return create_engine(self.db.url(user, password))

    def count(self) -> int:
        with self.installer.connect() as conn:
            return conn.scalar(select(func.count()).select_from(CentralEntry))  # type: ignore[return-value]

    def close(self) -> None:
        self.installer.dispose()


@pytest.fixture
def central(pg_db):  # type: ignore[no-untyped-def]
    c = Central(pg_db)
    yield c
    c.close()


def _laptop(n: int = 1, narrative: str = "call") -> tuple[Store, list[str]]:
    store = open_memory_store()
    matter = make_matter(store, "M-1")
    ids = [make_entry(store, 300 + i, matter, narrative=f"{narrative} {i}") for i in range(n)]
    return store, ids


def _approve(store: Store, ids: list[str]) -> None:
    with store.session() as s, s.begin():
        assert review.approve(s, ids, "me", FIRM).done == ids


def test_init_store_twice_is_a_no_op_and_the_schema_has_its_own_history(central: Central) -> None:
    assert admin.init_store(central.installer) == ("c0001", "c0001")
    with central.installer.connect() as conn:
        tables = set(conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
        rls = dict(conn.execute(text("SELECT relname, relrowsecurity FROM pg_class WHERE relname = 'entries'")).all())
    assert {"softclock_central_version", "entries", "timekeepers", "matters", "sync_log"} <= tables
    assert "alembic_version" not in tables and rls == {"entries": True}


def test_row_level_security_keeps_timekeepers_apart_and_lets_billing_invoice(central: Central) -> None:
    a_store, a_ids = _laptop(2, "alice")
    b_store, b_ids = _laptop(1, "bob")
    _approve(a_store, a_ids)
    _approve(b_store, b_ids)
    Sync(a_store, central.login(central.alice, "pw-alice"), "ignored").once()
    Sync(b_store, central.login(central.bob, "pw-bob"), "ignored").once()
    assert central.count() == 3

    alice = central.engine_as(central.alice, "pw-alice")
    with alice.begin() as conn:
        assert sorted(conn.scalars(select(CentralEntry.id))) == sorted(a_ids)  # not Bob's
        assert conn.scalars(select(Timekeeper.id)).all() == [central.alice]
        assert conn.execute(update(CentralEntry).where(CentralEntry.id == b_ids[0]).values(narrative="x")).rowcount == 0
    with alice.begin() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(delete(CentralEntry).where(CentralEntry.id == b_ids[0]))
    with alice.begin() as conn, pytest.raises(ProgrammingError, match="row-level security"):
        conn.execute(update(CentralEntry).where(CentralEntry.id == a_ids[0]).values(status="invoiced"))
    with alice.begin() as conn, pytest.raises(ProgrammingError, match="row-level security"):
        conn.execute(update(CentralEntry).where(CentralEntry.id == a_ids[0]).values(timekeeper_id=central.bob))
    with alice.begin() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(update(Timekeeper).where(Timekeeper.id == central.alice).values(rate=999))
    alice.dispose()

    billing = central.engine_as(central.billing, "pw-billing")
    with billing.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CentralEntry)) == 3
    assert admin.mark_invoiced(billing, [b_ids[0]]) == 1
    with billing.begin() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(update(CentralEntry).where(CentralEntry.id == a_ids[0]).values(narrative="edited by billing"))
    billing.dispose()

    # The invoiced entry comes back to Bob's laptop, locked.
    assert Sync(b_store, central.settings(central.bob), "ignored").once().pull.invoiced == 1  # type: ignore[union-attr]
    with b_store.session() as s:
        assert s.get(TimeEntry, b_ids[0]).status == "invoiced"
        with pytest.raises(review.ReviewError, match="invoiced and locked"):
            review.reopen(s, b_ids[0], "bob", "wrong matter")


def test_pull_feeds_the_prompt_and_the_rules(central: Central) -> None:
    store = open_memory_store()
    admin.set_policy(central.installer, increment_min=10)
    admin.add_number(central.installer, "+12025550143", "Globex", "M-2")
    sync = Sync(store, central.login(central.alice, "pw-alice"), "ignored")
    sync.once()
    from softclock.matching import suggest_matter
    from softclock.store.queries import search_matters
    from softclock.sync.state import firm_policy

    with store.session() as s:
        assert suggest_matter(s, "+12025550143").code == "M-2"  # type: ignore[union-attr]
        assert firm_policy(s, FIRM).increment_min == 10
    admin.set_matter_status(central.installer, "M-2", "closed")
    sync.once()
    with store.session() as s:
        assert [m.code for m in search_matters(s, "M-")] == ["M-1"]
        assert s.scalars(select(Matter.status).where(Matter.code == "M-2")).one() == "closed"


def test_store_down_while_500_are_approved_then_back_all_arrive_once(central: Central) -> None:
    store, ids = _laptop(500)
    sync = Sync(store, central.login(central.alice, "pw-alice"), "ignored")
    sync.once()  # connected once: reference data pulled
    central.db.cluster.stop()
    try:
        _approve(store, ids)
        with pytest.raises(SyncFailed, match="refused the connection"):
            sync.once()
        status = sync.status()
        assert status.waiting == 500 and status.down_since_utc is not None
    finally:
        central.db.cluster.start()
    report = sync.once()
    assert report.push.sent == 500
    with central.installer.connect() as conn:
        assert conn.scalar(select(func.count(func.distinct(CentralEntry.id)))) == 500
    assert central.count() == 500 and sync.once().push.done == 0
    assert sync.status().summary().startswith("Synced")


def test_worker_retries_by_itself_when_the_store_returns(central: Central) -> None:
    store, ids = _laptop(20)
    statuses = []
    sync = Sync(store, central.login(central.alice, "pw-alice"), "ignored")
    worker = SyncWorker(sync, on_status=statuses.append, interval_s=3600)
    central.db.cluster.stop()
    try:
        _approve(store, ids)
        worker.start()
        assert worker.wait_rounds(1, timeout=30)
        assert statuses[-1].waiting == 20 and "unreachable since" in statuses[-1].summary()
    finally:
        central.db.cluster.start()
    try:
        rounds = 2
        while statuses[-1].waiting:  # each retry comes after 0.5-1 s, 1-2 s, 2-4 s...: no kick needed
            assert worker.wait_rounds(rounds, timeout=30), "the worker stopped retrying"
            rounds += 1
        assert central.count() == 20 and statuses[-1].down_since_utc is None and worker.failures == 0
    finally:
        worker.stop()


def test_connection_killed_mid_batch_loses_nothing_and_duplicates_nothing(central: Central) -> None:
    store, ids = _laptop(300)
    _approve(store, ids)
    sync = Sync(store, central.login(central.alice, "pw-alice"), "ignored")
    killed = []

    @event.listens_for(sync.engine, "before_cursor_execute")
    def kill_on_insert(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO entries") and not killed:
            killed.append(central.db.cluster.terminate_backends(central.db.name, user=central.alice))

    with pytest.raises(SyncFailed, match="lost|terminat|closed"):
        sync.once()
    assert killed == [1] and central.count() == 0 and sync.status().waiting == 300
    assert sync.once().push.sent == 300
    assert central.count() == 300 and sync.once().push.done == 0


def test_two_laptops_of_one_timekeeper_conflict_by_version_and_nothing_is_lost(central: Central) -> None:
    settings = central.login(central.alice, "pw-alice")
    laptop_a, (entry_id,) = _laptop(1, "from A")
    laptop_b = open_memory_store()
    with laptop_a.session() as s:
        row = {c.name: getattr(s.get(TimeEntry, entry_id), c.name) for c in TimeEntry.__table__.columns}
    with laptop_b.session() as s, s.begin():
        s.add(TimeEntry(**{**row, "matter_id": make_matter(laptop_b, "M-1"), "narrative": "from B"}))
    _approve(laptop_a, [entry_id])
    _approve(laptop_b, [entry_id])
    assert Sync(laptop_a, settings, "x").once().push.sent == 1
    sync_b = Sync(laptop_b, settings, "x")
    assert sync_b.once().push.conflicts == 1
    status = sync_b.status()
    assert status.conflicts == 1 and "1 conflict" in status.summary()
    with central.installer.connect() as conn:
        assert conn.scalar(select(CentralEntry.narrative)) == "from A 0"
        kept = conn.execute(text("SELECT payload_json, reason FROM entry_conflicts")).one()
    assert json.loads(kept.payload_json)["narrative"] == "from B" and "another computer" in kept.reason


def test_wrong_password_and_refused_tls_are_named_and_approvals_keep_queueing(central: Central) -> None:
    store, ids = _laptop(2)
    wrong = Sync(store, central.login(central.alice, "not-her-password"), "x")
    _approve(store, ids[:1])
    with pytest.raises(SyncFailed, match="refused the password"):
        wrong.once()
    other_ca = central.db.cluster.tls_ca.other_ca_cert  # a CA that did not sign the server's certificate
    tls = Sync(store, central.settings(central.alice, sslrootcert=str(other_ca)), "x")
    _approve(store, ids[1:])
    with pytest.raises(SyncFailed, match="TLS .* certificate could not be verified"):
        tls.once()
    status = wrong.status()
    assert status.waiting == 2 and "certificate" in status.last_error
    assert "not-her-password" not in status.last_error


def test_unknown_host_is_named() -> None:
    """Inside a network namespace with only loopback, so the name lookup sends nothing off the machine."""
    from tests.helpers.netns import require_namespace

    require_namespace()
    probe = (
        "from softclock.settings import CentralSettings\n"
        "from softclock.store.db import open_memory_store\n"
        "from softclock.sync.service import Sync, SyncFailed\n"
        "s = Sync(open_memory_store(), CentralSettings(url='postgresql://alice@central.unknown-host.test/billing'), 'a')\n"
        "try:\n    s.once()\nexcept SyncFailed as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "tests.helpers.keyring_backend.MemoryKeyring"}
    result = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {sys.executable} -c \"$0\"", probe],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "The central store's host 'central.unknown-host.test' is unknown (DNS lookup failed)."
