"""Administration of the central store: schema, logins, reference data, invoicing.

Everything here runs as a person with the rights for it (the installer for
``init_store``, an admin role for timekeepers and matters, the billing role
for invoicing); on PostgreSQL the database enforces those rights, not this
code.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, select, text, update

from softclock.billing import ACTIVITY_CODES, Policy, PolicyError
from softclock.errors import InputError
from softclock.formatting import utc_now
from softclock.states import EntryStatus
from softclock.store.models import table_of
from softclock.sync.central import (
    VERSION_TABLE,
    CentralClient,
    CentralCode,
    CentralContactNumber,
    CentralEntry,
    CentralMatter,
    CentralPolicy,
    Timekeeper,
)

_HERE = Path(__file__).resolve().parent
LOGIN_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
STAFF_ROLES = {"billing": "softclock_billing", "admin": "softclock_admin"}


def alembic_config() -> Config:

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def schema_revision(conn: Connection) -> str | None:
    if VERSION_TABLE not in inspect(conn).get_table_names():
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def init_store(engine: Engine) -> tuple[str | None, str]:
    """Create or migrate the central schema; returns (revision before, revision after).

    On PostgreSQL this also creates the roles, grants and row-level security
    policies, and needs a login allowed to create roles (the installer).
    """
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        before = schema_revision(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        _seed_codes(conn)
        after = schema_revision(conn)
    return before, str(after)


def _seed_codes(conn: Connection) -> None:
    have = set(conn.scalars(select(CentralCode.code)))
    rows = [
        {"code": c, "kind": "activity", "description": d, "active": True}
        for c, d in ACTIVITY_CODES.items()
        if c not in have
    ]
    if rows:
        conn.execute(table_of(CentralCode).insert(), rows)
    if conn.execute(select(CentralPolicy.id)).first() is None:
        conn.execute(table_of(CentralPolicy).insert(), [{"id": 1, "policy_json": json.dumps(_policy_dict(Policy()))}])


def _policy_dict(policy: Policy) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(policy)


def check_login(login: str) -> str:
    if not LOGIN_RE.match(login):
        raise InputError(
            f"{login!r} cannot be a login: use lower-case letters, digits and _ (starting with a letter, at most 63)"
        )
    return login


def _create_login(conn: Connection, login: str, password: str, group: str) -> None:
    """A PostgreSQL login role in ``group``; only a SCRAM verifier travels to the server."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    raw = conn.connection.driver_connection  # psycopg.Connection
    assert raw is not None
    verifier = raw.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": login}).first()
    verb = "ALTER" if exists else "CREATE"
    conn.exec_driver_sql(f"{verb} ROLE {quote(login)} LOGIN PASSWORD '{verifier}'")
    conn.exec_driver_sql(f"GRANT {group} TO {quote(login)}")


@dataclass(frozen=True)
class NewTimekeeper:
    id: str
    name: str
    email: str = ""
    office: str = ""
    department: str = ""
    rate: float | None = None
    classification: str = ""  # LEDES TIMEKEEPER_CLASSIFICATION: PT, AS, OC, LA, PL, OT ...
    extension: str | None = None  # their desk phone's PBX extension (import-cdr maps calls by it)


def _check_classification_and_extension(classification: str | None, extension: str | None) -> None:
    if classification is not None and (len(classification.strip()) > 10 or any(c in classification for c in "|[]")):
        raise InputError(f"{classification!r} is not a LEDES classification (at most 10 characters, e.g. PT or AS)")
    if extension is not None and extension != "" and not re.fullmatch(r"[0-9A-Za-z*#+_.-]{1,32}", extension):
        raise InputError(f"{extension!r} is not a PBX extension (digits, at most 32 characters)")


