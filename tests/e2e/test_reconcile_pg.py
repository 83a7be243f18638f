"""Reconciliation on a real PostgreSQL central store: the same outcomes as on SQLite for billing, and a
timekeeper's login reconciles only their own calls (row-level security), with the numbers hashed or not."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from softclock.reports.central_reconcile import reconcile
from softclock.sync import admin, calls
from softclock.sync.central import CentralCall, CentralPbxCall
from tests.unit.reports.test_reconcile_db import AS_OF, N1, N2, N3, N4, N6, N9, T, _call, _pbx


@pytest.fixture
def firm(pg_db):  # type: ignore[no-untyped-def]
    installer = create_engine(pg_db.superuser_url())
    admin.init_store(installer)
    sfx = pg_db.name.removeprefix("t_")[:12]
    ann, bo, billing = f"ann_{sfx}", f"bo_{sfx}", f"billing_{sfx}"
    admin.add_timekeeper(installer, admin.NewTimekeeper(ann, "Ann", rate=300.0, extension="201"), "pw")
    admin.add_timekeeper(installer, admin.NewTimekeeper(bo, "Bo", rate=200.0, extension="202"), "pw")
    admin.add_staff(installer, billing, "billing", "pw")
    with installer.begin() as conn:
        key = conn.scalar(text("SELECT value FROM firm_settings WHERE key = 'number_hash_key'"))
        h = calls.number_hash(key, N9)
        conn.execute(
            CentralPbxCall.__table__.insert(),
            [
                _pbx(1, "201", ann, N1, T, 300, callid="X1"),
                _pbx(2, "201", ann, N2, T + timedelta(hours=1), 120),
                _pbx(3, "201", ann, N3, T + timedelta(hours=2), 600),
                _pbx(4, "202", bo, N4, T + timedelta(hours=3), 0, disposition="no-answer"),
                _pbx(5, "299", None, N4, T + timedelta(hours=3), 50),
                _pbx(6, "202", bo, N6, T + timedelta(hours=4), 400),
                _pbx(9, "201", ann, N9, T + timedelta(hours=6), 70, hashed=h),
            ],
        )
        conn.execute(
            CentralCall.__table__.insert(),
            [
                _call("c1", ann, N1, T + timedelta(seconds=2), 298, [["e1", "synced"]], callid="X1"),
                _call("c2", ann, N2, T + timedelta(hours=1, seconds=20), 118, [["e2", "draft"]], callid="other"),
                _call("c6", bo, N6, T + timedelta(hours=4, seconds=30), 100, [["e6", "invoiced"]]),
                _call("c7", ann, N3, T + timedelta(hours=5), 50, []),
                _call("c8", bo, N2, T + timedelta(hours=5), 10, []),
                _call("c9", ann, h, T + timedelta(hours=6, seconds=-40), 69, [["e9", "approved"]], hashed=True),
            ],
        )
    engines = {who: create_engine(pg_db.url(name, "pw")) for who, name in (("ann", ann), ("billing", billing))}
    yield {"ann": ann, "bo": bo}, engines
    for engine in engines.values():
        engine.dispose()
    installer.dispose()


def test_billing_sees_every_outcome_and_a_timekeeper_only_their_own(firm) -> None:  # type: ignore[no-untyped-def]
    names, engines = firm
    jan = (date(2026, 1, 1), date(2026, 1, 31))
    r = reconcile(engines["billing"], *jan, as_of=AS_OF)
    assert (r.pbx_calls, r.app_calls, r.matched, r.matched_by_call_id, r.duration_mismatch) == (7, 6, 4, 1, 1)
    assert (r.pbx_only, r.pbx_only_answered, r.pbx_unmapped, r.app_only) == (3, 2, 1, 2)
    assert [(x.timekeeper_id, x.unlogged_calls, x.pbx_only_calls, x.value) for x in r.leakage] == [
        (names["ann"], 2, 1, Decimal("120.00"))
    ]
    mine = reconcile(engines["ann"], *jan, as_of=AS_OF)
    assert (mine.pbx_calls, mine.app_calls, mine.matched, mine.pbx_only, mine.app_only) == (4, 4, 3, 1, 1)
    assert mine.leakage_value == Decimal("120.00")
