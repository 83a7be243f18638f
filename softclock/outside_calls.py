"""Calls this softphone did not carry, made drafts all the same.

Two ways in: a person enters a call made on a mobile phone by hand (flag
``manual``), and the phone system's own records show a call on the person's
extension that no laptop captured, from a desk phone or the PBX's mobile app
(flag ``phone system``: :mod:`softclock.sync.proposals`). Either way the
store gets a call record with no SIP behind it (its ``sip_call_id`` says where
it came from) and a draft born in the audit trail like a captured one, which
waits in the Review tab to be tagged and approved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from softclock import audit
from softclock.states import Disposition
from softclock.store.models import Call, TimeEntry


@dataclass(frozen=True)
class OutsideCall:
    key: str  # the call record's sip_call_id: "manual-<uuid>", "pbx-<dedup key>"
    account: str  # "manual", "pbx"
    direction: str  # "outgoing" | "incoming"
    number: str  # as written, for the URI when it is no E.164 number
    e164: str | None
    start_utc: datetime  # naive UTC: the answer (a PBX's ring time is not billed)
    seconds: float  # talk time
    work_date: date  # the person's local day
    reason: str  # the call record's sip_reason: "entered by hand", "from the phone system"


def add(
    s: Session, call: OutsideCall, actor: str, flag: str, why: str, matter_id: int | None = None, narrative: str = ""
) -> tuple[Call, TimeEntry]:
    """The call record and its draft (in the caller's transaction), the draft flagged ``flag`` and its
    creation in the trail with ``why``."""
    record = Call(
        sip_call_id=call.key,
        direction=call.direction,
        account=call.account,
        remote_uri=f"tel:{call.e164 or call.number.strip()}",
        remote_number=call.e164,
        display_name="",
        invited_utc=call.start_utc,
        answered_utc=call.start_utc,
        ended_utc=call.start_utc + timedelta(seconds=call.seconds),
        talk_seconds=call.seconds,
        ring_seconds=0.0,
        disposition=Disposition.ANSWERED.value,
        sip_reason=call.reason,
    )
    s.add(record)
    s.flush()
    entry = TimeEntry(
        id=str(uuid.uuid4()),
        call_id=record.id,
        timekeeper=actor,
        matter_id=matter_id,
        work_date=call.work_date,
        started_utc=call.start_utc,
        raw_seconds=call.seconds,
        narrative="",
        billable=True,
        flag=flag,
        created_utc=call.start_utc,
        updated_utc=call.start_utc,
    )
    s.add(entry)
    s.flush()
    audit.record(s, actor, "time_entry", entry.id, "created", None, f"{call.seconds:.3f}", why)
    audit.record(s, actor, "time_entry", entry.id, "flag", "", flag, why)
    if narrative:  # born empty like a captured entry; the text is its first change
        audit.record(s, actor, "time_entry", entry.id, "narrative", "", narrative, why)
        entry.narrative = narrative
    return record, entry


def manual_key() -> str:
    return f"manual-{uuid.uuid4()}"
