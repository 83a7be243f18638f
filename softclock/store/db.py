"""Open the local SQLite store: private file, WAL, migrations applied."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from softclock.paths import ensure_private_dir

log = logging.getLogger("softclock.store")

DB_NAME = "softclock.db"
_HERE = Path(__file__).resolve().parent


class StoreError(RuntimeError):
    """The local store cannot be opened; the message says where and why."""


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
    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def migrate(engine: Engine) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """The local database; hands out sessions."""

    def __init__(self, engine: Engine, path: Path | None) -> None:
        self.engine = engine
        self.path = path
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()


def open_store(data: Path) -> Store:
    """Open (creating and migrating as needed) the store in ``data``."""
    try:
        ensure_private_dir(data)
        path = data / DB_NAME
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        elif os.name == "posix":
            os.chmod(path, 0o600)
    except OSError as exc:
        raise StoreError(f"Cannot create the data directory {data}: {exc.strerror}") from None
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
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
    return Store(engine, path)


def open_memory_store() -> Store:
    """An in-memory store with the real schema, for fast tests."""
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    event.listen(engine, "connect", _on_connect)
    migrate(engine)
    return Store(engine, None)
