"""The throwaway PostgreSQL cluster itself: SCRAM over TLS, certificate checks,
pg_hba rules, crash and restart, terminated sessions (tests/helpers/pgcluster.py)."""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.helpers.pgcluster import TLS_ONLY_ROLE


def _role(pg_db, suffix: str) -> str:
    return f"{pg_db.name}_{suffix}"


def _one(url, query: str = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text(query)).one())
    finally:
        engine.dispose()


def _connect_error(url) -> psycopg.OperationalError:
    with pytest.raises(OperationalError) as info:
        _one(url)
    assert isinstance(info.value.orig, psycopg.OperationalError)
    return info.value.orig


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_scram_password_over_tls_verify_full(pg_db, host):
    user, password = _role(pg_db, "alice"), secrets.token_urlsafe(12)
    pg_db.cluster.create_role(user, password)
    with pg_db.connect_admin() as conn:
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [user]).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$")
    url = pg_db.url(user, password, sslmode="verify-full", host=host)
    assert url.query["sslrootcert"] == str(pg_db.cluster.ca_file)
    assert password not in str(url) and password not in repr(url)
    row = _one(
        url,
        "SELECT current_user, s.ssl, s.version, current_database() FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
    )
    assert row[0] == user and row[1] is True and row[2] in ("TLSv1.2", "TLSv1.3")
    assert row[3] == pg_db.name


def test_wrong_or_missing_password_is_an_authentication_error(pg_db):
    user = _role(pg_db, "bob")
    pg_db.cluster.create_role(user, "right-" + secrets.token_hex(4))
    err = _connect_error(pg_db.url(user, "wrong-password"))
    assert f'password authentication failed for user "{user}"' in str(err)
    err = _connect_error(pg_db.url(user, None))
    assert "no password supplied" in str(err)


def test_verify_full_with_the_wrong_ca_is_a_certificate_error(pg_db):
    user, password = _role(pg_db, "carol"), secrets.token_urlsafe(12)
    pg_db.cluster.create_role(user, password)
    other_ca = pg_db.cluster.tls_ca.other_ca_cert
    err = _connect_error(pg_db.url(user, password, sslmode="verify-full", sslrootcert=other_ca))
    assert "certificate verify failed" in str(err)
    # the right CA but a host name the certificate does not carry
    assert _one(pg_db.url(user, password, sslmode="verify-ca", host="localhost"))[1] is True
    err = _connect_error(pg_db.url(user, password, sslmode="verify-full", host="elsewhere.test", hostaddr="127.0.0.1"))
    assert 'does not match host name "elsewhere.test"' in str(err)
    # verify-ca does not check the name
    assert _one(pg_db.url(user, password, sslmode="verify-ca", host="elsewhere.test", hostaddr="127.0.0.1"))[1] is True


def test_sslmode_disable_require_and_the_tls_only_role(pg_db):
    user, password = _role(pg_db, "dave"), secrets.token_urlsafe(12)
    pg_db.cluster.create_role(user, password)
    assert _one(pg_db.url(user, password, sslmode="disable")) == (user, False)
    assert _one(pg_db.url(user, password, sslmode="require")) == (user, True)

    strict = _role(pg_db, "erin")
    pg_db.cluster.create_role(strict, password, in_roles=[TLS_ONLY_ROLE])
    err = _connect_error(pg_db.url(strict, password, sslmode="disable"))
    assert "pg_hba.conf rejects connection" in str(err) and "no encryption" in str(err)
    assert _one(pg_db.url(strict, password, sslmode="require")) == (strict, True)
    # require_tls() does the same to an existing role
    pg_db.cluster.require_tls(user)
    err = _connect_error(pg_db.url(user, password, sslmode="disable"))
    assert "no encryption" in str(err)


def test_kill_then_restart_keeps_committed_rows(pg_cluster, pg_db):
    url = pg_db.superuser_url()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1), (2)"))
        port, pid = pg_cluster.port, pg_cluster.pid
        pg_cluster.kill()
        assert not pg_cluster.running
        with pytest.raises(OperationalError):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1")).all()
        pg_cluster.restart()
        assert pg_cluster.running and pg_cluster.port == port and pg_cluster.pid != pid
        assert "automatic recovery in progress" in pg_cluster.log_text()
        engine.dispose()  # pooled connections died with the server
        with engine.connect() as conn:
            assert conn.execute(text("SELECT array_agg(id ORDER BY id) FROM t")).scalar() == [1, 2]
        pg_cluster.stop()
        assert not pg_cluster.running
        pg_cluster.start()
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    finally:
        engine.dispose()


def test_terminate_backends_kills_a_live_connection(pg_db):
    user, password = _role(pg_db, "frank"), secrets.token_urlsafe(12)
    pg_db.cluster.create_role(user, password)
    engine = create_engine(pg_db.url(user, password))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            assert pg_db.cluster.terminate_backends(pg_db.name, user="nobody-else") == 0
            assert pg_db.cluster.terminate_backends(pg_db.name) == 1
            with pytest.raises(OperationalError) as info:
                conn.execute(text("SELECT 1")).all()
            assert "terminating connection due to administrator command" in str(info.value)
        # the pool noticed; a new connection works
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar() == 2
    finally:
        engine.dispose()


def test_no_password_on_command_lines_in_files_or_logs(pg_cluster, pg_db):
    secret = pg_cluster.superuser_url().password
    assert secret and len(secret) >= 20
    user, password = _role(pg_db, "grace"), "pw-" + secrets.token_urlsafe(12)
    pg_cluster.create_role(user, password)
    # a failing statement that carries a password is not copied into the log
    with pg_db.connect_admin() as conn, pytest.raises(psycopg.errors.DuplicateObject):
        conn.execute(f"CREATE ROLE {user} PASSWORD '{password}'")
    cmdline = Path(f"/proc/{pg_cluster.pid}/cmdline").read_bytes()
    assert b"-p" in cmdline and secret.encode() not in cmdline
    assert not list(pg_cluster.data_dir.parent.glob("pwfile*"))
    log = pg_cluster.log_text()
    assert "database system is ready" in log
    assert secret not in log and password not in log
    for f in pg_cluster.data_dir.parent.rglob("*"):
        if f.is_file() and f.stat().st_size < 1_000_000:
            data = f.read_bytes()
            assert secret.encode() not in data, f
            assert password.encode() not in data, f
