"""The UI's and the command line's way into the store: small facades that return plain frozen rows.

Views never open a session, never hold an ORM object and never call
``softclock.review`` themselves; they call these. Each method is one short
store operation; the desktop app runs them on the one database worker
(:mod:`softclock.worker`) and gets the rows back on the UI thread; the
command line calls them directly. Writes announce themselves on the
:class:`softclock.changes.ChangeBus`, so every view learns of every change
from one place, whoever made it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

from softclock.changes import Change, ChangeBus, ChangeKind
from softclock.formatting import MatterRow
from softclock.states import Disposition, EntryStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from softclock.billing import Policy
    from softclock.review import Outcome
    from softclock.store.db import Store
    from softclock.store.models import Call, TimeEntry
    from softclock.store.queries import MatterImport


T = TypeVar("T")

# ---------------------------------------------------------------------- rows


@dataclass(frozen=True)
class EntryRow:
    """A time entry as views and the command line show it."""

    id: str
    sip_call_id: str | None
    timekeeper: str
    matter: MatterRow | None
    work_date: date
    started_utc: datetime | None
    raw_seconds: float
    billed_units: int | None
    activity_code: str
    narrative: str
    billable: bool
    status: str
    flag: str
    version: int
    task_code: str = ""
    billed_by_hand: bool = False

    @property
    def matter_text(self) -> str:
        """``CODE — Client``, or "Unassigned"."""
        return f"{self.matter.code} — {self.matter.client}" if self.matter else "Unassigned"


@dataclass(frozen=True)
class DraftRow:
    """A draft in the Review tab: the entry and the units approval would bill now."""

    entry: EntryRow
    preview_units: int
    increment_min: int


@dataclass(frozen=True)
class CallRow:
    """A recorded call, with the entries made from it (oldest first), and for a call
    whose entries were merged away the entries now holding its time."""

    sip_call_id: str
    direction: str
    remote_uri: str
    remote_number: str | None
    display_name: str
    invited_utc: datetime
    answered_utc: datetime | None
    ended_utc: datetime | None
    ring_seconds: float
    talk_seconds: float
    disposition: str
    sip_status: int | None
    recovered: bool
    entries: tuple[EntryRow, ...] = ()
    merged_into: tuple[EntryRow, ...] = ()

    @property
    def merged_away(self) -> bool:
        """Answered, and none of its entries left: a merge took them (nothing else removes one)."""
        return not self.entries and self.disposition == Disposition.ANSWERED


def _matter(entry: TimeEntry) -> MatterRow | None:
    m = entry.matter
    return MatterRow(m.id, m.code, m.name, m.client.name) if m is not None else None


def entry_row(entry: TimeEntry, sip_call_id: str | None = None, with_call: bool = False) -> EntryRow:
    """``entry`` as a row; its call's SIP Call-ID when given, or read from the call when ``with_call``."""
    if with_call and entry.call is not None:
        sip_call_id = entry.call.sip_call_id
    return EntryRow(
        id=entry.id,
        sip_call_id=sip_call_id,
        timekeeper=entry.timekeeper,
        matter=_matter(entry),
        work_date=entry.work_date,
        started_utc=entry.started_utc,
        raw_seconds=entry.raw_seconds,
        billed_units=entry.billed_units,
        activity_code=entry.activity_code or "",
        narrative=entry.narrative or "",
        billable=bool(entry.billable),
        status=str(entry.status),
        flag=entry.flag or "",
        version=entry.version,
        task_code=entry.task_code or "",
        billed_by_hand=bool(entry.billed_by_hand),
    )


def call_row(call: Call, entries: Iterable[TimeEntry] = (), merged_into: tuple[EntryRow, ...] = ()) -> CallRow:
    return CallRow(
        sip_call_id=call.sip_call_id,
        direction=str(call.direction),
        remote_uri=call.remote_uri,
        remote_number=call.remote_number,
        display_name=call.display_name or "",
        invited_utc=call.invited_utc,
        answered_utc=call.answered_utc,
        ended_utc=call.ended_utc,
        ring_seconds=call.ring_seconds or 0.0,
        talk_seconds=call.talk_seconds or 0.0,
        disposition=str(call.disposition),
        sip_status=call.sip_status,
        recovered=bool(call.recovered),
        entries=tuple(
            entry_row(e, call.sip_call_id) for e in sorted(entries, key=lambda e: e.started_utc or call.invited_utc)
        ),
        merged_into=merged_into,
    )


