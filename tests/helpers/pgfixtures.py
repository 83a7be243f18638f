"""pytest fixtures for tests that need a real PostgreSQL server (see :mod:`tests.helpers.pgcluster`).

Import them into a conftest or test module::

    from tests.helpers.pgfixtures import pg_cluster, pg_db  # noqa

* ``pg_cluster`` (session scope): one running :class:`PgCluster` (TLS on, SCRAM
  passwords over TCP, trust on its Unix socket).  A test that stops or kills it
  should ``restart()`` it before it ends; ``pg_db`` restarts it if it finds it down.
* ``pg_db`` (function scope): a fresh database (``CREATE DATABASE ... TEMPLATE
  template1``, about 0.1 s) for this test, dropped afterwards ``WITH (FORCE)``.
  A :class:`PgDatabase`: ``name``, ``cluster``, ``url(user, password,
  sslmode="verify-full", **kw)``, ``superuser_url(sslmode="verify-full")``,
  ``connect_admin()``.

Roles are cluster-wide, not per database: a test that creates roles should use
names unique to it (e.g. with ``pg_db.name`` in them) or drop them itself.

If the PostgreSQL server binaries are not installed the test is skipped --
unless the environment has ``CI=true``, then it fails.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from tests.helpers.pgcluster import PgCluster, pg_bindir
from tests.helpers.procs import missing_tool
from tests.helpers.tlsca import make_test_ca


def require_postgres() -> None:
    """Skip (or fail when CI=true) unless the PostgreSQL server binaries are installed."""
    if pg_bindir() is not None:
        return
    missing_tool(
        "PostgreSQL server binaries (initdb, postgres, pg_isready) not found "
        "(apt: postgresql; or set SOFTCLOCK_PG_BINDIR)"
    )


@dataclass(frozen=True)
class PgDatabase:
    cluster: PgCluster
    name: str

    def url(self, user: str, password: str | None, sslmode: str = "verify-full", **kw: str | Path | None) -> URL:
        return self.cluster.url(user, password, self.name, sslmode=sslmode, **kw)  # type: ignore[arg-type]

    def superuser_url(self, sslmode: str = "verify-full") -> URL:
        return self.cluster.superuser_url(self.name, sslmode=sslmode)

    def connect_admin(self) -> psycopg.Connection:
        return self.cluster.connect_admin(self.name)


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory):
    """A running throwaway PostgreSQL cluster (session-wide)."""
    require_postgres()
    cluster = PgCluster(tls_ca=make_test_ca(tmp_path_factory.mktemp("pg-tls")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def pg_db(pg_cluster):
    """A fresh database on ``pg_cluster`` for this test, dropped afterwards."""
    if not pg_cluster.running:  # an earlier test stopped or killed it
        pg_cluster.restart()
    name = pg_cluster.create_database(f"t_{uuid.uuid4().hex[:16]}")
    try:
        yield PgDatabase(pg_cluster, name)
    finally:
        if not pg_cluster.running:
            pg_cluster.restart()
        pg_cluster.drop_database(name)
