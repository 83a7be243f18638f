"""Connections to the central store: URL checks, the keyring password, TLS, errors in words."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from softclock import secrets
from softclock.errors import KeyringUnavailable, SettingsError
from softclock.logs import register_secret

CONNECT_TIMEOUT_S = 5


def parse_url(text_url: str) -> URL:
    """A central store URL, refused with a specific message when it holds a password."""
    try:
        url = make_url(text_url)
    except ArgumentError:
        raise SettingsError(
            f"[central] url {text_url!r} is not a database URL "
            "(e.g. postgresql://alice@db.firm.example/billing or sqlite:////path/central.db)"
        ) from None
    if url.password is not None:
        raise SettingsError("[central] url must not hold a password: keep it in the keyring (softclock sync login)")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if not url.drivername.startswith(("postgresql", "sqlite")):
        raise SettingsError(f"[central] url: {url.drivername} is not supported (PostgreSQL or SQLite)")
    return url


def login_of(url: URL) -> str:
    """The keyring name of a login: ``user@host:port/database``."""
    return f"{url.username or ''}@{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


@dataclass(frozen=True)
class Target:
    """Where the central store is and how to reach it; no password inside."""

    url: URL
    sslmode: str = ""
    sslrootcert: str = ""

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @property
    def user(self) -> str:
        return self.url.username or ""

    def where(self) -> str:
        if self.is_postgres:
            return f"{self.url.host or 'localhost'}:{self.url.port or 5432}/{self.url.database}"
        return str(self.url.database)

    def engine(self, password: str | None = None, **kw: object) -> Engine:
        """An engine for this target; the password (from the keyring unless given) never enters the URL text."""
        if not self.is_postgres:
            from softclock.store.db import _on_connect  # the local store's pragmas: WAL, foreign keys, busy wait

            eng = create_engine(self.url, **kw)
            event.listen(eng, "connect", _on_connect)
            return eng
        if password is None and self.user:
            try:
                password = secrets.get_central_password(login_of(self.url))
            except KeyringUnavailable:
                password = None  # trust or certificate logins need none; otherwise libpq says so
        args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "softclock"}
        if self.sslmode:
            args["sslmode"] = self.sslmode
        if self.sslrootcert:
            args["sslrootcert"] = self.sslrootcert
        if password:
            register_secret(password)  # redacted from any log line that might quote it
            args["password"] = password  # handed to libpq, not part of the URL or any log line
        return create_engine(self.url, connect_args=args, pool_pre_ping=True, **kw)


def describe(exc: BaseException, target: Target) -> str:
    """One sentence for a failure to reach or use the central store; never holds a password."""
    where = target.where()
    text_ = str(getattr(exc, "orig", None) or exc)
    low = text_.lower()
    user = target.user
    if "password authentication failed" in low or "no password supplied" in low:
        return (
            f"The central store at {where} refused the password of {user!r}: set it again with `softclock sync login`."
        )
    if "role" in low and "does not exist" in low:
        return f"The central store at {where} has no login {user!r}: ask an administrator to add you."
    if "certificate verify failed" in low or "certificate" in low and "verify" in low:
        return (
            f"TLS to the central store at {where} failed: its certificate could not be verified ({_first_line(text_)})."
        )
    if "server does not support ssl" in low or "ssl" in low and ("required" in low or "handshake" in low):
        return f"TLS to the central store at {where} failed: {_first_line(text_)}."
    if "no pg_hba.conf entry" in low:
        return f"The central store at {where} does not accept this connection ({_first_line(text_)})."
    if (
        "failed to resolve host" in low
        or "could not translate host name" in low
        or "name or service not known" in low
        or "nodename nor servname" in low
    ):
        return f"The central store's host {target.url.host!r} is unknown (DNS lookup failed)."
    if "connection refused" in low:
        return f"The central store at {where} refused the connection: is the server running?"
    if "timeout" in low or "timed out" in low:
        return f"The central store at {where} did not answer within {CONNECT_TIMEOUT_S} s."
    if "database" in low and "does not exist" in low:
        return f"The central store at {where} has no such database."
    if "terminat" in low or "server closed the connection" in low or "connection is lost" in low:
        return f"The connection to the central store at {where} was lost mid-way; it will be retried."
    if "softclock_central_version" in low or "no such table" in low or "undefinedtable" in low:
        return f"The central store at {where} is not set up: run `softclock admin init-store`."
    return f"The central store at {where} failed: {_first_line(text_)}"


def _first_line(text_: str) -> str:
    return text_.strip().splitlines()[0] if text_.strip() else "unknown error"
