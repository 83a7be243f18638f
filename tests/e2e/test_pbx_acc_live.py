"""The phone system's own records of real calls, end to end: Kamailio writes its ``acc`` records of two
calls on extension 201, one placed by the laptop through the softphone and one on a desk phone the laptop
never saw. Billing imports the log into a real PostgreSQL central store; reconciliation matches the
laptop's call by its SIP Call-ID, and the desk-phone call comes back to the laptop on its next pull as a
draft flagged "phone system", which approved and pushed is a matched call like any other."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from softclock import events as ev
from softclock import review
from softclock.billing import Policy
from softclock.formatting import utc_now
from softclock.reports.central_reconcile import reconcile
from softclock.store.models import Call, Matter, TimeEntry
from softclock.sync import admin, pbx, proposals
from softclock.sync.service import Sync
from tests.e2e.test_sync_pg import Central
from tests.helpers import sipp
from tests.helpers.harness import PhoneHarness
from tests.helpers.kamailio import Kamailio
from tests.helpers.sipfixtures import require_sip_tools

CLIENT = "+12025550143"  # the laptop calls them
OTHER = "+12025550144"  # the desk phone calls them


def _acc_lines(kam: Kamailio, method: str, count: int, timeout: float = 10.0) -> None:
    """Kamailio writes an acc record when a transaction completes, not when its reply reaches us: wait
    (polling its log file, the only sign there is) until ``count`` records of ``method`` are there."""
    deadline = time.monotonic() + timeout
    while True:
        log = kam.log_path.read_text(errors="replace")
        found = sum(1 for line in log.splitlines() if "ACC: " in line and f"method={method};" in line)
        if found >= count:
            return
        assert time.monotonic() < deadline, f"{found} acc records of {method}, wanted {count}:\n{log[-3000:]}"
        time.sleep(0.05)


@pytest.fixture
def kam(tmp_path_factory):  # type: ignore[no-untyped-def]
    require_sip_tools()
    k = Kamailio(tmp_path_factory.mktemp("kamailio-acc"), {"201": "pw201", CLIENT: "pwc", OTHER: "pwo"}, acc=True)
    k.start()
    yield k
    k.stop()


def test_kamailio_acc_records_reconcile_by_call_id_and_a_desk_phone_call_becomes_a_draft(  # type: ignore[no-untyped-def]
    kam, pg_db, tmp_path: Path
) -> None:
    central = Central(pg_db)
    admin.set_timekeeper(central.installer, central.alice, extension="201")
    admin.set_policy(central.installer, short_call_s=1)  # the calls here talk 2-3 s
    suffix = pg_db.name.removeprefix("t_")[:12]
    admin.add_staff(central.installer, f"admin_{suffix}", "admin", "pw-admin")
    staff = create_engine(pg_db.url(f"admin_{suffix}", "pw-admin"))
    billing = central.engine_as(central.billing, "pw-billing")

    phone = PhoneHarness(tmp_path / "data")
    sync = Sync(phone.store, central.login(central.alice, "pw-alice"), "alice")
    try:
        # 1. The laptop (extension 201) calls a client through the PBX: 2 s of talk.
        phone.account(kam, user="201", password="pw201")
        phone.registered()
        with sipp.uas(kam, CLIENT, "pwc", talk_ms=2000) as far:
            phone.engine.make_call(f"sip:{CLIENT}@{kam.domain}")
            ended = phone.wait_for(ev.CallEnded)
            assert far.wait(10) == 0
        with phone.store.session() as s:
            laptop_call_id = s.scalars(select(Call.sip_call_id)).one()
        assert laptop_call_id == ended.call_id
        # 2. The same person on their desk phone (extension 201, not this laptop): 3 s with another client.
        with sipp.uas(kam, OTHER, "pwo", hangup="remote") as far:
            with sipp.uac(
                kam, OTHER, talk_ms=3000, from_user="201", from_domain="desk.test", display_name=None
            ) as desk:
                assert desk.wait(15) == 0
            assert far.wait(15) == 0
        _acc_lines(kam, "INVITE", 2)
        _acc_lines(kam, "BYE", 2)

        sync.once()  # the laptop's call reaches the central store; nothing imported yet, nothing proposed
        with phone.store.session() as s:
            assert s.scalar(select(TimeEntry).where(TimeEntry.flag == proposals.FLAG)) is None

        # 3. Billing imports the PBX's records of the day.
        imported = pbx.import_file(staff, kam.log_path, "kamailio-acc")
        assert (imported.read, imported.added, imported.mapped) == (2, 2, 2)
        today = utc_now().date()
        first = reconcile(billing, today - timedelta(days=1), today + timedelta(days=1), as_of=utc_now())
        assert (first.pbx_calls, first.app_calls) == (2, 1)
        assert (first.matched_by_call_id, first.matched_by_number, first.pbx_only_answered) == (1, 0, 1)
        with billing.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM pbx_calls WHERE sip_call_id = :c"), {"c": laptop_call_id})

        # 4. The laptop's next pull proposes the desk-phone call as a draft, once.
        report = sync.once()
        assert report.pull is not None and report.pull.rows.get("phone-system calls") == 1
        with phone.store.session() as s:
            entry = s.scalars(select(TimeEntry).where(TimeEntry.flag == proposals.FLAG)).one()
            call = s.get(Call, entry.call_id)
            assert call is not None
            assert (call.remote_number, call.direction, call.account) == (OTHER, "outgoing", "pbx")
            assert 2 <= entry.raw_seconds <= 4 and entry.status == "draft" and entry.timekeeper == "alice"
            proposed_id = entry.id
        assert sync.once().pull.rows.get("phone-system calls") is None  # type: ignore[union-attr]

        # 5. Tagged and approved, it is pushed and reconciles as the laptop's own call.
        with phone.store.session() as s, s.begin():
            matter = s.scalars(select(Matter.id).where(Matter.code == "M-1")).one()  # pulled from the firm
            review.edit(s, proposed_id, "alice", "tagged", matter_id=matter)
            assert review.approve(s, [proposed_id], "alice", Policy(short_call_s=1)).done == [proposed_id]
        sync.once()
        after = reconcile(billing, today - timedelta(days=1), today + timedelta(days=1), as_of=utc_now())
        assert (after.matched_by_call_id, after.matched_by_number, after.pbx_only) == (1, 1, 0)
    finally:
        phone.close()
        sync.close()
        staff.dispose()
        billing.dispose()
        central.close()
