"""The states the program's records move through: one enum each, used everywhere.

They are ``StrEnum`` so the stored values stay the plain words they have always
been (the local and central stores, JSON output and the audit trail hold these
strings); code compares and assigns the enum members, never string literals.
"""

from __future__ import annotations

import enum


class EntryStatus(enum.StrEnum):
    """A time entry's life: draft -> approved -> synced -> invoiced (locked)."""

    DRAFT = "draft"
    APPROVED = "approved"
    SYNCED = "synced"
    INVOICED = "invoiced"


class Disposition(enum.StrEnum):
    """How a call ended; every call has one (only an answered call has billable time)."""

    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    MISSED = "missed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    BUSY = "busy"
    FAILED = "failed"


class DeviceKind(enum.StrEnum):
    """A direction of the sound bridge (and the ringer, which plays like a speaker)."""

    PLAYBACK = "playback"
    CAPTURE = "capture"