def merged_into(session: Session, call_ids: Sequence[int]) -> dict[int, tuple[EntryRow, ...]]:
    """For calls whose entries were merged away: the entries holding their time now.

    Read from the trail (review.merge's ``entry_merged_into`` events on the call, then
    each later ``merged_into`` of the surviving entry), by indexed entity id."""
    from sqlalchemy import select

    from softclock.store.models import AuditEvent, TimeEntry

    if not call_ids:
        return {}
    moved = session.execute(
        select(AuditEvent.entity_id, AuditEvent.new_value)
        .where(
            AuditEvent.entity_id.in_([str(i) for i in call_ids]),
            AuditEvent.entity == "call",
            AuditEvent.field == "entry_merged_into",
        )
        .order_by(AuditEvent.id)
    ).all()
    found: dict[int, tuple[EntryRow, ...]] = {}
    for call_id, survivor_id in moved:
        entry = None
        for _ in range(100):  # the survivor may have been merged on since
            entry = session.get(TimeEntry, survivor_id) if survivor_id else None
            if entry is not None or not survivor_id:
                break
            survivor_id = session.scalars(
                select(AuditEvent.new_value)
                .where(
                    AuditEvent.entity_id == survivor_id,
                    AuditEvent.entity == "time_entry",
                    AuditEvent.field == "merged_into",
                )
                .order_by(AuditEvent.id.desc())
                .limit(1)
            ).first()
        if entry is not None:
            rows = found.get(int(call_id), ())
            if all(r.id != entry.id for r in rows):
                found[int(call_id)] = (*rows, entry_row(entry, with_call=True))
    return found


@dataclass(frozen=True)
class HistoryFilter:
    """What the History view asks for: a date range (inclusive), a status, and words that
    must each match the client, the matter's code or name, the number, the caller's name
    or the narrative."""

    start: date | None = None
    end: date | None = None
    status: str | None = None
    text: str = ""


@dataclass(frozen=True)
class HistoryRow:
    """An entry with its call's side of it (none for a manual entry)."""

    entry: EntryRow
    direction: str | None
    number: str | None
    who: str

    @property
    def key(self) -> tuple[date, datetime | None, str]:
        """Where the next page starts (newest first)."""
        return (self.entry.work_date, self.entry.started_utc, self.entry.id)


# ---------------------------------------------------------------------- facades


class CallLog:
    """The calls in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def today(self, day: date | None = None) -> list[CallRow]:
        """The local day's calls (today unless ``day``), newest first, each with its entries."""
        from softclock.store import queries

        with self._store.session() as s:
            calls = queries.today_calls(s, day)
            merged = merged_into(
                s, [c.id for c, entries in calls if not entries and c.disposition == Disposition.ANSWERED]
            )
            return [call_row(c, entries, merged.get(c.id, ())) for c, entries in calls]

    def all(self) -> list[CallRow]:
        """Every call, oldest first."""
        from softclock.store import queries

        with self._store.session() as s:
            return [call_row(c) for c in queries.calls_between(s)]


