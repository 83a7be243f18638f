from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from softclock.store import queries
from softclock.store.db import open_memory_store, open_store
from softclock.store.models import Base


def test_store_files_are_private_and_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "softclock.db").stat().st_mode & 0o777 == 0o600
    store.close()


def test_migrations_match_the_models(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    insp = inspect(store.engine)
    for table in Base.metadata.sorted_tables:
        columns = {c["name"] for c in insp.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    store.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.session() as s, s.begin():
        queries.add_matter(s, "M-1", "Lease", "Acme")
    store.close()
    store = open_store(tmp_path)
    with store.session() as s:
        assert [m.code for m in queries.search_matters(s)] == ["M-1"]


def test_import_names_the_bad_line_and_imports_nothing() -> None:
    store = open_memory_store()
    bad = "code,name,client\nM-1,Lease,Acme\nM-2,Will\nM-3,Trust,Beta\n"
    with store.session() as s:
        with pytest.raises(queries.InputError, match="line 3: expected 3 fields"):
            with s.begin():
                queries.import_matters(s, bad)
    with store.session() as s:
        assert queries.search_matters(s) == []


def test_import_and_search() -> None:
    store = open_memory_store()
    good = "M-1,Contract review,Acme Corp\nM-2,Lease,Beta LLC\nM-3,Trademark,Acme Corp\n"
    with store.session() as s, s.begin():
        assert queries.import_matters(s, good) == 3
    with store.session() as s:
        assert [m.code for m in queries.search_matters(s, "acme")] == ["M-1", "M-3"]
        assert [m.code for m in queries.search_matters(s, "acme trade")] == ["M-3"]
        assert [m.code for m in queries.search_matters(s, "lease")] == ["M-2"]


def test_duplicate_matter_in_file_is_named() -> None:
    store = open_memory_store()
    with store.session() as s:
        with pytest.raises(queries.InputError, match="line 2: matter M-1 appears twice"):
            queries.import_matters(s, "M-1,a,b\nM-1,c,d\n")


def test_schema_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from softclock.store.db import SCHEMA_HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def _schema(engine) -> dict[str, tuple[set[str], set[str]]]:  # type: ignore[no-untyped-def]
    insp = inspect(engine)
    return {
        t: ({c["name"] for c in insp.get_columns(t)}, {i["name"] for i in insp.get_indexes(t)})
        for t in insp.get_table_names()
    }


def test_new_store_fast_path_equals_running_every_migration(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from softclock.store.db import SCHEMA_HEAD, run_migrations

    fast = open_store(tmp_path / "fast")
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    run_migrations(migrated)
    assert _schema(fast.engine) == _schema(migrated)
    with fast.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
    fast.close()


def _old_store(tmp_path: Path, revision: str, *statements: str) -> None:
    """A store migrated to ``revision`` by a connection like the app's (foreign
    keys enforced), then ``statements``."""
    from alembic import command
    from sqlalchemy import create_engine, event

    from softclock.store.db import _on_connect, alembic_config

    old = create_engine(f"sqlite:///{tmp_path / 'softclock.db'}")
    event.listen(old, "connect", _on_connect)
    cfg = alembic_config()
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        for statement in statements:
            conn.execute(text(statement))
    old.dispose()


def test_an_old_store_is_migrated_forward(tmp_path: Path) -> None:
    _old_store(tmp_path, "0001")
    store = open_store(tmp_path)
    assert "recording_path" in {c["name"] for c in inspect(store.engine).get_columns("calls")}
    store.close()


def test_a_store_with_data_is_migrated_through_table_rebuilds(tmp_path: Path) -> None:
    """Batch migrations copy, drop and rename tables; the app's connections
    enforce foreign keys, which must not stop that on a store in use."""
    _old_store(
        tmp_path,
        "0005",
        "INSERT INTO clients (id, name) VALUES (1, 'Acme')",
        "INSERT INTO matters (id, code, name, client_id, status) VALUES (1, 'M-1', 'Lease', 1, 'open')",
    )
    store = open_store(tmp_path)
    with store.session() as s:
        assert [m.code for m in queries.search_matters(s)] == ["M-1"]
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from softclock.errors import StoreError

    # 0003 creates audit_head: with it there already, the upgrade fails half-way through.
    _old_store(tmp_path, "0001", "CREATE TABLE audit_head (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="audit_head already exists"):
        open_store(tmp_path)
    check = create_engine(f"sqlite:///{tmp_path / 'softclock.db'}")
    with check.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
        assert "audit_events" not in inspect(conn).get_table_names()  # created by 0003 before audit_head
        assert "recording_path" not in {c["name"] for c in inspect(conn).get_columns("calls")}  # 0002
    check.dispose()
