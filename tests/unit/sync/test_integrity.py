"""What the central store holds against rewrites, on a real SQLite central store (the embedded
default): chain anchors carried by each push, every entry version kept, an id taken by another
timekeeper's entry as a named conflict, and bugs in a sync round reported as bugs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from softclock import audit, review
from softclock.billing import Policy
from softclock.settings import CentralSettings
from softclock.store.db import Store, open_memory_store
from softclock.store.models import AuditEvent, Outbox, TimeEntry
from softclock.sync import admin, anchor, push
from softclock.sync.central import CentralEntry, ChainAnchor, EntryConflict, EntryVersion, content_hash
from softclock.sync.service import Sync, SyncFailed, SyncWorker, known_failure
from tests.helpers.entries import make_entry, make_matter

FIRM = Policy()


@pytest.fixture
def central_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    sync = Sync(open_memory_store(), CentralSettings(url=url), "alice")
    admin.init_store(sync.engine)
    sync.close()
    return url


def _sync(store: Store, url: str, who: str = "alice") -> Sync:
    return Sync(store, CentralSettings(url=url), who)


def _approved(store: Store, n: int = 1, first: int = 0) -> list[str]:
    matter = make_matter(store, f"M-{first}")
    ids = [make_entry(store, 400 + i, matter, narrative=f"call {i}") for i in range(first, first + n)]
    with store.session() as s, s.begin():
        assert review.approve(s, ids, "alice", FIRM).done == ids
    return ids


def _anchors(sync: Sync) -> list[tuple[int, int, str]]:
    with sync.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(  # type: ignore[misc]
                select(ChainAnchor.seq, ChainAnchor.event_id, ChainAnchor.head_hash).order_by(ChainAnchor.id)
            )
        ]


def _head(store: Store) -> tuple[int, int, str]:
    with store.session() as s:
        head = anchor.local_head(s)
    assert head is not None
    return head.seq, head.event_id, head.hash


# ------------------------------------------------------------------------------------------ chain anchors


def test_each_push_anchors_the_chain_head_in_its_own_transaction(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    _approved(store, 2)
    assert sync.once().push.sent == 2
    assert _anchors(sync) == [_head(store)]
    assert sync.once().push.done == 0 and len(_anchors(sync)) == 1  # the head did not move: no new anchor
    _approved(store, 1, first=5)
    sync.once()
    assert _anchors(sync)[-1] == _head(store) and len(_anchors(sync)) == 2
    with store.session() as s:
        assert anchor.anchored(s) == f"{_head(store)[0]}:{_head(store)[2]}"


def test_an_anchor_is_written_only_if_the_batch_is(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    _approved(store, 2)
    with sync.engine.begin() as conn:  # the batch fails at its end, after the anchor was written
        conn.execute(text("CREATE TRIGGER no_log BEFORE INSERT ON sync_log BEGIN SELECT RAISE(ABORT, 'log full'); END"))
    with pytest.raises(SyncFailed):
        sync.once()
    assert _anchors(sync) == [] and sync.status().waiting == 2
    with sync.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER no_log"))
    assert sync.once().push.sent == 2 and len(_anchors(sync)) == 1


def test_the_head_is_anchored_even_when_nothing_waits(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    with store.session() as s, s.begin():
        audit.record(s, "capture", "time_entry", "e1", "created", None, "30.000", "captured from call c1")
    sync.once()
    assert _anchors(sync) == [_head(store)]


def _rewrite_wholesale(store: Store, from_id: int) -> None:
    """Edit event ``from_id`` and recompute every hash after it, the head and the checkpoint: locally consistent."""
    with store.session() as s, s.begin():
        rows = s.execute(
            text(
                "SELECT id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason, "
                "prev_hash FROM audit_events ORDER BY id"
            )
        ).all()
        prev = audit.GENESIS
        for row in rows:
            new = row.new_value
            if row.id == from_id:
                new = "forged"
            if row.id >= from_id:
                digest = audit._digest_iso(
                    prev,
                    audit._iso(row.at_utc),
                    row.actor,
                    row.entity,
                    row.entity_id,
                    row.field,
                    row.old_value,
                    new,
                    row.reason,
                )
                s.execute(
                    text("UPDATE audit_events SET new_value = :n, prev_hash = :p, hash = :h WHERE id = :i"),
                    {"n": new, "p": prev, "h": digest, "i": row.id},
                )
                prev = digest
            else:
                prev = s.scalar(text("SELECT hash FROM audit_events WHERE id = :i"), {"i": row.id})
        s.execute(
            text("UPDATE audit_head SET last_hash = :h, checked_id = NULL, checked_hash = NULL, checked_count = NULL"),
            {"h": prev},
        )


def test_a_chain_rewritten_wholesale_no_longer_matches_the_firms_anchors(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    _approved(store, 2)
    sync.once()
    first_anchor = _head(store)
    _approved(store, 2, first=10)
    sync.once()
    with store.session() as s:
        result = anchor.compare(s, sync.engine, sync.identity, sync.device.id)
    assert result.ok and result.anchors == 2 and "matches the 2 anchor(s)" in result.message

    _rewrite_wholesale(store, from_id=first_anchor[1] + 1)  # after the first anchor
    with store.session() as s:
        assert audit.verify(s, entries=False).ok  # the laptop alone cannot tell
        result = anchor.compare(s, sync.engine, sync.identity, sync.device.id)
    assert not result.ok and result.event_id == _anchors(sync)[1][1]
    assert f"it still matches at event {first_anchor[1]}" in result.message
    assert result.message.startswith(
        f"the audit chain is not the one the central store anchored: event {result.event_id}"
    )

    _rewrite_wholesale(store, from_id=1)
    with store.session() as s:
        result = anchor.compare(s, sync.engine, sync.identity, sync.device.id)
    assert not result.ok and result.event_id == first_anchor[1] and "from its start" in result.message


def test_a_deleted_tail_no_longer_matches_either(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    _approved(store, 2)
    sync.once()
    seq, event_id, _hash = _head(store)
    with store.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_events WHERE id >= {event_id}"))
    with store.session() as s:
        result = anchor.compare(s, sync.engine, sync.identity, sync.device.id)
    assert not result.ok and f"event {event_id} (number {seq}" in result.message and "is missing here" in result.message


def test_a_computer_without_anchors_says_so_and_names_the_others(central_url: str) -> None:
    laptop, other = open_memory_store(), open_memory_store()
    _approved(other, 1)
    _sync(other, central_url).once()
    sync = _sync(laptop, central_url)
    with laptop.session() as s:
        result = anchor.compare(s, sync.engine, sync.identity, sync.device.id)
    assert result.ok and result.anchors == 0 and result.other_devices == 1
    assert result.message.startswith(
        "The central store holds no anchor of this computer's audit chain yet; "
        "it holds anchors of 1 other computer(s) of alice"
    )


def test_anchors_and_versions_are_never_changed(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    _approved(store, 1)
    sync.once()
    for statement in (
        "UPDATE chain_anchors SET head_hash = 'x'",
        "DELETE FROM chain_anchors",
        "UPDATE entry_versions SET billed_units = 40",
        "DELETE FROM entry_versions",
    ):
        with sync.engine.begin() as conn, pytest.raises(IntegrityError, match="kept as written"):
            conn.execute(text(statement))


# ------------------------------------------------------------------------------- entry content and versions


def test_content_changes_only_with_a_higher_version_and_every_version_is_kept(central_url: str) -> None:
    store = open_memory_store()
    sync = _sync(store, central_url)
    (entry_id,) = _approved(store)
    sync.once()
    with sync.engine.begin() as conn, pytest.raises(IntegrityError, match="changes only with a higher version"):
        conn.execute(text("UPDATE entries SET billed_units = 40 WHERE id = :i"), {"i": entry_id})
    with store.session() as s, s.begin():
        s.execute(text("UPDATE time_entries SET status = 'approved'"))  # as if never synced: reopen, edit, approve
        review.reopen(s, entry_id, "alice", "more words")
        review.edit(s, entry_id, "alice", narrative="more words")
        review.approve(s, [entry_id], "alice", FIRM)
    assert sync.once().push.sent == 1
    assert admin.mark_invoiced(sync.engine, [entry_id]) == 1  # not a change of content: no version needed
    with sync.engine.connect() as conn:
        versions = conn.execute(
            select(EntryVersion.version, EntryVersion.narrative).order_by(EntryVersion.version)
        ).all()
        row = conn.execute(select(CentralEntry.__table__).where(CentralEntry.id == entry_id)).mappings().one()
    assert [tuple(v) for v in versions] == [(1, "call 0"), (2, "more words")]
    assert row["content_hash"] == content_hash(row) and row["status"] == "invoiced"


def test_the_content_hash_is_the_stores_own_and_a_retry_still_finds_it(central_url: str) -> None:
    """The central row's hash covers what the firm holds (a private narrative as blank): a retry after a
    lost local commit compares with it, not with the laptop's payload hash."""
    store = open_memory_store()
    _approved(store, 2)
    sync = Sync(store, CentralSettings(url=central_url, privacy=True), "alice")
    sync.once()
    with store.session() as s, s.begin():
        s.execute(text("UPDATE outbox SET state = 'pending'"))
        s.execute(text("UPDATE time_entries SET status = 'approved'"))
    report = sync.once()
    assert (report.push.sent, report.push.already, report.push.conflicts) == (0, 2, 0)


