"""The central store on a real PostgreSQL server: roles and row-level security, push and pull,
and the faults of issue 5 (server down, connection killed mid-batch, two laptops, bad credentials)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, delete, event, func, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from softclock import audit, review, secrets
from softclock.billing import Policy
from softclock.formatting import utc_now
from softclock.settings import CentralSettings
from softclock.store.db import Store, open_memory_store
from softclock.store.models import Matter, TimeEntry
from softclock.sync import admin, anchor
from softclock.sync.central import CentralEntry, ChainAnchor, EntryConflict, EntryVersion, Timekeeper, content_hash
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
        return CentralSettings(
            url=url.render_as_string(), sslmode=sslmode, sslrootcert=str(sslrootcert or self.db.cluster.ca_file)
        )

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


def _row(conn, entry_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return dict(conn.execute(select(CentralEntry.__table__).where(CentralEntry.id == entry_id)).mappings().one())


def test_init_store_twice_is_a_no_op_and_the_schema_has_its_own_history(central: Central) -> None:
    assert admin.init_store(central.installer) == (admin.head_revision(), admin.head_revision())
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
    with alice.begin() as conn, pytest.raises(DBAPIError, match="only with a higher version"):
        conn.execute(update(CentralEntry).where(CentralEntry.id == a_ids[0]).values(timekeeper_id=central.bob))
    with alice.begin() as conn, pytest.raises(ProgrammingError, match="row-level security"):
        moved = _row(conn, a_ids[0]) | {"timekeeper_id": central.bob}
        conn.execute(
            update(CentralEntry)
            .where(CentralEntry.id == a_ids[0])
            .values(timekeeper_id=central.bob, version=2, content_hash=content_hash(moved))
        )
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
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'ip link set lo up && exec {sys.executable} -c "$0"', probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        result.stdout.strip() == "The central store's host 'central.unknown-host.test' is unknown (DNS lookup failed)."
    )


def test_a_timekeeper_cannot_rewrite_an_approved_entry_in_place_and_every_version_is_kept(central: Central) -> None:
    """Issue 9: as the timekeeper, UPDATE billed_units 1 -> 40 (and raw seconds to 14,400) in place with no
    version change and a stale content hash went through, and billing invoiced it."""
    store, (entry_id,) = _laptop(1)
    _approve(store, [entry_id])
    Sync(store, central.login(central.alice, "pw-alice"), "ignored").once()
    alice = central.engine_as(central.alice, "pw-alice")
    with alice.connect() as conn:
        before = _row(conn, entry_id)
    assert before["billed_units"] == 1 and before["content_hash"] == content_hash(before)
    refusals = [
        ({"billed_units": 40}, "only with a higher version"),
        ({"billed_units": 40, "raw_seconds": 14400.0}, "only with a higher version"),
        ({"billed_units": 40, "version": 2}, "content hash does not match its content"),
        ({"billed_units": 40, "version": 2, "content_hash": "0" * 64}, "content hash does not match its content"),
        ({"content_hash": content_hash(before | {"billed_units": 40})}, "only with a higher version"),
    ]
    for values, why in refusals:
        with alice.begin() as conn, pytest.raises(DBAPIError, match=why):
            conn.execute(update(CentralEntry).where(CentralEntry.id == entry_id).values(**values))
    with central.installer.begin() as conn, pytest.raises(DBAPIError, match="only with a higher version"):
        conn.execute(
            update(CentralEntry).where(CentralEntry.id == entry_id).values(billed_units=40)
        )  # not even its owner
    # A new version with the hash of its content is a version: kept beside the old one.
    with alice.begin() as conn:
        changed = before | {"billed_units": 2, "version": 2}
        conn.execute(
            update(CentralEntry)
            .where(CentralEntry.id == entry_id)
            .values(billed_units=2, version=2, content_hash=content_hash(changed))
        )
    billing = central.engine_as(central.billing, "pw-billing")
    assert admin.mark_invoiced(billing, [entry_id]) == 1  # status is not content: no version needed
    with billing.connect() as conn:
        history = conn.execute(
            select(EntryVersion.version, EntryVersion.billed_units, EntryVersion.recorded_by)
            .where(EntryVersion.entry_id == entry_id)
            .order_by(EntryVersion.version)
        ).all()
    assert [tuple(h) for h in history] == [(1, 1, central.alice), (2, 2, central.alice)]
    bob = central.engine_as(central.bob, "pw-bob")
    with bob.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(EntryVersion)) == 0  # not his
    for engine, _who in ((alice, "the timekeeper"), (billing, "billing")):
        for statement in (
            "UPDATE entry_versions SET billed_units = 40",
            "DELETE FROM entry_versions",
            "INSERT INTO entry_versions SELECT * FROM entry_versions",
        ):
            with engine.begin() as conn, pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(statement))
    for statement in (
        "UPDATE entry_versions SET billed_units = 40",
        "DELETE FROM entry_versions",
        "TRUNCATE entry_versions",
    ):
        with central.installer.begin() as conn, pytest.raises(DBAPIError, match="kept as written"):
            conn.execute(text(statement))
    for engine in (alice, billing, bob):
        engine.dispose()


def test_an_id_held_by_another_timekeepers_entry_is_a_named_conflict_and_the_batch_goes_through(
    central: Central,
) -> None:
    """Issue 9: a store copied to a second laptop met a primary-key collision, the whole batch failed
    and the outbox stayed stuck."""
    a_store, (taken,) = _laptop(1, "alice")
    _approve(a_store, [taken])
    Sync(a_store, central.login(central.alice, "pw-alice"), "ignored").once()
    b_store = open_memory_store()
    matter = make_matter(b_store, "M-1")
    with a_store.session() as s:
        row = {c.name: getattr(s.get(TimeEntry, taken), c.name) for c in TimeEntry.__table__.columns}
    with b_store.session() as s, s.begin():
        s.add(TimeEntry(**{**row, "matter_id": matter, "status": "draft", "narrative": "copied"}))
    own = [make_entry(b_store, 300 + i, matter, narrative=f"bob {i}") for i in range(3)]
    _approve(b_store, [taken, *own])
    sync = Sync(b_store, central.login(central.bob, "pw-bob"), "ignored")
    report = sync.once()
    assert (report.push.sent, report.push.conflicts) == (3, 1)
    status = sync.status()
    assert (status.waiting, status.conflicts) == (0, 1)
    assert sync.once().push.done == 0  # not stuck
    with central.installer.connect() as conn:
        owners = dict(conn.execute(select(CentralEntry.id, CentralEntry.timekeeper_id)).all())
        kept = conn.execute(select(EntryConflict.entry_id, EntryConflict.timekeeper_id, EntryConflict.reason)).one()
        narrative = conn.scalar(select(CentralEntry.narrative).where(CentralEntry.id == taken))
    assert owners == {taken: central.alice, **dict.fromkeys(own, central.bob)} and narrative == "alice 0"
    assert (kept.entry_id, kept.timekeeper_id) == (taken, central.bob)
    assert kept.reason.startswith("another timekeeper's entry in the central store has this entry's id")


def test_each_push_anchors_the_chain_and_a_rewritten_chain_no_longer_matches(central: Central) -> None:
    store, ids = _laptop(3)
    _approve(store, ids[:1])
    sync = Sync(store, central.login(central.alice, "pw-alice"), "ignored")
    sync.once()
    _approve(store, ids[1:])
    sync.once()
    alice = central.engine_as(central.alice, "pw-alice")
    with alice.connect() as conn:
        anchors = conn.execute(
            select(ChainAnchor.seq, ChainAnchor.event_id, ChainAnchor.device_id).order_by(ChainAnchor.id)
        ).all()
    with store.session() as s:
        head = anchor.local_head(s)
    assert head is not None and [(a.seq, a.event_id) for a in anchors][-1] == (head.seq, head.event_id)
    assert len(anchors) == 2 and {a.device_id for a in anchors} == {sync.device.id}
    with alice.begin() as conn, pytest.raises(DBAPIError, match="permission denied"):
        conn.execute(text("UPDATE chain_anchors SET head_hash = 'x'"))
    with alice.begin() as conn, pytest.raises(DBAPIError, match="permission denied"):
        conn.execute(text("DELETE FROM chain_anchors"))
    with alice.begin() as conn, pytest.raises(DBAPIError, match="row-level security"):
        conn.execute(
            ChainAnchor.__table__.insert(),
            [
                {
                    "timekeeper_id": central.bob,
                    "device_id": "x",
                    "device_label": "",
                    "seq": 1,
                    "event_id": 1,
                    "head_hash": "0" * 64,
                    "anchored_utc": utc_now(),
                }
            ],
        )
    bob = central.engine_as(central.bob, "pw-bob")
    with bob.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ChainAnchor)) == 0
    with store.session() as s:
        assert anchor.compare(s, alice, central.alice, sync.device.id).ok
    with store.engine.begin() as conn:  # the last approval's event, and every hash after it, rewritten
        rows = conn.execute(
            text(
                "SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason "
                "FROM audit_events WHERE id >= :i ORDER BY id"
            ),
            {"i": anchors[0].event_id + 1},
        ).all()
        prev = conn.scalar(text("SELECT hash FROM audit_events WHERE id = :i"), {"i": anchors[0].event_id})
        for r in rows:
            new = "99" if r.field == "billed_units" else r.new_value
            digest = audit._digest_iso(
                prev, audit._iso(r.at_utc), r.actor, r.entity, r.entity_id, r.field, r.old_value, new, r.reason
            )
            conn.execute(
                text("UPDATE audit_events SET new_value = :n, prev_hash = :p, hash = :h WHERE id = :i"),
                {"n": new, "p": prev, "h": digest, "i": r.id},
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET last_hash = :h, checked_id = NULL"), {"h": prev})
    with store.session() as s:
        result = anchor.compare(s, alice, central.alice, sync.device.id)
    assert not result.ok and result.event_id == anchors[1].event_id
    assert f"it still matches at event {anchors[0].event_id}" in result.message
    for engine in (alice, bob):
        engine.dispose()


def test_a_c0001_store_upgrades_with_its_hashes_recomputed_by_postgresql(central: Central, pg_db) -> None:  # type: ignore[no-untyped-def]
    """The store's own hash of a row (non-ASCII narrative and all) is the laptops' (softclock.sync.central.content_hash)."""
    from alembic import command

    fresh = pg_db.cluster.create_database(f"{pg_db.name}_up")
    engine = create_engine(pg_db.cluster.superuser_url(fresh), pool_pre_ping=True)
    try:
        cfg = admin.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "c0001")
            conn.execute(
                text(
                    "INSERT INTO timekeepers (id, name, email, office, department, active, created_utc) "
                    "VALUES ('alice', 'Alice', '', '', '', true, now())"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO entries (id, version, content_hash, timekeeper_id, matter_code, client_name, work_date, "
                    "started_utc, raw_seconds, hold_seconds, billed_units, unit_minutes, activity_code, task_code, "
                    "narrative, billable, remote_number, direction, status, pushed_utc) VALUES ('e1', 1, :h, 'alice', "
                    "NULL, 'Acme «SA»', '2026-01-05', '2026-01-05 09:00:00.123400', 4.9, 0.25, 1, 6, 'A106', '', "
                    ":n, true, '', 'incoming', 'approved', now())"
                ),
                {"h": "a" * 64, "n": 'Müller über 😀\ttab "quoted"'},
            )
        assert admin.init_store(engine) == ("c0001", admin.head_revision())
        with engine.connect() as conn:
            row = conn.execute(select(CentralEntry.__table__)).mappings().one()
            kept = conn.scalar(select(func.count()).select_from(EntryVersion))
        assert row["content_hash"] == content_hash(row) and kept == 1
        with engine.begin() as conn, pytest.raises(DBAPIError, match="only with a higher version"):
            conn.execute(text("UPDATE entries SET raw_seconds = 14400"))
    finally:
        engine.dispose()
        pg_db.cluster.drop_database(fresh)
