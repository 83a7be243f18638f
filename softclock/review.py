"""Review of time entries: edit, split, approve, reopen — each change audited.

The captured call is never edited; entries are. Drafts are edited freely (with
an audit event per field); an approved entry changes only through
:func:`reopen`, which bumps its version; synced and invoiced entries are
locked. Every refusal says exactly why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from softclock import audit
from softclock.billing import ACTIVITY_CODES, Policy, PolicyError, billable_seconds, split_units, units
from softclock.errors import InputError
from softclock.store.models import Matter, TimeEntry

LOCKED = ("synced", "invoiced")
EDITABLE = ("matter_id", "narrative", "activity_code", "task_code", "billable", "billed_units")


class ReviewError(InputError):
    """A change that the rules refuse; the message says which entry and why."""


@dataclass(frozen=True)
class Outcome:
    done: list[str]
    refused: dict[str, str]  # entry id -> reason


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _short(entry_id: str) -> str:
    return entry_id[:8]


def policy_for(session: Session, base: Policy, matter_id: int | None) -> Policy:
    """The firm policy with the client's and then the matter's overrides."""
    if matter_id is None:
        return base
    matter = session.get(Matter, matter_id)
    if matter is None:
        return base
    try:
        return base.with_overrides(
            json.loads(matter.client.policy_json) if matter.client.policy_json else None,
            json.loads(matter.policy_json) if matter.policy_json else None,
        )
    except (ValueError, PolicyError) as exc:
        raise ReviewError(f"the billing policy override of matter {matter.code} is invalid: {exc}") from None


def _entry(session: Session, entry_id: str) -> TimeEntry:
    entry = session.get(TimeEntry, entry_id)
    if entry is None:
        matches = list(session.scalars(select(TimeEntry).where(TimeEntry.id.startswith(entry_id)).limit(2)))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ReviewError(f"{entry_id!r} matches more than one entry: give more of the id")
        raise ReviewError(f"no entry {entry_id!r}")
    return entry


def edit(session: Session, entry_id: str, actor: str, reason: str = "", **changes: object) -> TimeEntry:
    """Change fields of a draft entry; billed units set by hand need a reason."""
    entry = _entry(session, entry_id)
    if entry.status in LOCKED:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status} and locked")
    if entry.status != "draft":
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: reopen it (with a reason) to change it")
    for field in changes:
        if field not in EDITABLE:
            raise ReviewError(f"{field!r} cannot be edited (editable: {', '.join(EDITABLE)})")
    if "billed_units" in changes and not reason.strip():
        raise ReviewError(f"entry {_short(entry.id)}: setting billed units by hand needs a reason")
    if "activity_code" in changes and changes["activity_code"] not in ("", *ACTIVITY_CODES):
        raise ReviewError(f"unknown activity code {changes['activity_code']!r}")
    if changes.get("matter_id") is not None:
        matter = session.get(Matter, changes["matter_id"])
        if matter is None:
            raise ReviewError(f"no matter with id {changes['matter_id']}")
        if matter.status != "open" and matter.id != entry.matter_id:
            raise ReviewError(f"matter {matter.code} is closed: time cannot be moved onto it")
    for field, value in changes.items():
        old = getattr(entry, field)
        if old == value:
            continue
        audit.record(session, actor, "time_entry", entry.id, field, old, value, reason)
        setattr(entry, field, value)
        if field == "billed_units":
            entry.billed_by_hand = value is not None
    entry.updated_utc = _now()
    session.flush()
    return entry


def billed_units_for(session: Session, entry: TimeEntry, policy: Policy) -> int:
    """Units for an entry: held time only if the firm bills it; an entry that is
    one of several pieces of a call gets its share of the call rounded once."""
    if not entry.billable:
        return 0
    if entry.call_id is not None and policy.split_rounding == "per_call":
        pieces = list(
            session.scalars(
                select(TimeEntry).where(TimeEntry.call_id == entry.call_id, TimeEntry.billable.is_(True))
                .order_by(TimeEntry.started_utc, TimeEntry.id)
            )
        )  # fmt: skip
        if len(pieces) > 1:
            raws = [billable_seconds(p.raw_seconds, p.hold_seconds, policy) for p in pieces]
            return split_units(raws, policy)[[p.id for p in pieces].index(entry.id)]
    return units(billable_seconds(entry.raw_seconds, entry.hold_seconds, policy), policy)


def validate_for_approval(session: Session, entry: TimeEntry, policy: Policy) -> str:
    """Why the entry cannot be approved, or ``""``."""
    if entry.status != "draft":
        return f"it is {entry.status}, not a draft"
    if entry.billable and entry.matter_id is None:
        return "a billable entry needs a matter"
    if entry.matter_id is not None:
        matter = session.get(Matter, entry.matter_id)
        if matter is not None and matter.status != "open":
            return f"matter {matter.code} is closed"
    if policy.narrative_required and not entry.narrative.strip():
        return "the firm requires a narrative"
    return ""


def approve(session: Session, ids: Iterable[str], actor: str, base: Policy) -> Outcome:
    """Approve drafts; billed units are fixed from the policy unless set by hand."""
    done: list[str] = []
    refused: dict[str, str] = {}
    wanted = list(ids)
    # One query for the whole batch (full ids); short ids are looked up one by one.
    with session.no_autoflush:
        found = {e.id: e for e in session.scalars(select(TimeEntry).where(TimeEntry.id.in_(wanted)))}
        multi_piece = set(
            session.scalars(
                select(TimeEntry.call_id)
                .where(TimeEntry.call_id.in_({e.call_id for e in found.values() if e.call_id is not None}))
                .group_by(TimeEntry.call_id)
                .having(func.count() > 1)
            )
        )
    policies: dict[int | None, Policy] = {}
    events: list[tuple[str, str, object, object, str]] = []
    now = _now()
    for entry_id in wanted:
        try:
            entry = found.get(entry_id) or _entry(session, entry_id)
            if entry.matter_id not in policies:
                policies[entry.matter_id] = policy_for(session, base, entry.matter_id)
            policy = policies[entry.matter_id]
        except ReviewError as exc:
            refused[entry_id] = str(exc)
            continue
        why = validate_for_approval(session, entry, policy)
        if why:
            refused[entry.id] = why
            continue
        if not entry.billed_by_hand:
            if entry.call_id in multi_piece:
                billed = billed_units_for(session, entry, policy)
            else:
                billed = units(billable_seconds(entry.raw_seconds, entry.hold_seconds, policy), policy, entry.billable)
            if billed != entry.billed_units:
                events.append((entry.id, "billed_units", entry.billed_units, billed, "policy"))
                entry.billed_units = billed
        events.append((entry.id, "status", entry.status, "approved", ""))
        entry.status = "approved"
        entry.updated_utc = now
        done.append(entry.id)
    audit.record_many(session, actor, "time_entry", events)
    session.flush()
    return Outcome(done, refused)


def reopen(session: Session, entry_id: str, actor: str, reason: str) -> TimeEntry:
    """Send an approved entry back to draft (new version); a reason is required."""
    entry = _entry(session, entry_id)
    if not reason.strip():
        raise ReviewError("reopening needs a reason")
    if entry.status in LOCKED:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status} and locked")
    if entry.status != "approved":
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: only approved entries are reopened")
    audit.record(session, actor, "time_entry", entry.id, "status", "approved", "draft", reason)
    audit.record(session, actor, "time_entry", entry.id, "version", entry.version, entry.version + 1, reason)
    entry.status = "draft"
    entry.version += 1
    entry.updated_utc = _now()
    session.flush()
    return entry


def split(
    session: Session, entry_id: str, actor: str, seconds: list[float], base: Policy, reason: str = ""
) -> list[TimeEntry]:
    """Split a draft into pieces of ``seconds`` (they must add up to its raw time).

    The first piece keeps the entry; the others are new drafts on the same call
    and matter. Billed units follow the policy's split rule (by default the
    call is rounded once and the units allocated).
    """
    entry = _entry(session, entry_id)
    if entry.status != "draft":
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: only drafts are split")
    if len(seconds) < 2 or any(s <= 0 for s in seconds):
        raise ReviewError("a split needs at least two positive pieces")
    if abs(sum(seconds) - entry.raw_seconds) > 0.5:
        raise ReviewError(
            f"the pieces add up to {sum(seconds):.1f} s but entry {_short(entry.id)} has {entry.raw_seconds:.1f} s"
        )
    policy = policy_for(session, base, entry.matter_id)
    billed = split_units(seconds, policy)
    pieces = [entry]
    audit.record(session, actor, "time_entry", entry.id, "raw_seconds", entry.raw_seconds, seconds[0], reason or "split")
    entry.raw_seconds = seconds[0]
    entry.billed_units = billed[0]
    now = _now()
    for raw, units_ in zip(seconds[1:], billed[1:], strict=True):
        piece = TimeEntry(
            call_id=entry.call_id,
            timekeeper=entry.timekeeper,
            matter_id=entry.matter_id,
            work_date=entry.work_date,
            started_utc=entry.started_utc,
            raw_seconds=raw,
            billed_units=units_,
            activity_code=entry.activity_code,
            task_code=entry.task_code,
            narrative=entry.narrative,
            billable=entry.billable,
            status="draft",
            created_utc=now,
            updated_utc=now,
        )
        session.add(piece)
        session.flush()
        audit.record(session, actor, "time_entry", piece.id, "created", None, f"split from {entry.id}", reason or "split")
        pieces.append(piece)
    session.flush()
    return pieces


def drafts_for_day(session: Session, day: object) -> list[str]:
    return list(session.scalars(select(TimeEntry.id).where(TimeEntry.status == "draft", TimeEntry.work_date == day)))

