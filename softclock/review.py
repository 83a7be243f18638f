"""Review of time entries: edit, split, merge, approve, reopen — each change audited.

The captured call is never edited; entries are. Drafts are edited freely (with
an audit event per field); an approved entry changes only through
:func:`reopen`, which bumps its version; synced and invoiced entries are
locked. Every refusal says exactly why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from softclock import audit
from softclock.billing import ACTIVITY_CODES, Policy, PolicyError, billable_seconds, piece_units, split_units, units
from softclock.errors import InputError
from softclock.formatting import utc_now
from softclock.states import EntryStatus
from softclock.store.models import Call, Client, Code, Matter, TimeEntry
from softclock.sync import outbox

LOCKED = (EntryStatus.SYNCED, EntryStatus.INVOICED)
EDITABLE = ("matter_id", "narrative", "activity_code", "task_code", "billable", "billed_units")


class ReviewError(InputError):
    """A change that the rules refuse; the message says which entry and why."""


@dataclass(frozen=True)
class Outcome:
    done: list[str]
    refused: dict[str, str]  # entry id -> reason
    versions: list[tuple[str, int]] = field(default_factory=list)  # (id, version) of each entry done


def _short(entry_id: str) -> str:
    return entry_id[:8]


def policy_for(session: Session, base: Policy, matter_id: int | None) -> Policy:
    """The firm policy with the client's and then the matter's overrides."""
    if matter_id is None:
        return base
    policy = _matter_policies(session, base, {matter_id})[1].get(matter_id, base)
    if isinstance(policy, str):
        raise ReviewError(policy)
    return policy


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


def _known_code(session: Session, kind: str, code: object) -> bool:
    """Empty, a built-in UTBMS activity code, or an active code pulled from the central store.

    Task codes are checked only once the central store has sent some (a firm without one uses its own)."""
    if code == "":
        return True
    if kind == "activity" and code in ACTIVITY_CODES:
        return True
    pulled = dict(session.execute(select(Code.code, Code.active).where(Code.kind == kind)).all())
    if kind == "task" and not pulled:
        return True
    return bool(pulled.get(code))  # type: ignore[call-overload]


def edit(session: Session, entry_id: str, actor: str, reason: str = "", **changes: object) -> TimeEntry:
    """Change fields of a draft entry; billed units set by hand need a reason."""
    entry = _entry(session, entry_id)
    if entry.status in LOCKED:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status} and locked")
    if entry.status != EntryStatus.DRAFT:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: reopen it (with a reason) to change it")
    for name in changes:
        if name not in EDITABLE:
            raise ReviewError(f"{name!r} cannot be edited (editable: {', '.join(EDITABLE)})")
    if "billed_units" in changes and not reason.strip():
        raise ReviewError(f"entry {_short(entry.id)}: setting billed units by hand needs a reason")
    if "task_code" in changes and not _known_code(session, "task", changes["task_code"]):
        raise ReviewError(f"unknown task code {changes['task_code']!r} (the central store lists the firm's codes)")
    if "activity_code" in changes and not _known_code(session, "activity", changes["activity_code"]):
        raise ReviewError(f"unknown activity code {changes['activity_code']!r}")
    if changes.get("matter_id") is not None:
        matter = session.get(Matter, changes["matter_id"])
        if matter is None:
            raise ReviewError(f"no matter with id {changes['matter_id']}")
        if matter.status != "open" and matter.id != entry.matter_id:
            raise ReviewError(f"matter {matter.code} is closed: time cannot be moved onto it")
    for name, value in changes.items():
        old = getattr(entry, name)
        if old == value:
            continue
        audit.record(session, actor, "time_entry", entry.id, name, old, value, reason)
        setattr(entry, name, value)
        if name == "billed_units":
            entry.billed_by_hand = value is not None
    entry.updated_utc = utc_now()
    session.flush()
    return entry


def billed_units_for(session: Session, entry: TimeEntry, policy: Policy) -> int:
    """Units for an entry: held time only if the firm bills it; an entry that is
    one of several pieces of a call gets its share of the call rounded once."""
    if not entry.billable:
        return 0
    call_id = entry.call_id
    share = _call_pieces(session, {call_id}).get(call_id) if call_id is not None else None
    return _policy_units(True, entry.raw_seconds, entry.hold_seconds, share, entry.id, policy)


def _approval_problem(
    status: str,
    billable: bool,
    matter_id: int | None,
    matter: tuple[str, str] | None,
    narrative: str,
    policy: Policy,
) -> str:
    """Why an entry with these values cannot be approved, or ``""``; ``matter`` is (code, status)."""
    if status != EntryStatus.DRAFT:
        return f"it is {status}, not a draft"
    if billable and matter_id is None:
        return "a billable entry needs a matter"
    if matter is not None and matter[1] != "open":
        return f"matter {matter[0]} is closed"
    if policy.narrative_required and not narrative.strip():
        return "the firm requires a narrative"
    return ""


def units_preview(
    session: Session, entries: Sequence[TimeEntry], policy_of: Callable[[TimeEntry], Policy]
) -> dict[str, int]:
    """The billed units approval would fix for each entry (the same rule: held time by policy, a split
    call rounded once and allocated; units set by hand stay), for the Review tab to show."""
    pieces = _call_pieces(
        session, {e.call_id for e in entries if e.call_id is not None and e.billable and not e.billed_by_hand}
    )
    return {
        e.id: (e.billed_units or 0)
        if e.billed_by_hand
        else _policy_units(
            e.billable,
            e.raw_seconds,
            e.hold_seconds,
            pieces.get(e.call_id) if e.call_id is not None else None,
            e.id,
            policy_of(e),
        )
        for e in entries
    }


_APPROVAL_COLUMNS = (
    TimeEntry.id,
    TimeEntry.call_id,
    TimeEntry.matter_id,
    TimeEntry.status,
    TimeEntry.billable,
    TimeEntry.narrative,
    TimeEntry.raw_seconds,
    TimeEntry.hold_seconds,
    TimeEntry.billed_units,
    TimeEntry.billed_by_hand,
    TimeEntry.version,
    # the rest of the outbox's payload (outbox.PAYLOAD_COLUMNS), so approval reads each entry once
    TimeEntry.timekeeper,
    TimeEntry.work_date,
    TimeEntry.started_utc,
    TimeEntry.activity_code,
    TimeEntry.task_code,
    Matter.code,
    Client.name,
    Call.remote_number,
    Call.direction,
)


def _approval_select() -> Any:
    return outbox.with_payload_joins(select(*_APPROVAL_COLUMNS))


def _approval_rows(session: Session, wanted: list[str], refused: dict[str, str]) -> dict[str, Row[*tuple[Any, ...]]]:
    """The rows of ``wanted`` as plain tuples, in order, each once: full ids in one
    query, short ids resolved one by one; unknown ids go to ``refused``."""
    found: dict[str, Row[*tuple[Any, ...]]] = {}
    for chunk in _chunks(list(dict.fromkeys(wanted))):
        found.update((row.id, row) for row in session.execute(_approval_select().where(TimeEntry.id.in_(chunk))))
    rows: dict[str, Row[*tuple[Any, ...]]] = {}
    for entry_id in wanted:
        if entry_id not in found:
            try:
                full = _entry(session, entry_id).id
            except ReviewError as exc:
                refused[entry_id] = str(exc)
                continue
            found[full] = session.execute(_approval_select().where(TimeEntry.id == full)).one()
            entry_id = full
        rows.setdefault(entry_id, found[entry_id])
    return rows


def _chunks(items: list[Any], size: int = 5000) -> Iterator[list[Any]]:
    # SQLite caps the bound parameters of one statement (32,766 since 3.32).
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _matter_policies(
    session: Session, base: Policy, matter_ids: set[int]
) -> tuple[dict[int, tuple[str, str]], dict[int, Policy | str]]:
    """(code, status) of each matter and its policy, or why its override is invalid: two queries at most."""
    matters: dict[int, tuple[str, str]] = {}
    policies: dict[int, Policy | str] = {}
    cache: dict[tuple[str | None, str | None], Policy | str] = {}
    ids = sorted(matter_ids)
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Matter.id, Matter.code, Matter.status, Client.policy_json, Matter.policy_json)
            .join(Client, Client.id == Matter.client_id)
            .where(Matter.id.in_(chunk))
        )
        for matter_id, code, status, client_json, matter_json in rows:
            matters[matter_id] = (code, status)
            key = (client_json, matter_json)
            if key not in cache:
                try:
                    cache[key] = base.with_overrides(
                        json.loads(client_json) if client_json else None,
                        json.loads(matter_json) if matter_json else None,
                    )
                except (ValueError, PolicyError) as exc:
                    cache[key] = f"the billing policy override of matter {code} is invalid: {exc}"
            policies[matter_id] = cache[key]
    return matters, policies


def _call_pieces(session: Session, call_ids: set[int]) -> dict[int, list[tuple[str, float, float]]]:
    """The billable pieces (id, raw, hold) of each call with more than one, in the order
    :func:`billed_units_for` allocates them."""
    multi: set[int] = set()
    for chunk in _chunks(sorted(call_ids)):
        multi.update(
            session.scalars(
                select(TimeEntry.call_id)
                .where(TimeEntry.call_id.in_(chunk), TimeEntry.billable.is_(True))
                .group_by(TimeEntry.call_id)
                .having(func.count() > 1)
            )
        )
    pieces: dict[int, list[tuple[str, float, float]]] = {}
    for chunk in _chunks(sorted(multi)):
        rows = session.execute(
            select(TimeEntry.call_id, TimeEntry.id, TimeEntry.raw_seconds, TimeEntry.hold_seconds)
            .where(TimeEntry.call_id.in_(chunk), TimeEntry.billable.is_(True))
            .order_by(TimeEntry.started_utc, TimeEntry.id)
        )
        for call_id, entry_id, raw, hold in rows:
            assert call_id is not None  # selected by call_id IN (...)
            pieces.setdefault(call_id, []).append((entry_id, raw, hold))
    return pieces


def approve(session: Session, ids: Iterable[str], actor: str, base: Policy) -> Outcome:
    """Approve drafts; billed units are fixed from the policy unless set by hand.

    Set-based, for bulk approval: the entries, their matters and the other
    pieces of their calls are read as plain rows (a handful of queries for the
    whole batch), billed units are computed in Python (a call split across
    entries is still rounded once and allocated, see :func:`billed_units_for`),
    and the changes go out as one executemany UPDATE plus one executemany of
    audit events. A repeated id is approved once. Entries of the batch already
    loaded in ``session`` are expired, so they show the new values.
    """
    refused: dict[str, str] = {}
    with session.no_autoflush:
        session.flush()  # the caller's pending edits are what gets approved
        rows = _approval_rows(session, list(ids), refused)
        matters, policies = _matter_policies(
            session, base, {r.matter_id for r in rows.values() if r.matter_id is not None}
        )
        pieces = _call_pieces(
            session,
            {r.call_id for r in rows.values() if r.call_id is not None and r.billable and not r.billed_by_hand},
        )
        # A row that disagrees with its own trail (edited in the database file) is not billed.
        untrue = audit.entry_problems(session, rows)
    now = utc_now()
    updates: list[tuple[int | None, str]] = []  # (billed units, id)
    events: list[tuple[str, str, object, object, str]] = []
    approved: list[tuple[str, int]] = []  # (id, version): what an outbox takes
    payloads: list[tuple[Any, ...]] = []  # outbox.PAYLOAD_COLUMNS of each, as approved
    unit_minutes: dict[str, int] = {}
    for entry_id, row in rows.items():
        policy = base if row.matter_id is None else policies.get(row.matter_id, base)
        if isinstance(policy, str):
            refused[entry_id] = policy
            continue
        why = untrue.get(entry_id) or _approval_problem(
            row.status, row.billable, row.matter_id, matters.get(row.matter_id), row.narrative, policy
        )
        if why:
            refused[entry_id] = why
            continue
        billed = row.billed_units
        if not row.billed_by_hand:
            billed = _policy_units(
                row.billable, row.raw_seconds, row.hold_seconds, pieces.get(row.call_id), entry_id, policy
            )
            if billed != row.billed_units:
                events.append((entry_id, "billed_units", row.billed_units, billed, "policy"))
        events.append((entry_id, "status", row.status, EntryStatus.APPROVED, ""))
        updates.append((billed, entry_id))
        approved.append((entry_id, row.version))
        payloads.append(
            (entry_id, row.timekeeper, row.work_date, row.started_utc, row.raw_seconds, row.hold_seconds, billed)
            + (row.activity_code, row.task_code, row.narrative, row.billable, row.code, row.name)
            + (row.remote_number, row.direction)
        )
        unit_minutes[entry_id] = policy.increment_min
    if updates:
        # Straight to the driver: one executemany, no per-row parameter processing.
        stamp = now.isoformat(" ", "microseconds")  # SQLAlchemy's DATETIME format on SQLite
        session.connection().exec_driver_sql(
            "UPDATE time_entries SET billed_units = ?, status = 'approved', updated_utc = ? "
            "WHERE id = ? AND status = 'draft'",
            [(billed, stamp, entry_id) for billed, entry_id in updates],
        )
        _expire_loaded(session, [entry_id for entry_id, _ in approved])
    audit.record_many(session, actor, "time_entry", events)
    # The approved versions wait in the outbox for the central store: same transaction.
    outbox.enqueue(session, approved, unit_minutes, payloads)
    session.flush()
    return Outcome([entry_id for entry_id, _ in approved], refused, approved)


def _policy_units(
    billable: bool,
    raw: float,
    hold: float,
    call_pieces: list[tuple[str, float, float]] | None,
    entry_id: str,
    policy: Policy,
) -> int:
    """Billed units by policy; the same rule as :func:`billed_units_for`, on plain values."""
    if not billable:
        return 0
    if call_pieces is not None and len(call_pieces) > 1 and policy.split_rounding == "per_call":
        raws = [billable_seconds(r, h, policy) for _, r, h in call_pieces]
        return split_units(raws, policy)[[p[0] for p in call_pieces].index(entry_id)]
    return units(billable_seconds(raw, hold, policy), policy)


def _expire_loaded(session: Session, entry_ids: list[str]) -> None:
    # The session's loaded objects are few next to a batch of ids (an identity key a id cost ~10 us).
    wanted = set(entry_ids)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, TimeEntry) and loaded.id in wanted:
            session.expire(loaded)


def reopen(session: Session, entry_id: str, actor: str, reason: str) -> TimeEntry:
    """Send an approved entry back to draft (new version); a reason is required."""
    entry = _entry(session, entry_id)
    if not reason.strip():
        raise ReviewError("reopening needs a reason")
    if entry.status in LOCKED:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status} and locked")
    if entry.status != EntryStatus.APPROVED:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: only approved entries are reopened")
    audit.record(session, actor, "time_entry", entry.id, "status", EntryStatus.APPROVED, EntryStatus.DRAFT, reason)
    audit.record(session, actor, "time_entry", entry.id, "version", entry.version, entry.version + 1, reason)
    outbox.withdraw(session, entry.id)
    entry.status = EntryStatus.DRAFT
    entry.version += 1
    entry.updated_utc = utc_now()
    session.flush()
    return entry


def _hand_units_cleared(entry: TimeEntry, reason: str, what: str) -> bool:
    """A hand-set figure was justified for the time it was set on; a split or a
    merge changes that time, so the piece goes back to the policy, and a person
    says why the figure may go (the audit trail keeps it)."""
    if not entry.billed_by_hand:
        return False
    if not reason.strip():
        raise ReviewError(
            f"entry {_short(entry.id)} has billed units set by hand ({entry.billed_units}): "
            f"{what} puts it back on the policy, so give a reason"
        )
    entry.billed_by_hand = False
    return True


def split(
    session: Session,
    entry_id: str,
    actor: str,
    seconds: list[float],
    base: Policy,
    reason: str = "",
    matters: Sequence[int | None] | None = None,
) -> list[TimeEntry]:
    """Split a draft into pieces of ``seconds`` (they must add up to its raw time).

    The first piece keeps the entry; the others are new drafts on the same call,
    each starting where the one before it ends.
    ``matters`` (one per piece) moves pieces to other open matters; by default
    every piece stays on the entry's matter. A piece moved to another matter starts
    with an empty narrative (the entry's was written about its own matter; the
    first piece, if moved, has it cleared in the trail); the pieces of an
    unassigned entry all keep it. The pieces may miss the raw time by
    half a second (whole seconds typed for a fractional time): the last piece
    takes the difference, so the raw time is kept exactly. Billed units follow
    each piece's policy and its split rule (by default the call is rounded once
    and the units allocated).
    """
    entry = _entry(session, entry_id)
    if entry.status != EntryStatus.DRAFT:
        raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: only drafts are split")
    if len(seconds) < 2 or any(s <= 0 for s in seconds):
        raise ReviewError(f"entry {_short(entry.id)}: a split needs at least two positive pieces")
    if abs(sum(seconds) - entry.raw_seconds) > 0.5:
        raise ReviewError(
            f"the pieces add up to {sum(seconds):.1f} s but entry {_short(entry.id)} has {entry.raw_seconds:.1f} s"
        )
    seconds = [*seconds[:-1], entry.raw_seconds - sum(seconds[:-1])]
    if matters is None:
        matters = [entry.matter_id] * len(seconds)
    if len(matters) != len(seconds):
        raise ReviewError(f"entry {_short(entry.id)}: {len(seconds)} pieces but {len(matters)} matters")
    codes, policies = _matter_policies(session, base, {m for m in matters if m is not None})
    for matter_id in matters:
        if matter_id is None or matter_id == entry.matter_id:
            continue
        if matter_id not in codes:
            raise ReviewError(f"entry {_short(entry.id)}: no matter with id {matter_id}")
        if codes[matter_id][1] != "open":
            raise ReviewError(f"entry {_short(entry.id)}: matter {codes[matter_id][0]} is closed")
    piece_policies = []
    for matter_id in matters:
        policy = base if matter_id is None else policies.get(matter_id, base)
        if isinstance(policy, str):
            raise ReviewError(f"entry {_short(entry.id)}: {policy}")
        piece_policies.append(policy)
    billed = piece_units(seconds, piece_policies, entry.billable)
    why = reason or "split"
    by_hand = _hand_units_cleared(entry, reason, "a split")
    events: list[tuple[str, str, object, object, str]] = [(entry.id, "raw_seconds", entry.raw_seconds, seconds[0], why)]
    own_matter, narrative = entry.matter_id, entry.narrative

    def narrative_for(matter_id: int | None) -> str:
        return narrative if own_matter is None or matter_id == own_matter else ""

    if matters[0] != entry.matter_id:
        events.append((entry.id, "matter_id", entry.matter_id, matters[0], why))
        if narrative_for(matters[0]) != entry.narrative:
            events.append((entry.id, "narrative", entry.narrative, "", why))
    if by_hand or billed[0] != entry.billed_units:
        events.append((entry.id, "billed_units", entry.billed_units, billed[0], why))
    entry.narrative = narrative_for(matters[0])
    entry.raw_seconds, entry.matter_id, entry.billed_units = seconds[0], matters[0], billed[0]
    entry.updated_utc = now = utc_now()
    pieces = [entry]
    for i, (raw, units_, matter_id) in enumerate(zip(seconds[1:], billed[1:], matters[1:], strict=True), start=1):
        piece = TimeEntry(
            call_id=entry.call_id,
            timekeeper=entry.timekeeper,
            matter_id=matter_id,
            work_date=entry.work_date,
            started_utc=entry.started_utc + timedelta(seconds=sum(seconds[:i])),  # the pieces follow each other
            raw_seconds=raw,
            billed_units=units_,
            activity_code=entry.activity_code,
            task_code=entry.task_code,
            narrative=narrative_for(matter_id),
            billable=entry.billable,
            flag=entry.flag,
            status=EntryStatus.DRAFT,
            created_utc=now,
            updated_utc=now,
        )
        session.add(piece)
        pieces.append(piece)
    session.flush()
    for piece in pieces[1:]:
        created = f"split from {entry.id}: {piece.raw_seconds:.3f} s on matter {piece.matter_id}"
        events.append((piece.id, "created", None, created, why))
    audit.record_many(session, actor, "time_entry", events)
    session.flush()
    return pieces


def merge(session: Session, ids: Sequence[str], actor: str, base: Policy, reason: str = "") -> TimeEntry:
    """Merge drafts of one matter and one work day into the earliest of them.

    The earliest entry (by start, then creation, then id) keeps its id; raw and held seconds
    add up; the narratives are joined (each distinct one once, in order); billed
    units are recomputed by its policy. The other entries are deleted, not kept
    with a "merged" status: a row that still carried its seconds could be
    counted twice by any query that forgot the status. The audit trail explains
    the deletion: each removed entry gets a ``merged_into`` event (its raw
    seconds -> the surviving id) and the survivor one event per changed field
    plus ``merged`` (the ids it absorbed). The survivor keeps its own call;
    the other calls' records are untouched (captured calls are never edited),
    and the trail says where each one's time went: an ``entry_merged_into``
    event on the call (its store id; the removed entry -> the surviving id),
    which the Today list reads to say "merged into ...".

    Refused, naming the entry: fewer than two entries, an entry that is not a
    draft, another matter, another work day, billable and non-billable time
    mixed (that would change what is billed without anyone deciding it), and
    billed units set by hand without a ``reason`` (they are recomputed).
    """
    entries: list[TimeEntry] = []
    for entry_id in ids:
        entry = _entry(session, entry_id)
        if all(e.id != entry.id for e in entries):
            entries.append(entry)
    if len(entries) < 2:
        raise ReviewError("a merge needs at least two different entries")
    entries.sort(key=lambda e: (e.started_utc, e.created_utc, e.id))  # a split's pieces start together
    first, others = entries[0], entries[1:]
    for entry in entries:
        if entry.status != EntryStatus.DRAFT:
            raise ReviewError(f"entry {_short(entry.id)} is {entry.status}: only drafts are merged")
    for entry in others:
        if entry.matter_id != first.matter_id:
            raise ReviewError(
                f"entry {_short(entry.id)} is on {_matter_label(entry)}, not on {_matter_label(first)} "
                f"like entry {_short(first.id)}: only entries of one matter are merged"
            )
        if entry.work_date != first.work_date:
            raise ReviewError(
                f"entry {_short(entry.id)} is of {entry.work_date.isoformat()}, not of "
                f"{first.work_date.isoformat()} like entry {_short(first.id)}: only entries of one day are merged"
            )
        if entry.billable != first.billable:
            raise ReviewError(
                f"entry {_short(entry.id)} is {'' if entry.billable else 'not '}billable and entry "
                f"{_short(first.id)} is {'' if first.billable else 'not '}billable: make them alike before merging"
            )
    policy = policy_for(session, base, first.matter_id)
    why = reason or "merge"
    for entry in entries:  # refuse before anything changes
        if entry.billed_by_hand and not reason.strip():
            _hand_units_cleared(entry, reason, "a merge")
    cleared = [_hand_units_cleared(e, reason, "a merge") for e in entries]
    narratives = list(dict.fromkeys(e.narrative.strip() for e in entries if e.narrative.strip()))
    flags = {e.flag for e in entries}
    new = {
        "raw_seconds": sum(e.raw_seconds for e in entries),
        "hold_seconds": sum(e.hold_seconds for e in entries),
        "narrative": "; ".join(narratives),
        "flag": "recovered" if "recovered" in flags else (first.flag if len(flags) == 1 else ""),
    }
    events: list[tuple[str, str, object, object, str]] = []
    calls: list[tuple[str, str, object, object, str]] = [
        (str(e.call_id), "entry_merged_into", e.id, first.id, why)
        for e in others
        if e.call_id is not None and e.call_id != first.call_id
    ]
    for entry in others:
        events.append((entry.id, "merged_into", entry.raw_seconds, first.id, why))
        session.delete(entry)
    session.flush()  # the others are gone before the survivor's share of its call is computed
    for field_name, value in new.items():
        if getattr(first, field_name) != value:
            events.append((first.id, field_name, getattr(first, field_name), value, why))
            setattr(first, field_name, value)
    billed = billed_units_for(session, first, policy)
    if cleared[0] or any(cleared[1:]) or billed != first.billed_units:
        events.append((first.id, "billed_units", first.billed_units, billed, why))
    first.billed_units = billed
    events.append((first.id, "merged", None, ",".join(e.id for e in others), why))
    first.updated_utc = utc_now()
    audit.record_many(session, actor, "time_entry", events)
    audit.record_many(session, actor, "call", calls)
    session.flush()
    return first


def _matter_label(entry: TimeEntry) -> str:
    return f"matter {entry.matter.code}" if entry.matter is not None else "no matter"


def drafts_for_day(session: Session, day: object) -> list[str]:
    return list(
        session.scalars(select(TimeEntry.id).where(TimeEntry.status == EntryStatus.DRAFT, TimeEntry.work_date == day))
    )
