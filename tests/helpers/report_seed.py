"""A small firm's central store for the report tests, every date relative to :data:`AS_OF` (never today).

Ann (London, Litigation, 300/h, extension 201) and Bo (Leeds, Tax, 200/h, extension 202); clients Acme Ltd
(matters M-1 "Acme v Smith", M-2 "Acme lease") and Beta plc (B-1 "Beta tax"). Six-minute units.

Entries (work date, units, raw seconds, status):
  e1 Ann M-1   D-30  5 (0.5 h)  1800  approved             150.00
  e2 Ann M-2   D-31 10 (1.0 h)  3600  approved             300.00
  e3 Ann M-1   D-75  3 (0.3 h)  1080  approved, not billable
  e4 Bo  B-1   D-100 20 (2.0 h) 7200  approved             400.00
  e5 Bo  M-1   D-5   7 (0.7 h)  2520  invoiced             140.00
  e6 Ann none  D-2   1 (0.1 h)   360  approved              30.00
  e7 Bo  B-1   D-70  2 (0.2 h)   720  approved              40.00
Calls (start, talk, entries): c1 Ann T0 1800 s [e1]; c2 Ann T0+1h 120 s []; c3 Ann T0+2h 10 s [];
  c4 Bo T0+3h 600 s [e5 synced]; c5 Bo T0+4h missed; c6 Ann T0+5h 300 s hashed number [e9 draft];
  c7 Ann AS_OF-2d 400 s []. T0 = AS_OF - 20 days.
PBX calls: p1 Ann = c1; p2 Ann T0+6h 240 s answered, only on the PBX; p3 Bo T0+7h unanswered.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from softclock.sync import admin, calls
from softclock.sync.central import CentralCall, CentralPbxCall
from tests.helpers.central_seed import entry_row, insert_entries
from tests.unit.reports.test_reconcile_db import _call as call
from tests.unit.reports.test_reconcile_db import _pbx as pbx

AS_OF = datetime(2026, 4, 1, 12, 0)  # a Wednesday
D = AS_OF.date()
T0 = AS_OF - timedelta(days=20)  # Thursday 12 March 2026, 12:00
N1, N2, N3, N4, N5, N6, N7, NP = (
    "+442079460001",
    "+442079460002",
    "+442079460003",
    "+441130000004",
    "+441130000005",
    "+442079460006",
    "+442079460001",
    "+442079469999",
)


def day(days_before: int) -> date:
    return D - timedelta(days=days_before)


def seed(installer: Engine, ann: str, bo: str, *, password: str | None) -> None:
    """Timekeepers, matters, entries, calls and PBX calls as the module docstring lists them."""
    admin.add_timekeeper(
        installer,
        admin.NewTimekeeper(ann, "Ann", office="London", department="Litigation", rate=300.0, extension="201"),
        password,
    )
    admin.add_timekeeper(
        installer,
        admin.NewTimekeeper(bo, "Bo", office="Leeds", department="Tax", rate=200.0, extension="202"),
        password,
    )
    admin.import_matters(
        installer, "code,name,client\nM-1,Acme v Smith,Acme Ltd\nM-2,Acme lease,Acme Ltd\nB-1,Beta tax,Beta plc\n"
    )
    with installer.begin() as conn:
        _rows(conn, ann, bo)


def _rows(conn: Connection, ann: str, bo: str) -> None:
    insert_entries(
        conn,
        [
            entry_row("e1", ann, "M-1", day(30), 5, raw_seconds=1800, narrative="advice on the Smith claim"),
            entry_row("e2", ann, "M-2", day(31), 10, raw_seconds=3600, narrative="lease terms"),
            entry_row("e3", ann, "M-1", day(75), 3, raw_seconds=1080, billable=False),
            entry_row("e4", bo, "B-1", day(100), 20, raw_seconds=7200, client_name="Beta plc"),
            entry_row("e5", bo, "M-1", day(5), 7, raw_seconds=2520, status="invoiced", narrative="tax on the claim"),
            entry_row("e6", ann, None, day(2), 1, raw_seconds=360),
            entry_row("e7", bo, "B-1", day(70), 2, raw_seconds=720),
        ],
    )
    key = conn.scalar(text("SELECT value FROM firm_settings WHERE key = 'number_hash_key'"))
    hidden = calls.number_hash(str(key), N6)
    hour = timedelta(hours=1)
    conn.execute(
        CentralCall.__table__.insert(),
        [
            call("c1", ann, N1, T0, 1800, [["e1", "synced"]]),
            call("c2", ann, N2, T0 + hour, 120, []),
            call("c3", ann, N3, T0 + 2 * hour, 10, []),
            call("c4", bo, N4, T0 + 3 * hour, 600, [["e5", "synced"]]),
            call("c5", bo, N5, T0 + 4 * hour, 0, []),
            call("c6", ann, hidden, T0 + 5 * hour, 300, [["e9", "draft"]], hashed=True),
            call("c7", ann, N7, AS_OF - timedelta(days=2), 400, []),
        ],
    )
    conn.execute(
        CentralPbxCall.__table__.insert(),
        [
            pbx(1, "201", ann, N1, T0 + timedelta(seconds=3), 1800),
            pbx(2, "201", ann, NP, T0 + 6 * hour, 240),
            pbx(3, "202", bo, N4, T0 + 7 * hour, 0, disposition="no-answer"),
        ],
    )