# ---------------------------------------------------------------- an id that another timekeeper's entry holds


def test_an_id_taken_by_another_timekeeper_is_a_named_conflict_and_the_rest_goes_through(central_url: str) -> None:
    """A store copied to a second laptop: Bob approves Alice's entries as his. The copied one is refused by
    name, his own go through, the outbox is not stuck, Alice's entry is untouched."""
    alice = open_memory_store()
    (taken,) = _approved(alice, 1)
    _sync(alice, central_url, "alice").once()
    with alice.session() as s:
        row = {c.name: getattr(s.get(TimeEntry, taken), c.name) for c in TimeEntry.__table__.columns}
    bob = open_memory_store()
    matter = make_matter(bob, "M-0")
    with bob.session() as s, s.begin():
        s.add(TimeEntry(**{**row, "matter_id": matter, "status": "draft", "narrative": "copied", "timekeeper": "bob"}))
    own = [make_entry(bob, 500 + i, matter, narrative=f"bob {i}") for i in range(3)]
    with bob.session() as s, s.begin():
        assert len(review.approve(s, [taken, *own], "bob", FIRM).done) == 4
    sync = _sync(bob, central_url, "bob")
    report = sync.once()
    assert (report.push.sent, report.push.conflicts) == (3, 1)
    status = sync.status()
    assert (status.waiting, status.conflicts) == (0, 1) and "1 conflict to resolve" in status.summary()
    with bob.session() as s:
        states = dict(s.execute(select(Outbox.entry_id, Outbox.state)).all())
        why = s.scalar(select(Outbox.last_error).where(Outbox.entry_id == taken))
    assert states == {taken: "conflict", **dict.fromkeys(own, "sent")}
    assert why.startswith("another timekeeper's entry in the central store has this entry's id")
    with sync.engine.connect() as conn:
        central = dict(conn.execute(select(CentralEntry.id, CentralEntry.timekeeper_id)).all())
        kept = conn.execute(
            select(EntryConflict.entry_id, EntryConflict.timekeeper_id, EntryConflict.payload_json)
        ).one()
    assert central == {taken: "alice", **dict.fromkeys(own, "bob")}
    assert (kept.entry_id, kept.timekeeper_id, json.loads(kept.payload_json)["narrative"]) == (taken, "bob", "copied")
    assert sync.once().push.done == 0  # nothing stuck, nothing sent twice