def set_timekeeper(engine: Engine, timekeeper_id: str, **fields: object) -> None:
    """Change some of a timekeeper's fields (rate, classification, extension ...) without touching their login.

    An empty ``extension`` takes the extension away."""
    _check_classification_and_extension(fields.get("classification"), fields.get("extension"))  # type: ignore[arg-type]
    if fields.get("extension") == "":
        fields["extension"] = None
    if "classification" in fields:
        fields["classification"] = str(fields["classification"]).strip().upper()
    rate = fields.get("rate")
    if rate is not None and float(rate) < 0:  # type: ignore[arg-type]
        raise InputError("the rate cannot be negative")
    with engine.begin() as conn:
        if fields.get("extension"):
            holder = conn.scalar(
                select(Timekeeper.id).where(Timekeeper.extension == fields["extension"], Timekeeper.id != timekeeper_id)
            )
            if holder:
                raise InputError(f"extension {fields['extension']} is {holder}'s")
        if not conn.execute(update(Timekeeper).where(Timekeeper.id == timekeeper_id).values(**fields)).rowcount:
            raise InputError(f"no timekeeper {timekeeper_id!r} in the central store")


def add_timekeeper(engine: Engine, tk: NewTimekeeper, password: str | None) -> None:
    """Add (or update) a timekeeper; on PostgreSQL also their login role with ``password``."""
    if engine.dialect.name == "postgresql":
        check_login(tk.id)
    if not tk.name.strip():
        raise InputError("a timekeeper needs a name (--name)")
    if tk.rate is not None and tk.rate < 0:
        raise InputError("the rate cannot be negative")
    _check_classification_and_extension(tk.classification, tk.extension)
    with engine.begin() as conn:
        values = {
            "name": tk.name.strip(),
            "email": tk.email,
            "office": tk.office,
            "department": tk.department,
            "rate": tk.rate,
            "active": True,
            "classification": tk.classification.strip().upper(),
            "extension": tk.extension or None,
        }
        if tk.extension and conn.scalar(
            select(Timekeeper.id).where(Timekeeper.extension == tk.extension, Timekeeper.id != tk.id)
        ):
            raise InputError(f"extension {tk.extension} belongs to another timekeeper")
        if conn.execute(select(Timekeeper.id).where(Timekeeper.id == tk.id)).first():
            conn.execute(update(Timekeeper).where(Timekeeper.id == tk.id).values(**values))
        else:
            conn.execute(table_of(Timekeeper).insert(), [{"id": tk.id, "created_utc": utc_now(), **values}])
        if conn.dialect.name == "postgresql":
            if not password:
                raise InputError("a PostgreSQL login needs a password (read from stdin or prompted)")
            _create_login(conn, tk.id, password, "softclock_timekeeper")


def add_staff(engine: Engine, login: str, role: str, password: str) -> None:
    """A billing or admin login (PostgreSQL only)."""
    check_login(login)
    if role not in STAFF_ROLES:
        raise InputError(f"role must be one of {', '.join(STAFF_ROLES)}, not {role!r}")
    with engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            raise InputError("logins and roles exist only on a PostgreSQL central store")
        _create_login(conn, login, password, STAFF_ROLES[role])


