"""A throwaway PostgreSQL cluster for tests: its own data directory, port, TLS and roles.

Public API::

    pg_bindir() -> Path | None            # where initdb/postgres/pg_isready live
    PgCluster(tls_ca=None)                # nothing happens until start()
        .start(timeout=30) -> PgCluster   # initdb on first start, then run the server
        .stop()                           # fast shutdown (SIGINT), then the process group
        .kill()                           # SIGKILL of the whole process group (a crash)
        .restart()                        # stop() if running, start() on the same port
        .reload()                         # SIGHUP: re-read pg_hba.conf / postgresql.conf
        .cleanup()                        # stop() and remove the temp directory
        .port, .host, .ca_file, .tls_ca, .log_path, .running, .pid
        .url(user, password, db, sslmode="verify-full", host=None, sslrootcert=None) -> URL
        .superuser_url(db="postgres", sslmode="verify-full") -> URL
        .connect_admin(db="postgres") -> psycopg.Connection   # Unix socket, trust, autocommit
        .create_database(name, owner=None, template="template1")
        .drop_database(name)
        .create_role(name, password=None, login=True, superuser=False, in_roles=())
        .require_tls(role)                # GRANT TLS_ONLY_ROLE TO role
        .terminate_backends(db, user=None) -> int

How it runs:

* Binaries: ``$SOFTCLOCK_PG_BINDIR``, else ``pg_config --bindir`` when it holds
  ``initdb``, else the newest ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu),
  else ``initdb`` on ``PATH``.
* ``initdb --auth-local=trust --auth-host=scram-sha-256 -U postgres --pwfile F``:
  the superuser's password is random, kept in memory only; ``F`` is created
  with mode 0600 and deleted right after initdb.  Passwords are never put on a
  command line.  ``create_role`` sends a SCRAM verifier computed client-side
  (libpq's ``PQencryptPasswordConn``), never the password itself, and the
  server runs with ``log_min_error_statement=panic`` so a failing statement
  that carries a password (e.g. the code under test's own ``CREATE ROLE ...
  PASSWORD``) is not copied into its log.
* The server runs in the foreground as a child of the test process (``postgres
  -D DATA -p PORT -k SOCKDIR -c listen_addresses=127.0.0.1``) in its own session,
  like the other test servers (see :mod:`tests.helpers.procs`), rather than
  daemonised by ``pg_ctl``: the test keeps the process handle, so ``stop()``
  and ``kill()`` reach the postmaster and all of its backends through the
  process group.  Readiness is ``pg_isready`` in a loop with a deadline.
* Root: initdb and postgres refuse to run as root, so when the test process is
  root the server runs as the system user ``softclock-pg`` (``$SOFTCLOCK_PG_OS_USER``
  to choose another), created with ``useradd --system`` if missing, through
  ``subprocess.Popen(user=..., group=..., extra_groups=[])``.  The cluster's
  directory is a fresh ``tempfile.mkdtemp`` owned by that user (pytest's
  ``tmp_path`` is under a 0700 root directory the server could not enter).
  Not root: everything runs as the current user.
* Durability: ``fsync=off`` (a throwaway cluster; a SIGKILL of the server does
  not lose committed data because the OS page cache survives it), but
  ``synchronous_commit`` stays on, so a transaction whose COMMIT returned is
  there after ``kill()`` + ``start()``.

TLS: ``ssl=on`` with the test CA's server certificate (:mod:`tests.helpers.tlsca`,
SAN ``DNS:localhost, IP:127.0.0.1``), so ``sslmode=verify-full`` works with host
``127.0.0.1`` or ``localhost`` and ``sslrootcert=cluster.ca_file``; trusting
``tls_ca.other_ca_cert`` instead must fail.

``pg_hba.conf`` (the server listens on 127.0.0.1 only)::

    local     all  all                  trust
    hostnossl all  +softclock_tls_only  127.0.0.1/32  reject
    hostssl   all  all                  127.0.0.1/32  scram-sha-256
    host      all  all                  127.0.0.1/32  scram-sha-256

So over TCP every role needs its SCRAM password, with or without TLS
(``sslmode=disable`` works), except the members of the group role
``softclock_tls_only`` (:data:`TLS_ONLY_ROLE`, created at first start): for them a
connection without TLS is refused by ``pg_hba.conf`` ("... no encryption").
``require_tls(role)`` makes a role such a member.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from tests.helpers.kamailio import free_tcp_port
from tests.helpers.procs import LoopbackServer, stop_group
from tests.helpers.tlsca import TestCA, make_test_ca

HOST = "127.0.0.1"
SUPERUSER = "postgres"
TLS_ONLY_ROLE = "softclock_tls_only"
DEFAULT_OS_USER = "softclock-pg"

_HBA = f"""# generated by tests/helpers/pgcluster.py
local     all  all                     trust
hostnossl all  +{TLS_ONLY_ROLE}  127.0.0.1/32  reject
hostssl   all  all                     127.0.0.1/32  scram-sha-256
host      all  all                     127.0.0.1/32  scram-sha-256
"""

_CONF = """
# --- added by tests/helpers/pgcluster.py ---
ssl = on
ssl_cert_file = '{cert}'
ssl_key_file = '{key}'
password_encryption = 'scram-sha-256'
fsync = off
full_page_writes = off
synchronous_commit = on
max_connections = 100
shared_buffers = '64MB'
logging_collector = off
log_min_messages = warning
log_min_error_statement = panic
log_line_prefix = '%m [%p] %q%u@%d '
unix_socket_permissions = 0700
"""


def _version_key(path: str) -> tuple[int, ...]:
    m = re.search(r"/postgresql/([0-9.]+)/bin", path)
    return tuple(int(p) for p in m.group(1).split(".") if p) if m else (0,)


def pg_bindir() -> Path | None:
    """Directory holding ``initdb``, ``postgres`` and ``pg_isready``, or None."""

    def ok(d: str | Path | None) -> bool:
        return bool(d) and all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "postgres", "pg_isready"))

    env = os.environ.get("SOFTCLOCK_PG_BINDIR")
    if env:
        return Path(env) if ok(env) else None
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if ok(out):
            return Path(out)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if ok(d):
            return Path(d)
    initdb = shutil.which("initdb")
    if initdb and ok(os.path.dirname(initdb)):
        return Path(os.path.dirname(initdb))
    return None


def _server_os_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run it as the current user."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("SOFTCLOCK_PG_OS_USER", DEFAULT_OS_USER)
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        res = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        try:  # a concurrent run may have created it in between
            pw = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(
                f"running as root and could not create the system user {name!r} "
                f"for the PostgreSQL test server: {res.stderr.strip()}"
            ) from None
    if pw.pw_uid == 0:
        raise RuntimeError(f"{name!r} is uid 0; PostgreSQL refuses to run as root")
    return pw.pw_uid, pw.pw_gid


@dataclass(frozen=True)
class _Dirs:
    base: Path
    data: Path
    sock: Path
    tls: Path
    log: Path


class PgCluster(LoopbackServer):
    """One throwaway PostgreSQL cluster (see the module docstring)."""

    def __init__(self, tls_ca: TestCA | None = None) -> None:
        self._bindir = pg_bindir()
        if self._bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, postgres) not found")
        self._os_user = _server_os_user()
        base = Path(tempfile.mkdtemp(prefix="softclock-pg-"))
        self._dirs = _Dirs(
            base=base, data=base / "data", sock=base / "sock", tls=base / "tls", log=base / "postgres.log"
        )
        self._tls_ca = tls_ca if tls_ca is not None else make_test_ca(base / "ca")
        self._superuser_password = secrets.token_urlsafe(24)
        self._port: int | None = None
        self._proc: subprocess.Popen | None = None  # type: ignore[type-arg]
        self._initialised = False
        self.startup_seconds: float | None = None  # initdb + first start, measured

    # -- properties ---------------------------------------------------
    @property
    def ca_file(self) -> Path:
        """The CA that issued the server certificate (for ``sslrootcert``)."""
        return self._tls_ca.ca_cert

    @property
    def tls_ca(self) -> TestCA:
        return self._tls_ca

    @property
    def socket_dir(self) -> Path:
        return self._dirs.sock

    @property
    def data_dir(self) -> Path:
        return self._dirs.data

    @property
    def log_path(self) -> Path:
        return self._dirs.log

    # -- URLs ---------------------------------------------------------
    def url(
        self,
        user: str,
        password: str | None,
        db: str,
        sslmode: str = "verify-full",
        host: str | None = None,
        sslrootcert: str | Path | None = None,
        **query: str,
    ) -> URL:
        """A ``postgresql+psycopg`` URL over TCP (its ``str()`` hides the password).

        ``sslrootcert`` defaults to :attr:`ca_file` for ``verify-ca``/``verify-full``
        and is left out otherwise (with a root CA file, libpq turns ``require``
        into ``verify-ca``).  ``host`` may be ``"localhost"``."""
        q: dict[str, str] = {"sslmode": sslmode}
        if sslrootcert is None and sslmode in ("verify-ca", "verify-full"):
            sslrootcert = self.ca_file
        if sslrootcert is not None:
            q["sslrootcert"] = str(sslrootcert)
        q.update(query)
        return URL.create(
            "postgresql+psycopg",
            username=user,
            password=password,
            host=host or HOST,
            port=self.port,
            database=db,
            query=q,
        )

    def superuser_url(self, db: str = "postgres", sslmode: str = "verify-full") -> URL:
        """The superuser ``postgres`` with its (random, in-memory) password, over TCP."""
        return self.url(SUPERUSER, self._superuser_password, db, sslmode=sslmode)

    def connect_admin(self, db: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the Unix socket (trust), autocommit."""
        return psycopg.connect(
            host=str(self._dirs.sock), port=self.port, user=SUPERUSER, dbname=db, autocommit=True, connect_timeout=10
        )

    # -- lifecycle ----------------------------------------------------
    def _popen_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"cwd": str(self._dirs.base), "stdin": subprocess.DEVNULL}
        if self._os_user is not None:
            uid, gid = self._os_user
            kw.update(user=uid, group=gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self._os_user is not None:
            env["HOME"] = str(self._dirs.base)
        kw["env"] = env
        return kw

    def _chown(self, path: Path) -> None:
        if self._os_user is not None:
            os.chown(path, *self._os_user)

    def _initdb(self) -> None:
        d = self._dirs
        self._chown(d.base)
        d.base.chmod(0o700)
        for sub in (d.sock, d.tls):
            sub.mkdir(mode=0o700, exist_ok=True)
            self._chown(sub)
        # the server needs its key owned by its own user with mode 0600
        cert, key = d.tls / "server.crt", d.tls / "server.key"
        shutil.copyfile(self._tls_ca.server_cert, cert)
        shutil.copyfile(self._tls_ca.server_key, key)
        for f in (cert, key):
            f.chmod(0o600)
            self._chown(f)
        pwfile = d.base / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(self._superuser_password + "\n")
            self._chown(pwfile)
            res = subprocess.run(
                [
                    str(self._bindir / "initdb"),
                    "-D",
                    str(d.data),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                **self._popen_kwargs(),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise RuntimeError(f"initdb failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        (d.data / "pg_hba.conf").write_text(_HBA)
        with open(d.data / "postgresql.conf", "a") as fh:
            fh.write(_CONF.format(cert=cert, key=key))
        self._chown(d.data / "pg_hba.conf")

    def _pg_isready(self) -> bool:
        res = subprocess.run(
            [str(self._bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(self._port), "-t", "1", "-d", "postgres"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
        return res.returncode == 0

    def _spawn(self, port: int) -> subprocess.Popen:  # type: ignore[type-arg]
        d = self._dirs
        cmd = [
            str(self._bindir / "postgres"),
            "-D",
            str(d.data),
            "-p",
            str(port),
            "-k",
            str(d.sock),
            "-c",
            f"listen_addresses={HOST}",
        ]
        with open(d.log, "ab") as log:
            return subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **self._popen_kwargs()
            )

    def start(self, timeout: float = 30.0) -> PgCluster:
        """Run initdb (first time only) and the server; return when it accepts connections."""
        if self.running:
            return self
        t0 = time.monotonic()
        first = not self._initialised
        if first:
            self._initdb()
            self._initialised = True
        # a fresh port on the first start (retrying if another process takes it in
        # between); restarts keep their port, since tests hold URLs with it
        attempts = 3 if self._port is None else 1
        for attempt in range(attempts):
            if self._port is None or attempt > 0:
                self._port = free_tcp_port(HOST)
            log_offset = self._dirs.log.stat().st_size if self._dirs.log.exists() else 0
            self._proc = self._spawn(self._port)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                if self._pg_isready():
                    break
                time.sleep(0.05)
            if self.running and self._pg_isready():
                break
            stop_group(self._proc)
            tail = self.log_text()[log_offset:]
            if "could not bind" in tail and attempt + 1 < attempts:
                continue
            raise RuntimeError(
                f"PostgreSQL did not start on {HOST}:{self._port} within {timeout:.0f} s; its log:\n{tail[-4000:]}"
            )
        if first:
            with self.connect_admin() as conn:
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(TLS_ONLY_ROLE)))
            self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: open sessions are ended, committed work kept)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        stop_group(proc)  # SIGTERM/SIGKILL if it lingers; nothing of the group left

    def kill(self) -> None:
        """SIGKILL the postmaster and all its backends at once: a crash."""
        proc = self._proc
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(10)

    def restart(self, timeout: float = 30.0) -> PgCluster:
        """stop() (if running) and start() again on the same port; after kill() this
        is crash recovery."""
        self.stop()
        return self.start(timeout)

    def reload(self) -> None:
        """SIGHUP: re-read pg_hba.conf and postgresql.conf."""
        if not self.running:
            raise RuntimeError("PgCluster not running")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)

    def cleanup(self) -> None:
        """stop() and delete the cluster's directory (data, log, TLS files)."""
        self.stop()
        shutil.rmtree(self._dirs.base, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- administration -----------------------------------------------
    def create_database(self, name: str, owner: str | None = None, template: str = "template1") -> str:
        q = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        if owner is not None:
            q = q + sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        with self.connect_admin() as conn:
            conn.execute(q)
        return name

    def drop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS ... WITH (FORCE): open sessions are terminated."""
        with self.connect_admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create_role(
        self,
        name: str,
        password: str | None = None,
        *,
        login: bool = True,
        superuser: bool = False,
        in_roles: Iterable[str] = (),
    ) -> str:
        """CREATE ROLE with a SCRAM verifier computed here (the password itself
        never reaches the server or its log)."""
        opts = [sql.SQL("LOGIN" if login else "NOLOGIN"), sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER")]
        with self.connect_admin() as conn:
            if password is not None:
                verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
                opts.append(sql.SQL("PASSWORD {}").format(sql.Literal(verifier)))
            roles = list(in_roles)
            if roles:
                opts.append(sql.SQL("IN ROLE {}").format(sql.SQL(", ").join(sql.Identifier(r) for r in roles)))
            conn.execute(sql.SQL("CREATE ROLE {} ").format(sql.Identifier(name)) + sql.SQL(" ").join(opts))
        return name

    def require_tls(self, role: str) -> None:
        """Make ``role`` a member of :data:`TLS_ONLY_ROLE`: its non-TLS TCP
        connections are then refused by pg_hba.conf."""
        with self.connect_admin() as conn:
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(TLS_ONLY_ROLE), sql.Identifier(role)))

    def terminate_backends(self, db: str, user: str | None = None) -> int:
        """pg_terminate_backend() every session on ``db`` (of ``user`` only, if
        given) except the one asking; returns how many were terminated."""
        q = (
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        params: list[str] = [db]
        if user is not None:
            q += " AND usename = %s"
            params.append(user)
        with self.connect_admin() as conn:
            row = conn.execute(q, params).fetchone()
        return int(row[0]) if row else 0
