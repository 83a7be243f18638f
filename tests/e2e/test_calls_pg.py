"""Calls pushed to a real PostgreSQL central store: row-level security as for entries (a timekeeper reads and
writes only their own calls; billing and admins read all), exactly once by call id and version, privacy."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from softclock.store.db import open_memory_store
from softclock.sync.service import Sync
from tests.e2e.test_sync_pg import Central
from tests.unit.sync.test_calls_push import _ended_call


@pytest.fixture
def central(pg_db):  # type: ignore[no-untyped-def]
    c = Central(pg_db)
    yield c
    c.close()


def _count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM calls")))


def test_calls_reach_the_store_once_and_each_timekeeper_reads_only_their_own(central: Central) -> None:
    a_store, b_store = open_memory_store(), open_memory_store()
    _ended_call(a_store, "a-1", "answered", 120.0)
    _ended_call(a_store, "a-2", "missed", 0.0)
    _ended_call(b_store, "b-1", "answered", 60.0, "+12025550100")
    a_sync = Sync(a_store, central.login(central.alice, "pw-alice"), "ignored")
    b_sync = Sync(b_store, central.login(central.bob, "pw-bob"), "ignored")
    for _ in range(2):
        a_sync.once()
        b_sync.once()
    assert _count(central.installer) == 3
    with central.installer.connect() as conn:
        assert set(conn.execute(text("SELECT timekeeper_id, version FROM calls")).all()) == {
            (central.alice, 1),
            (central.bob, 1),
        }
    alice = central.engine_as(central.alice, "pw-alice")
    assert _count(alice) == 2
    with alice.begin() as conn:
        assert conn.execute(text("UPDATE calls SET talk_seconds = 1 WHERE sip_call_id = 'b-1'")).rowcount == 0
    with alice.begin() as conn, pytest.raises(Exception, match="row-level security"):
        conn.execute(text("UPDATE calls SET timekeeper_id = :b WHERE sip_call_id = 'a-1'"), {"b": central.bob})
    with alice.begin() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(text("DELETE FROM calls"))
    alice.dispose()
    billing = central.engine_as(central.billing, "pw-billing")
    assert _count(billing) == 3
    with billing.begin() as conn, pytest.raises(Exception, match="permission denied"):
        conn.execute(text("UPDATE calls SET talk_seconds = 1"))
    billing.dispose()
    a_sync.close()
    b_sync.close()


def test_privacy_keeps_the_number_home_on_postgresql(central: Central) -> None:
    store = open_memory_store()
    _ended_call(store, "p-1", "answered", 45.0)
    settings = central.login(central.alice, "pw-alice")
    settings.privacy = True
    sync = Sync(store, settings, "ignored")
    sync.once()
    with central.installer.connect() as conn:
        number, hashed = conn.execute(text("SELECT remote_number, number_hashed FROM calls")).one()
    assert hashed and len(number) == 64 and "2025550143" not in number
    sync.close()