class MatterCatalog:
    """Matters, clients and the numbers that suggest them."""

    def __init__(self, store: Store, bus: ChangeBus | None = None) -> None:
        self._store = store
        self._bus = bus or ChangeBus()

    def search(self, text: str = "", limit: int = 50) -> list[MatterRow]:
        from softclock.store import queries

        with self._store.session() as s:
            return queries.search_matters(s, text, limit=limit)

    def row(self, matter_id: int) -> MatterRow | None:
        from softclock.store import queries

        with self._store.session() as s:
            return queries.matter_row(s, matter_id)

    def by_code(self, code: str) -> MatterRow | None:
        from sqlalchemy import select

        from softclock.store.models import Matter

        with self._store.session() as s:
            matter_id = s.scalars(select(Matter.id).where(Matter.code == code)).first()
        return self.row(matter_id) if matter_id is not None else None

    def suggestion(self, number: str | None) -> MatterRow | None:
        """The matter a caller's number suggests (their last one, or the mapped one)."""
        from softclock.matching import suggest_matter
        from softclock.store import queries

        if not number:
            return None
        with self._store.session() as s:
            matter = suggest_matter(s, number)
            return queries.matter_row(s, matter.id) if matter else None

    def add(self, code: str, name: str, client: str) -> MatterRow:
        from softclock.store import queries

        with self._store.session() as s, s.begin():
            matter = queries.add_matter(s, code, name, client)
            return MatterRow(matter.id, matter.code, matter.name, client)

    def add_number(self, number: str, client: str, matter_code: str = "") -> str:
        """Map ``number`` to a client (and matter); returns it in E.164."""
        from softclock.store import queries

        with self._store.session() as s, s.begin():
            return queries.add_number(s, number, client, matter_code)

    def import_csv(self, text: str, update: bool = False) -> MatterImport:
        """Import ``code,name,client`` lines in one short transaction; raises InputError naming the line.

        ``update``: a matter that exists already takes the line's name and client (else it is refused)."""
        from softclock.store import queries

        with self._store.session() as s, s.begin():
            return queries.import_matters(s, text, update=update)

    def seed_demo(self) -> None:
        """Two sample matters for a newcomer who has none."""
        from softclock.store import queries

        with self._store.session() as s, s.begin():
            if queries.search_matters(s, "", limit=1):
                return
            queries.add_matter(s, "DEMO-1", "Contract review (sample)", "Demo Client")
            queries.add_matter(s, "DEMO-2", "Lease negotiation (sample)", "Demo Client")


