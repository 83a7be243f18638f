"""PBX-only calls proposed as drafts on the timekeeper's laptop, on a real SQLite central store built by hand
(the reconciliation's own fixture: nothing here depends on the wall clock)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from softclock import audit
from softclock.store.db import open_memory_store
from softclock.store.models import AuditEvent, Call, TimeEntry
from softclock.sync import proposals
from softclock.sync.central import CentralPbxCall
from tests.unit.reports.test_reconcile_db import AS_OF, N3, T, _pbx, store  # noqa: F401


def _drafts(local) -> list[tuple[str | None, float, str, str]]:  # type: ignore[no-untyped-def]
    with local.session() as s:
        rows = s.execute(
            select(Call.remote_number, TimeEntry.raw_seconds, TimeEntry.flag, TimeEntry.timekeeper)
            .join(TimeEntry, TimeEntry.call_id == Call.id)
            .order_by(Call.invited_utc)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_an_answered_pbx_only_call_becomes_one_draft_for_its_timekeeper_only(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    central, _ = store
    ann, bo = open_memory_store(), open_memory_store()
    # Ann: p3 (600 s on her desk phone) is PBX only; p2 is matched by number, p9 by its hash.
    assert proposals.pull_proposals(ann, central, "ann", "Ann Smith", AS_OF) == 1
    assert _drafts(ann) == [(N3, 600.0, "phone system", "Ann Smith")]
    with ann.session() as s:
        entry = s.scalars(select(TimeEntry)).one()
        assert entry.status == "draft" and entry.matter_id is None and entry.started_utc == T + timedelta(hours=2)
        reasons = set(s.scalars(select(AuditEvent.reason).where(AuditEvent.entity_id == entry.id)))
        assert audit.verify(s).ok
    why = f"from the phone system: a call on extension 201 with {N3} that no laptop captured (asterisk record 3)"
    assert reasons == {why}
    # Once: the same import is not looked at again, and the call is not proposed twice.
    assert proposals.pull_proposals(ann, central, "ann", "Ann Smith", AS_OF) == 0
    # Bo's PBX-only call was not answered; reception's (no timekeeper's extension) is nobody's.
    assert proposals.pull_proposals(bo, central, "bo", "Bo", AS_OF) == 0
    assert _drafts(bo) == []


def test_a_later_import_proposes_only_its_own_new_calls(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    central, _ = store
    ann = open_memory_store()
    assert proposals.pull_proposals(ann, central, "ann", "Ann", AS_OF) == 1
    later = AS_OF + timedelta(days=1)
    short, long = (
        _pbx(20, "201", "ann", "+12025550199", T + timedelta(days=2), 20),
        _pbx(21, "201", "ann", "+12025550198", T + timedelta(days=2, hours=1), 95),
    )
    with central.begin() as conn:
        conn.execute(
            CentralPbxCall.__table__.insert(), [{**short, "imported_utc": later}, {**long, "imported_utc": later}]
        )
    # The 20 s call is under the firm's 30 s short-call threshold: only the 95 s one is proposed.
    assert proposals.pull_proposals(ann, central, "ann", "Ann", later) == 1
    assert [d[:2] for d in _drafts(ann)] == [(N3, 600.0), ("+12025550198", 95.0)]
