"""The local store's tables (SQLAlchemy 2 declarative).

The schema is created and changed only by the Alembic migrations next to this
module; these classes must match them (a test compares the two).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from softclock.states import Disposition, EntryStatus


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    policy_json: Mapped[str | None] = mapped_column(Text)  # billing-policy overrides (outside counsel guidelines)
    central_id: Mapped[int | None] = mapped_column(Integer, unique=True)  # set when pulled from the central store

    matters: Mapped[list[Matter]] = relationship(back_populates="client")


class Matter(Base):
    __tablename__ = "matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    policy_json: Mapped[str | None] = mapped_column(Text)
    central_id: Mapped[int | None] = mapped_column(Integer, unique=True)

    client: Mapped[Client] = relationship(back_populates="matters")


class ContactNumber(Base):
    """An E.164 number known to belong to a client, optionally to one matter."""

    __tablename__ = "contact_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"))
    label: Mapped[str] = mapped_column(String(100), default="")
    central_id: Mapped[int | None] = mapped_column(Integer, unique=True)


class Call(Base):
    """The immutable capture of one SIP call; entries are edited, calls never."""

    __tablename__ = "calls"
    # A call is a dialog: a second INVITE reusing a Call-ID with another From tag is another call.
    __table_args__ = (UniqueConstraint("sip_call_id", "dialog_tag", name="uq_calls_dialog"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sip_call_id: Mapped[str] = mapped_column(String(255))
    dialog_tag: Mapped[str] = mapped_column(String(128), default="", server_default="")  # the far end's tag
    direction: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(255))
    remote_uri: Mapped[str] = mapped_column(String(500))
    remote_number: Mapped[str | None] = mapped_column(String(64), index=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    invited_utc: Mapped[datetime] = mapped_column(DateTime, index=True)
    answered_utc: Mapped[datetime | None] = mapped_column(DateTime)
    ended_utc: Mapped[datetime | None] = mapped_column(DateTime)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    ring_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # in_progress | answered | missed | declined | cancelled | failed | busy
    disposition: Mapped[str] = mapped_column(String(16), default=Disposition.IN_PROGRESS.value, index=True)
    sip_status: Mapped[int | None] = mapped_column(Integer)
    sip_reason: Mapped[str] = mapped_column(String(255), default="")
    connect_duration_s: Mapped[float | None] = mapped_column(Float)
    last_heartbeat_utc: Mapped[datetime | None] = mapped_column(DateTime)
    recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_path: Mapped[str | None] = mapped_column(String(500))

    segments: Mapped[list[Segment]] = relationship(back_populates="call", order_by="Segment.id")


class Segment(Base):
    """A stretch of one call spent on one matter."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"))
    start_utc: Mapped[datetime] = mapped_column(DateTime)
    end_utc: Mapped[datetime | None] = mapped_column(DateTime)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    held: Mapped[bool] = mapped_column(Boolean, default=False)

    call: Mapped[Call] = relationship(back_populates="segments")


class TimeEntry(Base):
    __tablename__ = "time_entries"
    __table_args__ = (
        UniqueConstraint("segment_id"),
        # The review queue: one status, newest first (bench/store_scale.py: 465 ms -> 5 ms).
        Index("ix_time_entries_status_started", "status", "started_utc"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"))
    timekeeper: Mapped[str] = mapped_column(String(100))
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id"), index=True)
    work_date: Mapped[date] = mapped_column(Date, index=True)
    started_utc: Mapped[datetime] = mapped_column(DateTime)
    raw_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # part of raw_seconds spent on hold
    billed_units: Mapped[int | None] = mapped_column(Integer)
    activity_code: Mapped[str] = mapped_column(String(8), default="")
    task_code: Mapped[str] = mapped_column(String(8), default="")
    narrative: Mapped[str] = mapped_column(Text, default="")
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.DRAFT.value)
    flag: Mapped[str] = mapped_column(String(16), default="")  # short | recovered | "" (shown in review)
    billed_by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_utc: Mapped[datetime] = mapped_column(DateTime)
    updated_utc: Mapped[datetime] = mapped_column(DateTime)

    call: Mapped[Call | None] = relationship()
    matter: Mapped[Matter | None] = relationship()


class AuditEvent(Base):
    """Append-only; each event carries the hash of the one before (see softclock.audit)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at_utc: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last event and length, so a deleted tail is noticed too; and the
    checkpoint of the last check (the last event found intact), so the next one
    starts there (softclock.audit.verify explains what that trusts)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    checked_id: Mapped[int | None] = mapped_column(Integer)
    checked_hash: Mapped[str | None] = mapped_column(String(64))
    checked_count: Mapped[int | None] = mapped_column(Integer)
    checked_utc: Mapped[datetime | None] = mapped_column(DateTime)


class Outbox(Base):
    """Approved entry versions waiting for (or done with) the central store.

    The payload is the entry as approved, frozen in the approval's transaction,
    so what is pushed is exactly what was approved (softclock.sync.outbox).
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("entry_id", "version"), Index("ix_outbox_state_id", "state", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    payload_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | conflict | withdrawn
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    enqueued_utc: Mapped[datetime] = mapped_column(DateTime)
    sent_utc: Mapped[datetime | None] = mapped_column(DateTime)


class SyncState(Base):
    """Sync cursors and status as key/value rows (softclock.sync.state)."""

    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Code(Base):
    """Activity and task codes pulled from the central store."""

    __tablename__ = "codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # activity | task
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class (``Model.__table__`` is typed as any FromClause)."""
    return cast(Table, model.__table__)
