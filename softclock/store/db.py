"""Open the local SQLite store: private file, WAL, migrations applied."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from softclock.errors import StoreError
from softclock.paths import ensure_private_dir
from softclock.store.checkpoint import Checkpointer

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("softclock.store")

# The newest migration in migrations/versions. A test keeps it equal to
# Alembic's head: at start-up an up-to-date store is opened without importing
# Alembic at all (a quarter of a second of the app's start).
SCHEMA_HEAD = "0009"

DB_NAME = "softclock.db"
_HERE = Path(__file__).resolve().parent


def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives an application crash; only a power cut can
    # lose the last commits, and heartbeats bound that loss.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creating it when the file is new)."""
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        current = None
        if "alembic_version" in tables:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if current == SCHEMA_HEAD:
        return
    if not tables:
        # A new store: create the newest schema at once and stamp it, as the
        # Alembic cookbook recommends; migrations are for existing stores.
        from softclock.store.models import Base

        with engine.begin() as conn:
            Base.metadata.create_all(conn)
            from softclock.store import search_index

            search_index.create(conn)  # the matter search index (FTS5), as migration 0009 makes it
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_HEAD})
        return
    run_migrations(engine)


def run_migrations(engine: Engine) -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.connect() as conn:
        # Batch migrations rebuild a table (copy, drop, rename): with foreign keys
        # enforced, dropping a table other rows refer to fails (0007 on a store
        # with matters). SQLite ignores this pragma inside a transaction, so it
        # goes first, and the keys are checked once the schema is new.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        with conn.begin():
            # pysqlite opens a transaction only before INSERT/UPDATE/DELETE: without
            # this BEGIN, a migration failing half-way would leave its DDL behind.
            conn.exec_driver_sql("BEGIN")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StoreError(f"the migrated store has rows whose references are broken: {broken[:3]}")
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


class Store:
    """The local database; hands out sessions."""

    def __init__(self, engine: Engine, path: Path | None, checkpointer: Checkpointer | None = None) -> None:
        self.engine = engine
        self.path = path
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._checkpointer = checkpointer

    def session(self) -> Session:
        return self._sessions()

    def adopt(self, other: Store) -> None:
        """Become ``other`` in place (every holder of this object follows): a
        holding store is replaced by the real one once it can be opened."""
        old, old_checkpointer = self.engine, self._checkpointer
        self.engine, self.path, self._sessions = other.engine, other.path, other._sessions
        self._checkpointer = other._checkpointer
        if old_checkpointer is not None:
            old_checkpointer.close()
        old.dispose()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()


def _read_only_fs(path: Path) -> bool:
    """Mounted read-only (root's os.access ignores that)."""
    return hasattr(os, "statvfs") and bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))


def open_store(data: Path) -> Store:
    """Open (creating and migrating as needed) the store in ``data``."""
    path = data / DB_NAME
    try:
        ensure_private_dir(data)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        elif os.name == "posix" and path.stat().st_mode & 0o777 != 0o600:
            os.chmod(path, 0o600)
        if not os.access(data, os.W_OK) or _read_only_fs(data):
            raise OSError(errno.EROFS, "it is read-only")
    except OSError as exc:
        raise StoreError(f"Cannot write the data directory {data}: {exc.strerror}") from None
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    # WAL checkpoints run on a thread of their own, not inside a writer's COMMIT (softclock.store.checkpoint);
    # a connection coming back to the pool (after its commit) is when the WAL's length is looked at.
    checkpointer = Checkpointer(path)
    event.listen(engine, "connect", _no_autocheckpoint)
    event.listen(engine, "checkin", lambda _conn, _record: checkpointer.after_commit())
    try:
        migrate(engine)
    except Exception as exc:  # sqlite3/SQLAlchemy errors, named for the user
        engine.dispose()
        raise StoreError(f"Cannot open the local store {path}: {exc}") from exc
    # WAL side files are created by SQLite with the database's mode; keep them private too.
    if os.name == "posix":
        for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if side.exists():
                os.chmod(side, 0o600)
    return Store(engine, path, checkpointer)


def _no_autocheckpoint(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


def open_memory_store() -> Store:
    """An in-memory store with the real schema, for fast tests."""
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    event.listen(engine, "connect", _on_connect)
    migrate(engine)
    return Store(engine, None)
