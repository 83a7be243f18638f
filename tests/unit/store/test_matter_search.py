"""Matter search: the trigram index (FTS5) and its triggers, both plans, the LIKE fallback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from softclock.store import queries, search_index
from softclock.store.db import open_memory_store, open_store, run_migrations
from softclock.store.models import Client, Matter

pytestmark = pytest.mark.skipif(
    not search_index.supported(create_engine("sqlite://").connect()), reason="SQLite without FTS5 trigram"
)


def _codes(store, words: str, limit: int = 50) -> list[str]:  # type: ignore[no-untyped-def]
    with store.session() as s:
        return [m.code for m in queries.search_matters(s, words, limit)]


def _seed(store) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s, s.begin():
        queries.import_matters(
            s,
            "M-1,Contract review,Acme Corp\n"
            "M-2,Lease of Harbour House,Beta LLC\n"
            "M-3,Trademark opposition,Acme Corp\n"
            "X-12,Employment claim by Ann,Zeta Trust\n"
            "M-5,Acquisition of Globex,Beta LLC\n",
        )


def test_every_word_matches_code_name_or_client_ignoring_case() -> None:
    store = open_memory_store()
    _seed(store)
    assert _codes(store, "ACME") == ["M-1", "M-3"]  # client
    assert _codes(store, "acme TRADE") == ["M-3"]  # client + name
    assert _codes(store, "harbour") == ["M-2"]  # a word inside the name
    assert _codes(store, "x-12") == ["X-12"]  # code
    assert _codes(store, "lease beta") == ["M-2"]
    assert _codes(store, "lease acme") == []  # every word must match
    assert _codes(store, "qqq") == []
    assert _codes(store, '"acme') == []  # quotes are text, not FTS syntax
    # order: client, then code
    assert _codes(store, "") == ["M-1", "M-3", "M-2", "M-5", "X-12"]


def test_short_words_use_like_alone_and_beside_indexed_words() -> None:
    store = open_memory_store()
    _seed(store)
    assert _codes(store, "ac") == ["M-1", "M-3", "M-5"]  # Acme, Contract, Acquisition
    assert _codes(store, "12") == ["X-12"]
    assert _codes(store, "acme co") == ["M-1", "M-3"]
    assert _codes(store, "beta ho") == ["M-2"]
    assert _codes(store, "a z") == ["X-12"]


def test_closed_matters_are_not_found() -> None:
    store = open_memory_store()
    _seed(store)
    with store.session() as s, s.begin():
        s.execute(text("UPDATE matters SET status = 'closed' WHERE code = 'M-1'"))
    assert _codes(store, "acme") == ["M-3"]
    assert _codes(store, "ac") == ["M-3", "M-5"]


def test_the_index_follows_every_write() -> None:
    store = open_memory_store()
    _seed(store)
    with store.session() as s, s.begin():
        s.execute(text("UPDATE clients SET name = 'Initech' WHERE name = 'Acme Corp'"))
    assert _codes(store, "acme") == []
    assert _codes(store, "initech") == ["M-1", "M-3"]
    with store.session() as s, s.begin():
        s.execute(text("UPDATE matters SET name = 'Patent filing' WHERE code = 'M-3'"))
        s.execute(text("UPDATE matters SET code = 'M-100' WHERE code = 'M-1'"))
    assert _codes(store, "trademark") == []
    assert _codes(store, "patent") == ["M-3"]
    assert _codes(store, "m-100") == ["M-100"]
    with store.session() as s, s.begin():
        beta = s.execute(text("SELECT id FROM clients WHERE name = 'Beta LLC'")).scalar()
        s.execute(text("UPDATE matters SET client_id = :c WHERE code = 'M-3'"), {"c": beta})
        s.execute(text("DELETE FROM matters WHERE code = 'M-5'"))
    assert _codes(store, "beta") == ["M-2", "M-3"]
    assert _codes(store, "globex") == []
    with store.session() as s, s.begin():
        queries.add_matter(s, "N-1", "Merger with Hooli", "Hooli Inc")
    assert _codes(store, "hool") == ["N-1"]
    with store.session() as s:
        indexed = s.execute(text("SELECT count(*) FROM matter_search")).scalar()
        matters = s.execute(text("SELECT count(*) FROM matters")).scalar()
    assert indexed == matters


def _reference(rows: list[tuple[str, str, str, str]], words: str, limit: int) -> list[str]:
    """What the search must return, computed in Python: rows are (code, name, client, status)."""
    found = [
        (client, code)
        for code, name, client, status in rows
        if status == "open" and all(any(w.lower() in f.lower() for f in (code, name, client)) for w in words.split())
    ]
    return [code for _, code in sorted(found)[:limit]]


@pytest.mark.parametrize(
    "few, walk, catch_up",
    [
        (2500, 4000, 500),
        (0, 4000, 500),
        (10**9, 4000, 500),
        (0, 30, 500),
        (2500, 4000, 0),
        (0, 4000, 0),
        (10**9, 4000, 0),
        (2500, 4000, 700),
    ],
)
def test_both_plans_give_what_a_plain_scan_gives(
    monkeypatch: pytest.MonkeyPatch, few: int, walk: int, catch_up: int
) -> None:
    """The walk (in order, stops at the limit or after _WALK matters) and the
    sort of the index's matches agree with a reference on random data, whether
    the index is complete, missing (catch_up 0: every matter stale) or part
    stale (1500 matters, 700 indexed by the first search)."""
    monkeypatch.setattr(queries, "_FEW", few)
    monkeypatch.setattr(queries, "_WALK", walk)
    monkeypatch.setattr(queries, "_CATCH_UP", catch_up)
    rng = random.Random(13)
    words = "Acme Globex Initech Umbrella Stark Wayne Wonka Harbor Cedar Maple Orion Vega".split()
    store = open_memory_store()
    rows = []
    with store.session() as s, s.begin():
        clients = [Client(name=f"{rng.choice(words)} {rng.choice(words)} {i}") for i in range(150)]
        s.add_all(clients)
        s.flush()
        for i in range(1500):
            client = rng.choice(clients)
            code = f"{client.id:04d}-{i:05d}"
            name = f"{rng.choice(['Lease of', 'Dispute with', 'Audit of'])} {rng.choice(words)} {rng.choice(words)}"
            status = "closed" if rng.random() < 0.1 else "open"
            s.add(Matter(code=code, name=name, client_id=client.id, status=status))
            rows.append((code, name, client.name, status))
    for query in ("acme", "a", "ac", "acm", "acme 1", "wonka lease", "ston", "00", "qq", "orion vega 12", "AUDIT"):
        for limit in (50, 5):
            assert _codes(store, query, limit) == _reference(rows, query, limit), (query, limit)
    with store.session() as s:
        stale = s.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar()
    assert stale == (1500 if catch_up == 0 else 0)


def test_writes_only_mark_matters_stale_and_a_search_in_a_transaction_writes_nothing() -> None:
    store = open_memory_store()
    _seed(store)
    with store.session() as s, s.begin():
        assert s.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar() == 5
        assert s.execute(text("SELECT count(*) FROM matter_search")).scalar() == 0
        queries.add_matter(s, "N-1", "Merger with Hooli", "Hooli Inc")
        # inside a transaction: exact from LIKE, nothing indexed
        assert [m.code for m in queries.search_matters(s, "hooli")] == ["N-1"]
        assert [m.code for m in queries.search_matters(s, "acme")] == ["M-1", "M-3"]
        assert s.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar() == 6
    assert _codes(store, "hooli") == ["N-1"]  # outside one: indexed first
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM matter_search")).scalar() == 6


def test_the_search_does_not_wait_for_another_writer(tmp_path: Path) -> None:
    import time

    store = open_store(tmp_path)
    _seed(store)
    other = create_engine(f"sqlite:///{tmp_path / 'softclock.db'}")
    with other.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # holds the write lock
        t0 = time.monotonic()
        assert _codes(store, "acme") == ["M-1", "M-3"]
        assert time.monotonic() - t0 < 2.0  # busy_timeout is 5 s
        conn.exec_driver_sql("ROLLBACK")
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar() == 5
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    assert _codes(store, "acme") == ["M-1", "M-3"]
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar() == 0
    other.dispose()
    store.close()


def _objects(engine, like: str) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type, name, sql FROM sqlite_master WHERE name LIKE :p OR sql LIKE :q"),
            {"p": like, "q": "%matter_search%"},
        ).all()
    return {(t, n, " ".join((sql or "").split())) for t, n, sql in rows}


def test_new_stores_get_what_the_migration_makes(tmp_path: Path) -> None:
    fast = open_store(tmp_path / "fast")
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    run_migrations(migrated)
    made = _objects(fast.engine, "%matter%search%")
    assert {n for _, n, _ in made} >= {
        "matter_search",
        "matter_search_ai",
        "matter_search_ad",
        "matter_search_au",
        "matter_search_client_au",
        "ix_matters_search_order",
    }
    assert made == _objects(migrated, "%matter%search%")
    assert "matter_search_dirty" in {n for _, n, _ in made}
    fast.close()


def test_an_existing_store_is_indexed_by_the_migration(tmp_path: Path) -> None:
    from alembic import command

    from softclock.store.db import alembic_config

    old = create_engine(f"sqlite:///{tmp_path / 'softclock.db'}")
    cfg = alembic_config()
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")
        conn.execute(text("INSERT INTO clients (id, name) VALUES (1, 'Acme Corp')"))
        conn.execute(
            text("INSERT INTO matters (id, code, name, client_id, status) VALUES (1, 'M-1', 'Lease', 1, 'open')")
        )
    old.dispose()
    store = open_store(tmp_path)
    assert _codes(store, "acme") == ["M-1"]
    with store.session() as s:
        assert s.execute(text("SELECT rowid FROM matter_search WHERE matter_search MATCH '\"corp\"'")).all() == [(1,)]
    store.close()


def test_without_the_index_every_word_uses_like(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    _seed(store)
    with store.engine.begin() as conn:
        for trigger in ("matter_search_ai", "matter_search_ad", "matter_search_au", "matter_search_client_au"):
            conn.execute(text(f"DROP TRIGGER {trigger}"))
        conn.execute(text("DROP TABLE matter_search"))
        conn.execute(text("DROP TABLE matter_search_dirty"))
        conn.execute(text("DROP INDEX ix_matters_search_order"))
    store.engine.dispose()  # the search asks each new connection whether the index is there
    assert _codes(store, "acme trade") == ["M-3"]
    assert _codes(store, "ACME") == ["M-1", "M-3"]
    assert _codes(store, "ac") == ["M-1", "M-3", "M-5"]
    store.close()


def test_a_big_import_sets_the_triggers_aside_and_is_searchable_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An import of many matters writes them with the index's triggers set aside (search_index.bulk): the
    imported and the updated matters are found at once, and the triggers are back afterwards."""
    monkeypatch.setattr(queries, "_BULK_MATTERS", 2)
    store = open_memory_store()

    def triggers() -> set[str]:
        with store.engine.connect() as conn:
            return {n for (n,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}

    before = triggers()
    _seed(store)
    assert triggers() == before
    assert _codes(store, "harbour") == ["M-2"]
    assert _codes(store, "zeta") == ["X-12"]
    with store.session() as s, s.begin():
        result = queries.import_matters(
            s, "M-1,Contract review,Acme Corp\nM-2,Lease of Dock House,Beta LLC\nM-3,Patent,Gamma AG\n", update=True
        )
    assert (result.added, result.updated) == (0, 2)
    assert triggers() == before
    assert _codes(store, "harbour") == []
    assert _codes(store, "dock") == ["M-2"]
    assert _codes(store, "gamma") == ["M-3"]