def test_an_insert_that_meets_an_id_taken_meanwhile_is_a_conflict_too(central_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The id was free when the batch looked, and taken by the time it inserted (another laptop, in between)."""
    bob = open_memory_store()
    _approved(bob, 2)
    sync = _sync(bob, central_url, "bob")
    real = push._insert_many

    def first_alice_takes_one(conn, rows):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(
            "INSERT INTO timekeepers (id, name, email, office, department, active, created_utc) "
            "VALUES ('alice', 'Alice', '', '', '', 1, '2026-01-01 00:00:00')"
        )
        stolen = {**rows[0], "timekeeper_id": "alice"}
        stolen["content_hash"] = content_hash(stolen)
        real(conn, [stolen])
        return real(conn, rows)

    monkeypatch.setattr(push, "_insert_many", first_alice_takes_one)
    report = sync.once()
    assert (report.push.sent, report.push.conflicts) == (1, 1)
    assert sync.status().waiting == 0


# ------------------------------------------------------------------------------------ bugs are not failures


def test_a_bug_in_a_sync_round_is_raised_as_itself_not_turned_into_a_sentence(central_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = open_memory_store()
    _approved(store, 1)
    sync = _sync(store, central_url)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AttributeError("'NoneType' object has no attribute 'version'")

    monkeypatch.setattr("softclock.sync.service.push_batch", broken)
    with pytest.raises(AttributeError, match="has no attribute 'version'"):
        sync.once()
    status = sync.status()
    assert status.last_error == "" and status.down_since_utc is None  # not recorded as the store's failure


@pytest.mark.parametrize(
    ("error", "known"),
    [
        (AttributeError("x"), False),
        (TypeError("x"), False),
        (KeyError("x"), False),
        (OperationalError("SELECT 1", {}, Exception("connection refused")), True),
        (ConnectionRefusedError(111, "refused"), True),
        (SyncFailed("x"), False),
    ],
)
def test_what_a_person_can_fix_is_known_and_the_rest_is_a_bug(error: BaseException, known: bool) -> None:
    assert known_failure(error) is known


def test_the_unreachable_store_is_still_a_sentence(tmp_path: Path) -> None:
    store = open_memory_store()
    _approved(store, 1)
    (tmp_path / "central.db").mkdir()  # a directory where the database file should be
    sync = _sync(store, f"sqlite:///{tmp_path / 'central.db'}")
    with pytest.raises(SyncFailed):
        sync.once()
    assert sync.status().waiting == 1 and sync.status().last_error


def test_the_worker_hands_a_bug_to_on_bug_and_goes_on(central_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = open_memory_store()
    _approved(store, 1)
    sync = _sync(store, central_url)
    bugs: list[tuple[str, BaseException]] = []
    reported = threading.Event()

    def on_bug(where: str, exc: BaseException) -> None:
        bugs.append((where, exc))
        reported.set()

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AttributeError("injected")

    monkeypatch.setattr("softclock.sync.service.push_batch", broken)
    worker = SyncWorker(sync, interval_s=3600, on_bug=on_bug)
    worker.start()
    try:
        assert worker.wait_rounds(1, timeout=30) and reported.is_set()
        assert [(where, type(exc), str(exc)) for where, exc in bugs] == [("a sync round", AttributeError, "injected")]
        assert bugs[0][1].__traceback__ is not None
        assert worker.bugs == 1 and worker.failures == 1
    finally:
        worker.stop()
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) > 0  # nothing else was touched


# ------------------------------------------------------------------------------------ a c0001 store upgraded


def _store_at_c0001(engine) -> None:  # type: ignore[no-untyped-def]
    """A central store as schema c0001 left it, with an entry pushed then (its hash the laptop's payload hash)."""
    from alembic import command

    cfg = admin.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "c0001")
        conn.execute(
            text(
                "INSERT INTO timekeepers (id, name, email, office, department, active, created_utc) "
                "VALUES ('alice', 'Alice', '', '', '', 1, '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO entries (id, version, content_hash, timekeeper_id, matter_code, client_name, work_date, "
                "started_utc, raw_seconds, hold_seconds, billed_units, unit_minutes, activity_code, task_code, narrative, "
                "billable, remote_number, direction, status, pushed_utc, change_seq) VALUES ('e1', 1, :h, 'alice', 'M-1', "
                "'Acme', '2026-01-05', '2026-01-05 09:00:00.000000', 300.0, 0.0, 1, 6, 'A106', '', 'Müller «über» 😀', 1, "
                "'+12025550143', 'outgoing', 'approved', '2026-01-05 10:00:00.000000', 0)"
            ),
            {"h": "a" * 64},
        )


def test_a_c0001_store_upgrades_with_its_hashes_recomputed_and_its_history_started(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'central.db'}")
    _store_at_c0001(engine)
    assert admin.init_store(engine) == ("c0001", admin.head_revision())
    with engine.connect() as conn:
        row = conn.execute(select(CentralEntry.__table__)).mappings().one()
        history = conn.execute(select(EntryVersion.entry_id, EntryVersion.version, EntryVersion.content_hash)).all()
    assert row["content_hash"] == content_hash(row) != "a" * 64
    assert [tuple(h) for h in history] == [("e1", 1, row["content_hash"])]
    with engine.begin() as conn, pytest.raises(IntegrityError, match="changes only with a higher version"):
        conn.execute(text("UPDATE entries SET billed_units = 40"))
    engine.dispose()
