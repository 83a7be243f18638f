"""The central billing store's tables (SQLAlchemy 2), shared by PostgreSQL and SQLite.

Its schema has its own Alembic history (``softclock/sync/migrations``, version
table ``softclock_central_version``), separate from the local store's.

Reference rows (clients, matters, numbers, codes, policy) are never deleted:
they are closed or deactivated, so entries that point at them stay valid.
Every insert or update of a reference row takes the next value of one
change sequence (by trigger, see :mod:`softclock.sync.admin`); laptops pull
``change_seq > cursor``. Entries take a change sequence value only when they
are marked invoiced, which is what comes back to the laptops.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from softclock.states import EntryStatus

VERSION_TABLE = "softclock_central_version"

# Tables whose rows laptops pull by change cursor, in the order they are applied.
REFERENCE_TABLES = ("clients", "matters", "contact_numbers", "codes", "billing_policy")


class CentralBase(DeclarativeBase):
    metadata = MetaData()


class Timekeeper(CentralBase):
    """A person whose time is billed; on PostgreSQL ``id`` is also their login role."""

    __tablename__ = "timekeepers"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    office: Mapped[str] = mapped_column(String(100), default="")
    department: Mapped[str] = mapped_column(String(100), default="")
    rate: Mapped[float | None] = mapped_column(Numeric(10, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_utc: Mapped[datetime] = mapped_column(DateTime)
    # c0003: LEDES TIMEKEEPER_CLASSIFICATION (PT, AS, OC, LA, PL, OT) and the PBX extension of their desk phone
    classification: Mapped[str] = mapped_column(String(10), default="", server_default="")
    extension: Mapped[str | None] = mapped_column(String(32), unique=True)


class CentralClient(CentralBase):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    policy_json: Mapped[str | None] = mapped_column(Text)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class CentralMatter(CentralBase):
    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    policy_json: Mapped[str | None] = mapped_column(Text)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class CentralContactNumber(CentralBase):
    __tablename__ = "contact_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"))
    label: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class CentralCode(CentralBase):
    """UTBMS activity (A1xx) and task (L1xx...) codes."""

    __tablename__ = "codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # activity | task
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class CentralPolicy(CentralBase):
    """The firm's billing policy (one row, id 1) as the JSON of softclock.billing.Policy fields."""

    __tablename__ = "billing_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_json: Mapped[str] = mapped_column(Text)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)


class CentralEntry(CentralBase):
    """An approved time entry version as the firm bills it."""

    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_timekeeper_change", "timekeeper_id", "change_seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    timekeeper_id: Mapped[str] = mapped_column(ForeignKey("timekeepers.id"))
    matter_code: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200), default="")
    work_date: Mapped[date] = mapped_column(Date, index=True)
    started_utc: Mapped[datetime] = mapped_column(DateTime)
    raw_seconds: Mapped[float] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    billed_units: Mapped[int] = mapped_column(Integer)
    unit_minutes: Mapped[int] = mapped_column(Integer)
    activity_code: Mapped[str] = mapped_column(String(8), default="")
    task_code: Mapped[str] = mapped_column(String(8), default="")
    narrative: Mapped[str] = mapped_column(Text, default="")
    billable: Mapped[bool] = mapped_column(Boolean)
    remote_number: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.APPROVED)  # approved | invoiced
    pushed_utc: Mapped[datetime] = mapped_column(DateTime)
    invoiced_utc: Mapped[datetime | None] = mapped_column(DateTime)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class EntryConflict(CentralBase):
    """A pushed version the store did not take because another one holds its place.

    Kept whole, so a conflict loses nothing: billing staff (or the timekeeper)
    decide which version stands.
    """

    __tablename__ = "entry_conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    timekeeper_id: Mapped[str] = mapped_column(String(63))
    content_hash: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at_utc: Mapped[datetime] = mapped_column(DateTime)


class SyncLog(CentralBase):
    __tablename__ = "sync_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timekeeper_id: Mapped[str] = mapped_column(String(63), index=True)
    at_utc: Mapped[datetime] = mapped_column(DateTime)
    direction: Mapped[str] = mapped_column(String(8))  # push | pull
    rows: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")


class EntryVersion(CentralBase):
    """Every version of every entry the store has held, as it held it: written by a
    trigger when an entry is inserted or takes a new version, never changed
    (triggers refuse an UPDATE, DELETE or TRUNCATE). Billing reads all of them,
    a timekeeper their own."""

    __tablename__ = "entry_versions"
    __table_args__ = (PrimaryKeyConstraint("entry_id", "version"),)

    entry_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    timekeeper_id: Mapped[str] = mapped_column(String(63), index=True)
    matter_code: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200))
    work_date: Mapped[date] = mapped_column(Date)
    started_utc: Mapped[datetime] = mapped_column(DateTime)
    raw_seconds: Mapped[float] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float)
    billed_units: Mapped[int] = mapped_column(Integer)
    unit_minutes: Mapped[int] = mapped_column(Integer)
    activity_code: Mapped[str] = mapped_column(String(8))
    task_code: Mapped[str] = mapped_column(String(8))
    narrative: Mapped[str] = mapped_column(Text)
    billable: Mapped[bool] = mapped_column(Boolean)
    remote_number: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    recorded_utc: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(63))


