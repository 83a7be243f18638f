"""Push and pull against a real SQLite central store (the embedded default): the rules, fast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from softclock import review
from softclock.billing import Policy
from softclock.settings import CentralSettings
from softclock.store.db import Store, open_memory_store
from softclock.store.models import Code, ContactNumber, Matter, Outbox, TimeEntry
from softclock.sync import admin, state
from softclock.sync.central import CentralEntry, EntryConflict
from softclock.sync.service import Sync, backoff_s
from tests.helpers.entries import make_entry, make_matter

FIRM = Policy()


@pytest.fixture
def central_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    sync = Sync(open_memory_store(), CentralSettings(url=url), "alice")
    admin.init_store(sync.engine)
    sync.close()
    return url


def _sync(store: Store, url: str, **kw: object) -> Sync:
    return Sync(store, CentralSettings(url=url, **kw), "alice")  # type: ignore[arg-type]


def _approved(store: Store, n: int = 1, matter_code: str = "M-1") -> list[str]:
    matter = make_matter(store, matter_code)
    ids = [make_entry(store, 400 + i, matter, narrative=f"call {i}") for i in range(n)]
    with store.session() as s, s.begin():
        assert review.approve(s, ids, "alice", FIRM).done == ids
    return ids


def _central_rows(sync: Sync) -> list:  # type: ignore[type-arg]
    with sync.engine.connect() as conn:
        return conn.execute(
            select(CentralEntry.id, CentralEntry.version, CentralEntry.billed_units, CentralEntry.narrative)
        ).all()


def test_approval_queues_the_version_in_the_same_transaction() -> None:
    store = open_memory_store()
    ids = _approved(store, 2)
    with store.session() as s:
        rows = s.execute(select(Outbox.entry_id, Outbox.version, Outbox.state, Outbox.payload_json)).all()
    assert sorted((r.entry_id, r.version, r.state) for r in rows) == sorted((i, 1, "pending") for i in ids)
    payload = json.loads(rows[0].payload_json)
    assert payload["matter_code"] == "M-1" and payload["client_name"] == "Acme" and payload["unit_minutes"] == 6


def test_push_sends_each_version_once_and_locks_the_entry(central_url: str) -> None:
    store = open_memory_store()
    ids = _approved(store, 3)
    sync = _sync(store, central_url)
    first = sync.once()
    assert first.push.sent == 3
    assert sorted(r.id for r in _central_rows(sync)) == sorted(ids)
    assert sync.once().push.done == 0  # nothing pending any more
    with store.session() as s:
        assert {e.status for e in s.scalars(select(TimeEntry))} == {"synced"}
        with pytest.raises(review.ReviewError, match="synced and locked"):
            review.reopen(s, ids[0], "alice", "typo")
    status = sync.status()
    assert (status.waiting, status.conflicts, status.down_since_utc) == (0, 0, None)
    assert status.summary().startswith("Synced")


def test_a_retry_after_a_lost_local_commit_is_not_a_duplicate(central_url: str) -> None:
    store = open_memory_store()
    _approved(store, 2)
    sync = _sync(store, central_url)
    sync.once()
    # As if the app died after the central commit and before the local one.
    with store.session() as s, s.begin():
        s.execute(text("UPDATE outbox SET state = 'pending'"))
        s.execute(text("UPDATE time_entries SET status = 'approved'"))
    report = sync.once()
    assert (report.push.sent, report.push.already, report.push.conflicts) == (0, 2, 0)
    assert len(_central_rows(sync)) == 2


def test_reopened_then_reapproved_entry_replaces_the_older_version(central_url: str) -> None:
    store = open_memory_store()
    (entry_id,) = _approved(store)
    with store.session() as s, s.begin():
        review.reopen(s, entry_id, "alice", "wrong narrative")
        review.edit(s, entry_id, "alice", narrative="better words")
        review.approve(s, [entry_id], "alice", FIRM)
    sync = _sync(store, central_url)
    sync.once()
    assert [(r.version, r.narrative) for r in _central_rows(sync)] == [(2, "better words")]
    with store.session() as s:
        states = dict(s.execute(select(Outbox.version, Outbox.state)).all())
    assert states == {1: "withdrawn", 2: "sent"}


def test_two_laptops_same_entry_conflict_is_kept_not_lost(central_url: str) -> None:
    a, b = open_memory_store(), open_memory_store()
    (entry_id,) = _approved(a)
    # Laptop B holds the same entry (same id, version 1) with other words.
    with a.session() as s:
        entry = s.get(TimeEntry, entry_id)
        clone = {c.name: getattr(entry, c.name) for c in TimeEntry.__table__.columns}
    matter_b = make_matter(b, "M-1")
    with b.session() as s, s.begin():
        s.add(TimeEntry(**{**clone, "matter_id": matter_b, "status": "draft", "narrative": "B's words"}))
    with b.session() as s, s.begin():
        review.approve(s, [entry_id], "alice", FIRM)
    _sync(a, central_url).once()
    sync_b = _sync(b, central_url)
    report = sync_b.once()
    assert report.push.conflicts == 1
    assert [r.narrative for r in _central_rows(sync_b)] == ["call 0"]  # A's version stands
    with sync_b.engine.connect() as conn:
        kept = conn.execute(select(EntryConflict.payload_json, EntryConflict.reason)).one()
    assert json.loads(kept.payload_json)["narrative"] == "B's words" and "other content" in kept.reason
    status = sync_b.status()
    assert status.conflicts == 1 and "1 conflict" in status.summary()
    # B's timekeeper resolves it: reopen (the conflict is withdrawn), approve again as version 2.
    with b.session() as s, s.begin():
        review.reopen(s, entry_id, "alice", "the other laptop's words were wrong")
    assert sync_b.status().conflicts == 0
    with b.session() as s, s.begin():
        review.approve(s, [entry_id], "alice", FIRM)
    assert sync_b.once().push.sent == 1
    assert [(r.version, r.narrative) for r in _central_rows(sync_b)] == [(2, "B's words")]


def test_pull_brings_matters_numbers_codes_policy_and_invoiced(central_url: str) -> None:
    store = open_memory_store()
    ids = _approved(store, 2, matter_code="LOCAL-1")
    sync = _sync(store, central_url)
    admin.import_matters(sync.engine, "code,name,client\nM-100,Lease,Globex\nM-101,Audit,Globex\n")
    admin.add_number(sync.engine, "+12025550143", "Globex", "M-101", "CFO")
    admin.set_policy(sync.engine, increment_min=15, rounding="nearest")
    first = sync.once()
    assert first.pull is not None and first.pull.rows["matters"] == 2
    with store.session() as s:
        assert set(s.scalars(select(Matter.code))) == {"LOCAL-1", "M-100", "M-101"}
        number = s.scalars(select(ContactNumber).where(ContactNumber.number == "+12025550143")).one()
        assert s.get(Matter, number.matter_id).code == "M-101"
        assert s.get(Code, "A106") is not None
        assert state.firm_policy(s, FIRM) == Policy(increment_min=15, rounding="nearest")
    # Incremental: only what changed comes again; a closed matter stays, closed.
    admin.set_matter_status(sync.engine, "M-100", "closed")
    second = sync.once()
    assert second.pull is not None and second.pull.rows == {"matters": 1}
    with store.session() as s:
        assert s.scalars(select(Matter.status).where(Matter.code == "M-100")).one() == "closed"
    assert admin.mark_invoiced(sync.engine, [ids[0]]) == 1
    assert sync.once().pull.invoiced == 1  # type: ignore[union-attr]
    with store.session() as s:
        assert s.get(TimeEntry, ids[0]).status == "invoiced"
        assert s.get(TimeEntry, ids[1]).status == "synced"
        assert s.scalar(select(func.count()).select_from(Matter)) == 3


def test_privacy_keeps_narratives_and_numbers_home(central_url: str) -> None:
    store = open_memory_store()
    _approved(store)
    sync = _sync(store, central_url, privacy=True)
    sync.once()
    assert [r.narrative for r in _central_rows(sync)] == [""]


def test_central_unreachable_is_recorded_and_approvals_keep_queueing(tmp_path: Path) -> None:
    store = open_memory_store()
    _approved(store, 2)
    missing = tmp_path / "no-such-dir" / "central.db"
    sync = _sync(store, f"sqlite:///{missing}")
    from softclock.sync.service import SyncFailed

    with pytest.raises(SyncFailed):
        sync.once()
    status = sync.status()
    assert status.waiting == 2 and status.down_since_utc is not None and status.last_error
    assert "2 waiting, central store unreachable since" in status.summary()
    with store.session() as s:
        assert set(s.scalars(select(Outbox.attempts))) == {1}


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    lows = [backoff_s(n, rng=lambda: 0.0) for n in range(1, 12)]
    highs = [backoff_s(n, rng=lambda: 1.0) for n in range(1, 12)]
    assert lows[:4] == [0.5, 1.0, 2.0, 4.0] and highs[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(highs) == 300.0 and all(lo < hi for lo, hi in zip(lows, highs, strict=True))


def test_pulled_task_codes_are_what_entries_may_use(central_url: str) -> None:
    store = open_memory_store()
    entry_id = make_entry(store, 400, make_matter(store, "M-1"))
    sync = _sync(store, central_url)
    admin.set_code(sync.engine, "L120", "task", "Analysis/Strategy")
    admin.set_code(sync.engine, "L130", "task", "Experts", active=False)
    sync.once()
    with store.session() as s, s.begin():
        review.edit(s, entry_id, "alice", task_code="L120")
        for bad in ("L130", "L999"):
            with pytest.raises(review.ReviewError, match=f"unknown task code '{bad}'"):
                review.edit(s, entry_id, "alice", task_code=bad)


def test_a_big_pull_is_searchable_at_once_and_keeps_the_search_triggers(
    central_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of many matters is written with the search index's triggers set aside (search_index.bulk):
    the pulled matters are found by the search, renamed ones by their new name, and the triggers are back."""
    from softclock.store import queries, search_index
    from softclock.sync import pull

    monkeypatch.setattr(pull, "_BULK", 2)  # the bulk path from two matters a page
    store = open_memory_store()
    if not search_index.supported(store.engine.connect()):
        pytest.skip("SQLite without FTS5 trigram")
    sync = _sync(store, central_url)
    admin.import_matters(
        sync.engine,
        "code,name,client\nM-100,Lease of Harbour House,Globex\nM-101,Audit,Globex\nM-102,Merger,Initech\n",
    )

    def codes(words: str) -> list[str]:
        with store.session() as s:
            return [m.code for m in queries.search_matters(s, words)]

    def triggers() -> set[str]:
        with store.engine.connect() as conn:
            return {n for (n,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}

    before = triggers()
    assert sync.once().pull.rows["matters"] == 3  # type: ignore[union-attr]
    assert triggers() == before
    assert codes("harbour") == ["M-100"]
    assert codes("initech") == ["M-102"]
    # Renamed centrally: the next pull (bulk again) marks the updated matters stale; the search finds the new name.
    admin.import_matters(
        sync.engine,
        "code,name,client\nM-100,Lease of Dock House,Globex\nM-101,Tax audit,Globex\nM-102,Merger,Initech\n",
    )
    assert sync.once().pull.rows["matters"] == 2  # type: ignore[union-attr]
    assert codes("harbour") == []
    assert codes("dock house") == ["M-100"]
    assert codes("tax aud") == ["M-101"]
    assert triggers() == before
    # A matter written by hand afterwards is still marked by the trigger.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE matters SET name = 'Quayside' WHERE code = 'M-102'")
        assert conn.exec_driver_sql("SELECT count(*) FROM matter_search_dirty").scalar() >= 1
    assert codes("quayside") == ["M-102"]