class ReviewService:
    """Drafts, approval, edits, splits, merges and reopening, signed by the acting person.

    Args:
        store: the local store.
        identity: the acting person (``softclock.app.acting_person``).
        base_policy: the firm's billing policy (the central store's, else the settings').
        bus: where each change is announced.
    """

    def __init__(
        self, store: Store, identity: Callable[[], str], base_policy: Callable[[], Policy], bus: ChangeBus | None = None
    ) -> None:
        self._store = store
        self._identity = identity
        self._base_policy = base_policy
        self._bus = bus or ChangeBus()
        self._policies: dict[int | None, Policy] = {}
        self._policies_lock = threading.Lock()

    # ------------------------------------------------------------------ reading

    def drafts(self, limit: int = 200) -> list[DraftRow]:
        """The newest drafts, with the units approval would bill under each matter's policy."""
        from softclock.review import policy_for, units_preview
        from softclock.store import queries

        with self._store.session() as s:
            drafts = queries.review_page(s, EntryStatus.DRAFT, limit=limit)
            base = self._base_policy()
            policies: dict[int | None, Policy] = {}
            for entry in drafts:
                if entry.matter_id not in policies:
                    policies[entry.matter_id] = policy_for(s, base, entry.matter_id)
            preview = units_preview(s, drafts, lambda e: policies[e.matter_id])
            return [DraftRow(entry_row(e), preview[e.id], policies[e.matter_id].increment_min) for e in drafts]

    def entries(self, status: str | None = None) -> list[EntryRow]:
        from softclock.store import queries

        with self._store.session() as s:
            return [entry_row(e, with_call=True) for e in queries.entries(s, status=status)]

    def entry(self, entry_id: str) -> EntryRow | None:
        from softclock.store.models import TimeEntry

        with self._store.session() as s:
            entry = s.get(TimeEntry, entry_id)
            return entry_row(entry) if entry is not None else None

    def policy(self, matter_id: int | None) -> Policy:
        """The policy for ``matter_id`` (the base one when its overrides are refused)."""
        from softclock.review import ReviewError, policy_for

        with self._policies_lock:
            if matter_id in self._policies:
                return self._policies[matter_id]
        base = self._base_policy()
        with self._store.session() as s:
            try:
                policy = policy_for(s, base, matter_id)
            except ReviewError:
                policy = base  # split and approve refuse it themselves, with the reason
        with self._policies_lock:
            self._policies[matter_id] = policy
        return policy

    def base_policy(self) -> Policy:
        """The firm's policy in force, before client and matter overrides (reads the store)."""
        return self._base_policy()

    def forget_policies(self) -> None:
        """Drop the policies read so far (the base policy was changed in the settings)."""
        with self._policies_lock:
            self._policies.clear()

    def known_policy(self, matter_id: int | None) -> Policy | None:
        """The policy for ``matter_id`` if it was read before (no store access: safe on any thread)."""
        with self._policies_lock:
            return self._policies.get(matter_id)

    def piece_units(self, seconds: Sequence[float], matters: Sequence[int | None], billable: bool) -> list[int]:
        """Billed units of split pieces, as ``split`` will set them."""
        from softclock.billing import piece_units

        return piece_units(seconds, [self.policy(m) for m in matters], billable)

    def history(
        self, wanted: HistoryFilter, after: tuple[date, datetime | None, str] | None = None, limit: int = 500
    ) -> list[HistoryRow]:
        """One page of every entry matching ``wanted``, newest first, after the row keyed ``after``.

        Keyset paging on (work date, start, id), walking the work-date index: a page costs
        the same at the millionth row as at the first."""
        from sqlalchemy import and_, or_, select
        from sqlalchemy.orm import joinedload

        from softclock.store.models import Call, Client, Matter, TimeEntry

        stmt = (
            select(TimeEntry, Call.direction, Call.remote_number, Call.display_name)
            .outerjoin(Call, TimeEntry.call_id == Call.id)
            .outerjoin(Matter, TimeEntry.matter_id == Matter.id)
            .outerjoin(Client, Matter.client_id == Client.id)
            .options(joinedload(TimeEntry.matter).joinedload(Matter.client))
            .order_by(TimeEntry.work_date.desc(), TimeEntry.started_utc.desc(), TimeEntry.id.desc())
            .limit(limit)
        )
        if wanted.start is not None:
            stmt = stmt.where(TimeEntry.work_date >= wanted.start)
        if wanted.end is not None:
            stmt = stmt.where(TimeEntry.work_date <= wanted.end)
        if wanted.status:
            stmt = stmt.where(TimeEntry.status == wanted.status)
        for word in wanted.text.split():
            like = f"%{word}%"
            stmt = stmt.where(
                or_(
                    Client.name.like(like),
                    Matter.code.like(like),
                    Matter.name.like(like),
                    Call.remote_number.like(like),
                    Call.display_name.like(like),
                    TimeEntry.narrative.like(like),
                )
            )
        if after is not None:
            day, started, entry_id = after
            stmt = stmt.where(
                or_(
                    TimeEntry.work_date < day,
                    and_(
                        TimeEntry.work_date == day,
                        or_(
                            TimeEntry.started_utc < started,
                            and_(TimeEntry.started_utc == started, TimeEntry.id < entry_id),
                        ),
                    ),
                )
            )
        with self._store.session() as s:
            return [
                HistoryRow(entry_row(e), direction, number, name or number or "")
                for e, direction, number, name in s.execute(stmt).unique()
            ]

    def drafts_for_day(self, day: date) -> list[str]:
        from softclock import review

        with self._store.session() as s:
            return review.drafts_for_day(s, day)

    # ------------------------------------------------------------------ writing

    def _changed(self, *entry_ids: str) -> None:
        with self._policies_lock:
            self._policies.clear()  # a pull may have brought new overrides: read them again
        # One change per action, however many entries it touched (an approval of 1,000 is one refresh).
        self._bus.publish(Change(ChangeKind.ENTRY_CHANGED, entry_id=entry_ids[0] if len(entry_ids) == 1 else ""))

    def _write(self, work: Callable[[Session], T]) -> T:
        from sqlalchemy.exc import OperationalError

        from softclock.errors import StoreError

        try:
            with self._store.session() as s, s.begin():
                return work(s)
        except OperationalError as exc:  # locked past the wait, disk full, read-only: nothing was written
            raise StoreError(f"the store refused the change ({exc.orig}); nothing was changed") from exc

    def approve(self, ids: Sequence[str]) -> Outcome:
        from softclock import review

        actor, policy = self._identity(), self._base_policy()
        outcome: Outcome = self._write(lambda s: review.approve(s, list(ids), actor, policy))
        if outcome.done:
            self._changed(*outcome.done)
        return outcome

    def approve_day(self, day: date) -> Outcome | None:
        """Approve every draft of ``day``; None when there is none."""
        from softclock import review

        actor, policy = self._identity(), self._base_policy()

        def work(s: Session) -> Outcome | None:
            ids = review.drafts_for_day(s, day)
            return review.approve(s, ids, actor, policy) if ids else None

        outcome: Outcome | None = self._write(work)
        if outcome is not None and outcome.done:
            self._changed(*outcome.done)
        return outcome

    def edit(self, entry_id: str, reason: str = "", matter_code: str | None = None, **changes: object) -> EntryRow:
        """Change a draft (narrative, matter, activity_code, task_code, billable, billed_units)."""
        return self.edit_fields(entry_id, reason, changes, matter_code)

    def edit_fields(
        self, entry_id: str, reason: str, changes: dict[str, object], matter_code: str | None = None
    ) -> EntryRow:
        """:meth:`edit` with the changes as a mapping (the Review tab's dialog gives one)."""
        changes = dict(changes)
        from softclock import review

        actor = self._identity()

        def work(s: Session) -> EntryRow:
            if matter_code is not None:
                changes["matter_id"] = _matter_id(s, matter_code)
            return entry_row(review.edit(s, entry_id, actor, reason, **changes))

        row: EntryRow = self._write(work)
        self._changed(row.id)
        return row

    def split(
        self,
        entry_id: str,
        seconds: Sequence[float],
        reason: str = "",
        matters: Sequence[int | None] | None = None,
        matter_codes: Sequence[str] | None = None,
    ) -> list[EntryRow]:
        from softclock import review

        actor, policy = self._identity(), self._base_policy()

        def work(s: Session) -> list[EntryRow]:
            ids = [_matter_id(s, c) for c in matter_codes] if matter_codes else (list(matters) if matters else None)
            return [entry_row(p) for p in review.split(s, entry_id, actor, list(seconds), policy, reason, ids)]

        pieces: list[EntryRow] = self._write(work)
        self._changed(*(p.id for p in pieces))
        return pieces

    def merge(self, ids: Sequence[str], reason: str = "") -> EntryRow:
        from softclock import review

        actor, policy = self._identity(), self._base_policy()
        merged: EntryRow = self._write(lambda s: entry_row(review.merge(s, list(ids), actor, policy, reason)))
        self._changed(merged.id)
        return merged

    def add_manual(
        self,
        started: datetime,
        seconds: float,
        number: str,
        matter_id: int | None,
        narrative: str = "",
        region: str = "US",
    ) -> EntryRow:
        """A call made on a mobile phone, entered by hand: a call record (``manual-...``, no SIP)
        and its draft, flagged "manual" and born in the trail like any captured entry.

        ``started`` is aware (the person's local time); ``number`` is stored in E.164 when it parses."""
        from softclock import outside_calls
        from softclock.errors import InputError
        from softclock.matching import to_e164
        from softclock.store.queries import utc_naive

        if seconds <= 0:
            raise InputError("the duration must be more than 0 seconds")
        if started.tzinfo is None:
            raise InputError("the start needs a time zone")
        actor = self._identity()
        e164 = to_e164(number, region) if number.strip() else None
        call = outside_calls.OutsideCall(
            key=outside_calls.manual_key(),
            account="manual",
            direction="outgoing",
            number=number,
            e164=e164,
            start_utc=utc_naive(started),
            seconds=seconds,
            work_date=started.date(),
            reason="entered by hand",
        )
        why = f"entered by hand: a call on a mobile phone with {e164 or number.strip() or 'an unnamed number'}"

        def work(s: Session) -> EntryRow:
            record, entry = outside_calls.add(s, call, actor, "manual", why, matter_id, narrative)
            return entry_row(entry, record.sip_call_id)

        row = self._write(work)
        self._changed(row.id)
        return row

    def reopen(self, entry_id: str, reason: str) -> EntryRow:
        from softclock import review

        actor = self._identity()
        row: EntryRow = self._write(lambda s: entry_row(review.reopen(s, entry_id, actor, reason)))
        self._changed(row.id)
        return row


def _matter_id(s: Session, code: str) -> int:
    from sqlalchemy import select

    from softclock.review import ReviewError
    from softclock.store.models import Matter

    matter_id = s.scalars(select(Matter.id).where(Matter.code == code)).first()
    if matter_id is None:
        raise ReviewError(f"no matter {code!r}")
    return matter_id


@dataclass
class Facades:
    """The facades of one store, sharing one change channel."""

    calls: CallLog
    matters: MatterCatalog
    review: ReviewService
    bus: ChangeBus


def facades(store: Store, identity: Callable[[], str], base_policy: Callable[[], Policy], bus: ChangeBus) -> Facades:
    return Facades(CallLog(store), MatterCatalog(store, bus), ReviewService(store, identity, base_policy, bus), bus)