class FirmSetting(CentralBase):
    """The firm's settings kept in the central store (c0003): ``law_firm_id`` (LEDES LAW_FIRM_ID) ..."""

    __tablename__ = "firm_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class CentralPbxCall(CentralBase):
    """One call as the firm's PBX recorded it (``softclock admin import-cdr``, c0003), keyed by its dedup key.

    ``timekeeper_id`` is the timekeeper whose extension the call was on when it was imported (None: no
    timekeeper has that extension). Times are naive UTC.
    """

    __tablename__ = "pbx_calls"
    __table_args__ = (
        Index("ix_pbx_calls_timekeeper_start", "timekeeper_id", "start_utc"),
        Index("ix_pbx_calls_start", "start_utc"),  # c0006
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(80), unique=True)
    source_format: Mapped[str] = mapped_column(String(16))
    source_file: Mapped[str] = mapped_column(String(300), default="")
    source_line: Mapped[int] = mapped_column(Integer)
    start_utc: Mapped[datetime] = mapped_column(DateTime)
    answer_utc: Mapped[datetime | None] = mapped_column(DateTime)
    end_utc: Mapped[datetime | None] = mapped_column(DateTime)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    billsec: Mapped[int | None] = mapped_column(Integer)
    caller: Mapped[str] = mapped_column(String(128), default="")
    callee: Mapped[str] = mapped_column(String(128), default="")
    remote_e164: Mapped[str | None] = mapped_column(String(32))
    extension: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(16))
    disposition: Mapped[str] = mapped_column(String(16))
    sip_call_id: Mapped[str | None] = mapped_column(String(255), index=True)
    pbx_unique_id: Mapped[str | None] = mapped_column(String(64))
    timekeeper_id: Mapped[str | None] = mapped_column(String(63))
    imported_utc: Mapped[datetime] = mapped_column(DateTime)
    # c0004: the firm-keyed HMAC of remote_e164, to match calls pushed with [central] privacy = true
    remote_hash: Mapped[str | None] = mapped_column(String(64))


class CentralCall(CentralBase):
    """A call as a laptop captured it (c0004), pushed through the outbox by call id and version.

    ``remote_number`` is E.164, or with ``number_hashed`` the firm-keyed HMAC-SHA256 (hex) of it
    (``[central] privacy = true``). ``entries_json`` lists ``[entry id, status]`` of the entries made
    from the call. Times are naive UTC.
    """

    __tablename__ = "calls"
    # c0006 adds ix_calls_start and, on PostgreSQL, ix_calls_entry_ids (GIN over the entry ids of entries_json)
    __table_args__ = (
        Index("ix_calls_timekeeper_start", "timekeeper_id", "start_utc"),
        Index("ix_calls_start", "start_utc"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    timekeeper_id: Mapped[str] = mapped_column(String(63))
    direction: Mapped[str] = mapped_column(String(16))
    remote_number: Mapped[str] = mapped_column(String(64), default="")
    number_hashed: Mapped[bool] = mapped_column(Boolean, default=False)
    start_utc: Mapped[datetime] = mapped_column(DateTime)
    answer_utc: Mapped[datetime | None] = mapped_column(DateTime)
    end_utc: Mapped[datetime | None] = mapped_column(DateTime)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    disposition: Mapped[str] = mapped_column(String(16))
    sip_call_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    entries_json: Mapped[str] = mapped_column(Text, default="[]")
    pushed_utc: Mapped[datetime] = mapped_column(DateTime)


class ChainAnchor(CentralBase):
    """The head of a laptop's audit chain as a push carried it (in the push's
    transaction): how many events, the last one's id and hash. Never changed;
    ``softclock audit verify --central`` compares the laptop's chain with them."""

    __tablename__ = "chain_anchors"
    __table_args__ = (Index("ix_chain_anchors_device", "timekeeper_id", "device_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timekeeper_id: Mapped[str] = mapped_column(String(63))
    device_id: Mapped[str] = mapped_column(String(36))
    device_label: Mapped[str] = mapped_column(String(200), default="")
    seq: Mapped[int] = mapped_column(BigInteger)  # the chain's length: the anchored event is the seq-th
    event_id: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    anchored_utc: Mapped[datetime] = mapped_column(DateTime)


# What an entry's content hash covers, in this order (see :func:`content_text`).
CONTENT_COLUMNS = (
    "id",
    "timekeeper_id",
    "matter_code",
    "client_name",
    "work_date",
    "started_utc",
    "raw_seconds",
    "hold_seconds",
    "billed_units",
    "unit_minutes",
    "activity_code",
    "task_code",
    "narrative",
    "billable",
    "remote_number",
    "direction",
)


def _content_field(name: str, value: object) -> str:
    if name in ("raw_seconds", "hold_seconds"):
        assert isinstance(value, int | float)
        return f"{float(value):.3f}"
    if name == "billable":
        return "true" if value else "false"
    if name == "started_utc":
        assert isinstance(value, datetime)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if name == "work_date":
        assert isinstance(value, date)
        return value.isoformat()
    return str(value)


def content_text(row: Mapping[str, object]) -> str:
    """The text an entry's content hash is taken over: each column of
    :data:`CONTENT_COLUMNS` as its UTF-8 length, a colon and its text (``-`` for
    none), joined by commas. Times are ``YYYY-MM-DDTHH:MM:SS.ffffff``, seconds
    have three decimals, booleans are ``true``/``false``. PostgreSQL computes the
    same text (``softclock_entry_content``) to check every change of content."""
    parts = []
    for name in CONTENT_COLUMNS:  # a push hashes every row it sends: plain text takes the short way
        value = row[name]
        if value is None:
            parts.append("-")
            continue
        text = value if type(value) is str else _content_field(name, value)
        parts.append(f"{len(text) if text.isascii() else len(text.encode())}:{text}")
    return ",".join(parts)


def content_hash(row: Mapping[str, object]) -> str:
    """SHA-256 (hex) of :func:`content_text`: the hash the central store holds for an entry's content."""
    return hashlib.sha256(content_text(row).encode()).hexdigest()
