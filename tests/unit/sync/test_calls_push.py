"""Every call reaches the central store (SQLite central store): through the outbox, by call id and version,
exactly once; existing calls backfilled by the first sync; numbers hashed with the firm's key under privacy."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from softclock import review
from softclock.billing import Policy
from softclock.settings import CentralSettings
from softclock.store.db import Store, open_memory_store
from softclock.store.models import Call, Outbox
from softclock.sync import admin, calls
from softclock.sync.central import CentralCall
from softclock.sync.service import Sync
from tests.helpers.entries import NOW, make_call, make_entry, make_matter


@pytest.fixture
def central_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    sync = Sync(open_memory_store(), CentralSettings(url=url), "alice")
    admin.init_store(sync.engine)
    sync.close()
    return url


def _ended_call(store: Store, call_id: str, disposition: str, talk: float, number: str = "+12025550143") -> int:
    cid = make_call(store, call_id)
    with store.session() as s, s.begin():
        s.execute(
            update(Call)
            .where(Call.id == cid)
            .values(
                disposition=disposition,
                remote_number=number,
                answered_utc=NOW + timedelta(seconds=5) if talk else None,
                ended_utc=NOW + timedelta(seconds=5 + talk),
                ring_seconds=5.0,
                talk_seconds=talk,
            )
        )
    return cid


def _central(sync: Sync) -> dict[str, tuple]:  # type: ignore[type-arg]
    with sync.engine.connect() as conn:
        rows = conn.execute(
            select(
                CentralCall.sip_call_id,
                CentralCall.version,
                CentralCall.remote_number,
                CentralCall.disposition,
                CentralCall.entries_json,
                CentralCall.talk_seconds,
                CentralCall.number_hashed,
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_existing_calls_are_backfilled_once_and_a_changed_call_is_a_new_version(central_url: str) -> None:
    store = open_memory_store()
    answered = _ended_call(store, "c-answered", "answered", 300.0)
    _ended_call(store, "c-missed", "missed", 0.0, "+12025550100")
    make_call(store, "c-live")  # in progress: not yet
    entry = make_entry(store, 300.0, make_matter(store, "M-1"), call=answered, narrative="lease")
    sync = Sync(store, CentralSettings(url=central_url), "alice")

    sync.once()
    central = _central(sync)
    assert set(central) == {"c-answered", "c-missed"}
    assert central["c-answered"][:3] == (1, "+12025550143", "answered")
    assert json.loads(central["c-answered"][3]) == [[entry, "draft"]] and central["c-answered"][4] == 300.0
    assert central["c-missed"][:3] == (1, "+12025550100", "missed")

    sync.once()  # nothing changed: nothing queued, nothing sent
    with store.session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Outbox)) == 2

    with store.session() as s, s.begin():
        assert review.approve(s, [entry], "alice", Policy()).done == [entry]
    sync.once()  # the entry is pushed first, then the call: it goes with the entry 'synced'
    sync.once()
    central = _central(sync)
    assert central["c-answered"][0] == 2 and json.loads(central["c-answered"][3]) == [[entry, "synced"]]
    assert central["c-missed"][0] == 1
    sync.close()


def test_a_retry_after_a_lost_local_commit_sends_nothing_twice(central_url: str) -> None:
    store = open_memory_store()
    _ended_call(store, "c-1", "answered", 60.0)
    sync = Sync(store, CentralSettings(url=central_url), "alice")
    sync.once()
    with store.session() as s, s.begin():  # as if the laptop crashed after the central commit
        s.execute(update(Outbox).values(state="pending"))
    with sync.engine.begin() as conn:
        before = conn.execute(text("SELECT version, content_hash, pushed_utc FROM calls")).all()
    sync.once()
    with sync.engine.begin() as conn:
        assert conn.execute(text("SELECT version, content_hash, pushed_utc FROM calls")).all() == before
    with store.session() as s:
        assert set(s.scalars(select(Outbox.state))) == {"sent"}
    # An older version arriving late never overwrites a newer one.
    with sync.engine.begin() as conn:
        conn.execute(text("UPDATE calls SET version = 5"))
    with store.session() as s, s.begin():
        s.execute(update(Outbox).values(state="pending"))
    sync.once()
    with sync.engine.begin() as conn:
        assert conn.scalar(text("SELECT version FROM calls")) == 5
    sync.close()


def test_privacy_pushes_a_keyed_hash_of_the_number(central_url: str) -> None:
    store = open_memory_store()
    _ended_call(store, "c-p", "answered", 90.0)
    sync = Sync(store, CentralSettings(url=central_url, privacy=True), "alice")
    sync.once()
    with sync.engine.connect() as conn:
        key = conn.scalar(text("SELECT value FROM firm_settings WHERE key = 'number_hash_key'"))
    expected = hmac.new(key.encode(), b"+12025550143", hashlib.sha256).hexdigest()
    number, hashed = _central(sync)["c-p"][1], _central(sync)["c-p"][5]
    assert (number, hashed) == (expected, True) and "2025550143" not in number
    assert calls.number_hash(key, "+12025550143") == expected
    sync.close()


def test_call_ids_are_stable_and_never_an_entry_uuid() -> None:
    a = calls.call_uid("alice", "abc@host", "tag1")
    assert a == calls.call_uid("alice", "abc@host", "tag1") != calls.call_uid("alice", "abc@host", "tag2")
    assert (
        len(a) == 36
        and a.startswith("call")
        and calls.is_call(a)
        and not calls.is_call("6b1f9a52-3f0e-4c55-9a47-0c5a1d7e2b10")
    )


def test_nothing_is_queued_while_the_central_store_is_unreachable(tmp_path: Path) -> None:
    from softclock.sync.service import SyncFailed

    store = open_memory_store()
    _ended_call(store, "c-down", "answered", 60.0)
    sync = Sync(store, CentralSettings(url=f"sqlite:///{tmp_path / 'no-such-dir' / 'central.db'}"), "alice")
    with pytest.raises(SyncFailed):
        sync.once()
    assert sync.status().waiting == 0  # the waiting count stays the entries'
    with store.session() as s:
        assert s.scalar(select(text("count(*)")).select_from(Outbox)) == 0
    sync.close()