def import_matters(engine: Engine, csv_text: str) -> int:
    """Upsert ``code,name,client[,status]`` rows (header optional); the first bad line is named.

    Clients are keyed by name (their code is the name unless one exists already).
    """
    rows: list[tuple[str, str, str, str]] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(csv_text)), start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if lineno == 1 and [c.strip().lower() for c in row[:3]] == ["code", "name", "client"]:
            continue
        if len(row) not in (3, 4):
            raise InputError(f"line {lineno}: expected code,name,client[,status], found {len(row)} fields")
        code, name, client = (c.strip() for c in row[:3])
        status = row[3].strip().lower() if len(row) == 4 and row[3].strip() else "open"
        if not code or not name or not client:
            raise InputError(f"line {lineno}: code, name and client must not be empty")
        if status not in ("open", "closed"):
            raise InputError(f"line {lineno}: status must be open or closed, not {status!r}")
        rows.append((code, name, client, status))
    with engine.begin() as conn:
        clients = {name: cid for cid, name in conn.execute(select(CentralClient.id, CentralClient.name))}
        new_clients = sorted({r[2] for r in rows} - clients.keys())
        if new_clients:
            conn.execute(table_of(CentralClient).insert(), [{"code": n[:64], "name": n} for n in new_clients])
            clients = {name: cid for cid, name in conn.execute(select(CentralClient.id, CentralClient.name))}
        existing = {
            code: (name, cid, st)
            for code, name, cid, st in conn.execute(
                select(CentralMatter.code, CentralMatter.name, CentralMatter.client_id, CentralMatter.status)
            )
        }
        inserts, updates = [], []
        for code, name, client, status in rows:
            want = (name, clients[client], status)
            if code not in existing:
                inserts.append({"code": code, "name": name, "client_id": clients[client], "status": status})
            elif existing[code] != want:
                updates.append({"c": code, "name": name, "client_id": clients[client], "status": status})
        if inserts:
            conn.execute(table_of(CentralMatter).insert(), inserts)
        if updates:
            t = table_of(CentralMatter)
            from sqlalchemy import bindparam

            conn.execute(t.update().where(t.c.code == bindparam("c")), updates)
    return len(rows)


def set_matter_status(engine: Engine, code: str, status: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(CentralMatter).where(CentralMatter.code == code).values(status=status)).rowcount
    if not done:
        raise InputError(f"no matter {code!r} in the central store")


def add_number(engine: Engine, number_e164: str, client_name: str, matter_code: str = "", label: str = "") -> None:
    with engine.begin() as conn:
        cid = conn.scalar(select(CentralClient.id).where(CentralClient.name == client_name))
        if cid is None:
            raise InputError(f"no client {client_name!r} in the central store")
        mid = None
        if matter_code:
            mid = conn.scalar(select(CentralMatter.id).where(CentralMatter.code == matter_code))
            if mid is None:
                raise InputError(f"no matter {matter_code!r} in the central store")
        conn.execute(
            table_of(CentralContactNumber).insert(),
            [{"number": number_e164, "client_id": cid, "matter_id": mid, "label": label, "active": True}],
        )


def set_code(engine: Engine, code: str, kind: str, description: str = "", active: bool = True) -> None:
    """Add or change an activity or task code (UTBMS); laptops validate entries against them."""
    if kind not in ("activity", "task"):
        raise InputError(f"a code is an activity or a task code, not {kind!r}")
    if not code.strip() or len(code.strip()) > 8:
        raise InputError(f"{code!r} is not a code (1-8 characters, e.g. A106 or L120)")
    with engine.begin() as conn:
        values = {"kind": kind, "description": description, "active": active}
        if conn.execute(update(CentralCode).where(CentralCode.code == code.strip()).values(**values)).rowcount == 0:
            conn.execute(table_of(CentralCode).insert(), [{"code": code.strip(), **values}])


def set_policy(engine: Engine, **fields: object) -> Policy:
    """Change fields of the firm's policy (validated by softclock.billing.Policy)."""
    with engine.begin() as conn:
        current = json.loads(conn.scalar(select(CentralPolicy.policy_json).where(CentralPolicy.id == 1)) or "{}")
        current.update(fields)
        try:
            policy = Policy(**current)
        except (PolicyError, TypeError) as exc:
            raise InputError(f"the policy was not changed: {exc}") from None
        conn.execute(
            update(CentralPolicy).where(CentralPolicy.id == 1).values(policy_json=json.dumps(_policy_dict(policy)))
        )
    return policy


def mark_invoiced(engine: Engine, ids: Iterable[str]) -> int:
    """Mark approved entries invoiced (billing role); returns how many changed."""
    wanted = list(ids)
    with engine.begin() as conn:
        t = table_of(CentralEntry)
        return conn.execute(
            t.update()
            .where(t.c.id.in_(wanted), t.c.status == EntryStatus.APPROVED)
            .values(status=EntryStatus.INVOICED, invoiced_utc=utc_now())
        ).rowcount
