"""Reconciliation of PBX records against pushed calls on a real SQLite central store: every outcome with
its count, built by hand (as_of is given: nothing here depends on the wall clock)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from softclock.cli.main import main
from softclock.reports.central_reconcile import reconcile
from softclock.sync import admin, calls
from softclock.sync.central import CentralCall, CentralPbxCall

T = datetime(2026, 1, 12, 14, 0)
AS_OF = datetime(2026, 2, 1, 12, 0)
N1, N2, N3, N4, N6, N9 = (f"+1202555{n:04d}" for n in (143, 100, 111, 122, 166, 155))


def _pbx(
    i: int,
    ext: str,
    tk: str | None,
    number: str | None,
    start: datetime,
    billsec: int,
    *,
    callid=None,
    disposition="answered",
    hashed=None,
) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "dedup_key": f"k{i}",
        "source_format": "asterisk",
        "source_file": "Master.csv",
        "source_line": i,
        "start_utc": start,
        "answer_utc": start if billsec else None,
        "end_utc": start + timedelta(seconds=billsec),
        "duration_s": billsec,
        "billsec": billsec,
        "caller": ext,
        "callee": number or "",
        "remote_e164": number,
        "extension": ext,
        "direction": "outbound",
        "disposition": disposition,
        "sip_call_id": callid,
        "pbx_unique_id": None,
        "timekeeper_id": tk,
        "imported_utc": AS_OF,
        "remote_hash": hashed,
    }


def _call(
    cid: str,
    tk: str,
    number: str,
    start: datetime,
    talk: float,
    entries: list,
    *,
    callid: str = "",
    hashed: bool = False,
) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return {
        "id": cid,
        "version": 1,
        "content_hash": "x" * 64,
        "timekeeper_id": tk,
        "direction": "outgoing",
        "remote_number": number,
        "number_hashed": hashed,
        "start_utc": start,
        "answer_utc": start,
        "end_utc": start + timedelta(seconds=talk),
        "ring_seconds": 3.0,
        "talk_seconds": talk,
        "hold_seconds": 0.0,
        "disposition": "answered" if talk else "missed",
        "sip_call_id": callid,
        "recovered": False,
        "entries_json": json.dumps(entries),
        "pushed_utc": AS_OF,
    }


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine = create_engine(url)
    admin.init_store(engine)
    admin.add_timekeeper(engine, admin.NewTimekeeper("ann", "Ann", rate=300.0, extension="201"), None)
    admin.add_timekeeper(engine, admin.NewTimekeeper("bo", "Bo", rate=200.0, extension="202"), None)
    with engine.begin() as conn:
        key = conn.scalar(text("SELECT value FROM firm_settings WHERE key = 'number_hash_key'"))
        h = calls.number_hash(key, N9)
        conn.execute(
            CentralPbxCall.__table__.insert(),
            [
                _pbx(1, "201", "ann", N1, T, 300, callid="X1"),
                _pbx(2, "201", "ann", N2, T + timedelta(hours=1), 120),
                _pbx(3, "201", "ann", N3, T + timedelta(hours=2), 600),  # desk phone: PBX only, leaks
                _pbx(4, "202", "bo", N4, T + timedelta(hours=3), 0, disposition="no-answer"),
                _pbx(5, "299", None, N4, T + timedelta(hours=3), 50),  # reception: no timekeeper's
                _pbx(6, "202", "bo", N6, T + timedelta(hours=4), 400),
                _pbx(9, "201", "ann", N9, T + timedelta(hours=6), 70, hashed=h),
            ],
        )
        conn.execute(
            CentralCall.__table__.insert(),
            [
                _call("c1", "ann", N1, T + timedelta(seconds=2), 298, [["e1", "synced"]], callid="X1"),
                _call("c2", "ann", N2, T + timedelta(hours=1, seconds=20), 118, [["e2", "draft"]], callid="other"),
                _call("c6", "bo", N6, T + timedelta(hours=4, seconds=30), 100, [["e6", "invoiced"]]),
                _call("c7", "ann", N3, T + timedelta(hours=5), 50, []),  # laptop only, never logged
                _call("c8", "bo", N2, T + timedelta(hours=5), 10, []),  # laptop only, short
                _call("c9", "ann", h, T + timedelta(hours=6, seconds=-40), 69, [["e9", "approved"]], hashed=True),
            ],
        )
    yield engine, url
    engine.dispose()


def test_every_outcome_is_counted(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    r = reconcile(engine, date(2026, 1, 1), date(2026, 1, 31), as_of=AS_OF, tolerance_s=120, leak_days=7)
    assert (r.pbx_calls, r.app_calls) == (7, 6)
    assert (r.matched, r.matched_by_call_id, r.matched_by_number, r.duration_mismatch) == (4, 1, 3, 1)
    assert (r.pbx_only, r.pbx_only_answered, r.pbx_unmapped) == (3, 2, 1)
    assert r.app_only == 2
    # Ann: c2 (a draft) and c7 (nothing) unlogged, 1 unit of 6 min each; p3 600 s on her desk phone: 2 units.
    assert [(x.timekeeper_id, x.unlogged_calls, x.pbx_only_calls, x.hours, x.value) for x in r.leakage] == [
        ("ann", 2, 1, Decimal("0.40"), Decimal("120.00"))
    ]
    assert (r.leakage_calls, r.leakage_value) == (3, Decimal("120.00"))
    assert {s["pbx_call"] for s in r.samples["pbx_only"]} == {3, 4, 5}
    assert {s["call"] for s in r.samples["app_only"]} == {"c7", "c8"}
    assert {s["call"] for s in r.samples["unlogged"]} == {"c2", "c7"}


def test_a_tighter_tolerance_and_a_later_judgement(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    r = reconcile(engine, date(2026, 1, 1), date(2026, 1, 31), as_of=AS_OF, tolerance_s=10)
    assert (r.matched_by_call_id, r.matched_by_number) == (1, 0)  # 20 s, 30 s and 40 s apart: no longer
    early = reconcile(engine, date(2026, 1, 1), date(2026, 1, 31), as_of=T + timedelta(days=1), leak_days=7)
    assert [(x.unlogged_calls, x.pbx_only_calls) for x in early.leakage] == [(0, 1)]  # too soon to judge the laptop


def test_the_command_line_report(store, capsys) -> None:  # type: ignore[no-untyped-def]
    _, url = store
    argv = ["report", "reconciliation", "--url", url, "--from", "2026-01-01", "--to", "2026-01-31", "--days", "7"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["matched"], data["pbx_only"], data["app_only"], data["leakage_value"]) == (4, 3, 2, "120.00")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "matched                       4" in out and "PBX only                      3" in out
