"""Calls the phone system saw and no laptop did, proposed as drafts on the person's own laptop.

When billing imports the PBX's records (``softclock admin import-cdr``), an
answered call on a timekeeper's extension that matches none of the calls the
laptops pushed was taken on another device: a desk phone, the PBX's mobile
app. Its time is not lost: on the next pull, the timekeeper's laptop runs the
reconciliation over the newly imported records with its own login (row-level
security shows it only its own), and each such call of at least the short-call
threshold becomes a draft flagged "phone system" that waits in the Review tab
to be tagged and approved like any other.

Once: a proposed call is keyed ``pbx-<dedup key>`` in the local store, and a
watermark (the newest import seen) keeps a pull from looking at the same
import again. Our own calls are pushed before the pull, so they are matched,
not proposed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from softclock import outside_calls
from softclock.reports.central_reconcile import reconcile
from softclock.states import Disposition
from softclock.store.db import Store
from softclock.store.models import Call
from softclock.sync import state
from softclock.sync.central import CentralPbxCall

log = logging.getLogger(__name__)

SEEN = "pbx_imported_seen_utc"
FLAG = "phone system"


def pull_proposals(store: Store, central: Engine, identity: str, timekeeper: str, now: datetime) -> int:
    """Propose this timekeeper's PBX-only answered calls imported since the last look; how many were new."""
    p = CentralPbxCall.__table__.c
    with store.session() as s:
        seen = state.get(s, SEEN)
    with central.connect() as conn:
        since = datetime.fromisoformat(seen) if seen else datetime.min
        newest, first, last = conn.execute(
            select(func.max(p.imported_utc), func.min(p.start_utc), func.max(p.start_utc)).where(
                p.imported_utc > since, p.timekeeper_id == identity
            )
        ).one()
    if newest is None:
        return 0
    as_of = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    result = reconcile(central, first.date(), last.date(), as_of=as_of, samples=1_000_000)
    wanted = [
        int(row["pbx_call"])
        for row in result.samples.get("pbx_only", [])
        if row["timekeeper_id"] == identity
        and row["disposition"] == Disposition.ANSWERED
        and (row["talk_s"] or 0) >= result.short_call_s
    ]
    details = []
    if wanted:
        with central.connect() as conn:
            details = list(
                conn.execute(select(CentralPbxCall.__table__).where(p.id.in_(wanted)).order_by(p.start_utc)).mappings()
            )
    added = 0
    with store.session() as s, s.begin():
        keys = [f"pbx-{row['dedup_key']}" for row in details]
        have = set(s.scalars(select(Call.sip_call_id).where(Call.sip_call_id.in_(keys)))) if keys else set()
        for row, key in zip(details, keys, strict=True):
            if key in have:
                continue
            outbound = row["direction"] == "outbound"
            number = row["remote_e164"] or (row["callee"] if outbound else row["caller"]) or ""
            start = row["answer_utc"] or row["start_utc"]
            call = outside_calls.OutsideCall(
                key=key,
                account="pbx",
                direction="outgoing" if outbound else "incoming",
                number=number,
                e164=row["remote_e164"],
                start_utc=start,
                seconds=float(row["billsec"] or 0),
                work_date=start.replace(tzinfo=UTC).astimezone().date(),
                reason="from the phone system",
            )
            where = f"extension {row['extension']}" if row["extension"] else "another device"
            why = (
                f"from the phone system: a call on {where} with {number or 'an unnamed number'} "
                f"that no laptop captured ({row['source_format']} record {row['id']})"
            )
            outside_calls.add(s, call, timekeeper, FLAG, why)
            added += 1
        state.put(s, SEEN, newest.isoformat())
    if added:
        log.info("proposed %d call(s) from the phone system as drafts", added)
    return added
