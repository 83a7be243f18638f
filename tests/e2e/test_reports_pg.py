"""The reports on a real PostgreSQL central store, with real login roles: billing sees the firm, a
timekeeper's login only their own (row-level security, nothing filtered in Python). Expected values are
worked out by hand from tests/helpers/report_seed.py; every date is relative to its AS_OF."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as Dec

import pytest
from sqlalchemy import create_engine

from softclock.errors import InputError
from softclock.reports.central_reports import run_report
from softclock.reports.model import ReportRequest
from softclock.sync import admin
from tests.helpers.report_seed import AS_OF, N1, N2, T0, day, seed

YEAR = (date(2025, 12, 1), AS_OF.date())


@pytest.fixture
def firm(pg_db):  # type: ignore[no-untyped-def]
    installer = create_engine(pg_db.superuser_url())
    admin.init_store(installer)
    sfx = pg_db.name.removeprefix("t_")[:12]
    ann, bo, billing = f"ann_{sfx}", f"bo_{sfx}", f"billing_{sfx}"
    seed(installer, ann, bo, password="pw")
    admin.add_staff(installer, billing, "billing", "pw")
    engines = {who: create_engine(pg_db.url(name, "pw")) for who, name in (("ann", ann), ("billing", billing))}
    yield engines
    for engine in engines.values():
        engine.dispose()
    installer.dispose()


def ask(name: str, start: date = YEAR[0], end: date = YEAR[1], **kw: object) -> ReportRequest:
    return ReportRequest(name, start, end, **{"as_of": AS_OF, **kw})  # type: ignore[arg-type]


def test_time_by_timekeeper_and_by_office_and_month(firm) -> None:  # type: ignore[no-untyped-def]
    r = run_report(firm["billing"], ask("time"))
    assert [c.key for c in r.columns] == ["timekeeper", "entries", "raw_hours", "billed_hours", "value"]
    # Ann: e1 e2 e3 e6, raw 0.5+1.0+0.3+0.1; billed without e3 (not billable): 1.6 h x 300.
    # Bo: e4 e5 e7, 2.0+0.7+0.2 h x 200 (invoiced time counts).
    assert r.rows == (
        ("Ann", 4, Dec("1.90"), Dec("1.60"), Dec("480.00")),
        ("Bo", 3, Dec("2.90"), Dec("2.90"), Dec("580.00")),
    )
    assert r.totals == (None, 7, Dec("4.80"), Dec("4.50"), Dec("1060.00"))
    r = run_report(firm["billing"], ask("time", by=("office", "month")))
    assert r.rows == (
        ("Leeds", date(2025, 12, 1), 1, Dec("2.00"), Dec("2.00"), Dec("400.00")),
        ("Leeds", date(2026, 1, 1), 1, Dec("0.20"), Dec("0.20"), Dec("40.00")),
        ("Leeds", date(2026, 3, 1), 1, Dec("0.70"), Dec("0.70"), Dec("140.00")),
        ("London", date(2026, 1, 1), 1, Dec("0.30"), Dec("0.00"), Dec("0.00")),
        ("London", date(2026, 3, 1), 3, Dec("1.60"), Dec("1.60"), Dec("480.00")),
    )
    r = run_report(firm["billing"], ask("time", by=("matter",), client=("Acme Ltd",)))
    assert r.rows == (
        ("M-1", "Acme v Smith", 3, Dec("1.50"), Dec("1.20"), Dec("290.00")),
        ("M-2", "Acme lease", 1, Dec("1.00"), Dec("1.00"), Dec("300.00")),
    )
    r = run_report(firm["billing"], ask("time", by=("department", "week"), department=("Tax",)))
    assert [row[:2] for row in r.rows] == [
        ("Tax", date(2025, 12, 22)),
        ("Tax", date(2026, 1, 19)),
        ("Tax", date(2026, 3, 23)),
    ]


def test_a_timekeeper_login_sees_only_their_own(firm) -> None:  # type: ignore[no-untyped-def]
    assert run_report(firm["ann"], ask("time")).rows == (("Ann", 4, Dec("1.90"), Dec("1.60"), Dec("480.00")),)
    # asking for someone else's time by name gives nothing: the database hides Bo's rows
    assert run_report(firm["ann"], ask("time", timekeeper=("Bo",))).rows == ()
    calls = run_report(firm["ann"], ask("calls"))
    assert {row[0] for row in calls.rows} == {"Ann"} and len(calls.rows) == 5
    unbilled = run_report(firm["ann"], ask("unbilled"))
    assert [row[:2] for row in unbilled.rows] == [("", ""), ("Acme Ltd", "M-1"), ("Acme Ltd", "M-2")]
    leak = run_report(firm["ann"], ask("leakage"))
    assert leak.rows == (("Ann", 2, 1, Dec("0.30"), Dec("90.00")),)
    chart = run_report(firm["ann"], ask("hours-chart", date(2026, 3, 1), AS_OF.date()))
    assert {row[0] for row in chart.rows} == {"Ann"}


def test_unbilled_by_client_and_matter_aged_from_as_of(firm) -> None:  # type: ignore[no-untyped-def]
    r = run_report(firm["billing"], ask("unbilled"))
    assert [c.key for c in r.columns] == [
        "client", "matter", "matter_name", "entries", "hours", "value",
        "age_0_30", "age_31_60", "age_61_90", "age_over_90",
    ]  # fmt: skip
    z = Dec("0.00")
    # e6 (no matter) 2 days old; e1 exactly 30 days; e2 31 days; e7 70 and e4 100 days; e3 not billable, e5 invoiced
    assert r.rows == (
        ("", "", "", 1, Dec("0.10"), Dec("30.00"), Dec("30.00"), z, z, z),
        ("Acme Ltd", "M-1", "Acme v Smith", 1, Dec("0.50"), Dec("150.00"), Dec("150.00"), z, z, z),
        ("Acme Ltd", "M-2", "Acme lease", 1, Dec("1.00"), Dec("300.00"), z, Dec("300.00"), z, z),
        ("Beta plc", "B-1", "Beta tax", 2, Dec("2.20"), Dec("440.00"), z, z, Dec("40.00"), Dec("400.00")),
    )
    assert r.totals == (None, None, None, 5, Dec("3.80"), Dec("920.00"), Dec("180.00"), Dec("300.00"), Dec("40.00"), Dec("400.00"))  # fmt: skip
    # a day later e1 is 31 days old
    later = run_report(firm["billing"], ask("unbilled", by=("client",), as_of=AS_OF + timedelta(days=1)))
    assert later.rows[1] == ("Acme Ltd", 2, Dec("1.50"), Dec("450.00"), z, Dec("450.00"), z, z)


def test_call_history_with_entries_filters_search_and_limit(firm) -> None:  # type: ignore[no-untyped-def]
    start = T0.date()
    r = run_report(firm["billing"], ask("calls", start, AS_OF.date()))
    assert [c.key for c in r.columns][:7] == [
        "timekeeper", "started", "direction", "number", "disposition", "talk_s", "entry_status",
    ]  # fmt: skip
    assert [(row[0], row[3], row[5], row[6]) for row in r.rows] == [
        ("Ann", N1, 1800, "approved"),
        ("Ann", N2, 120, "none"),
        ("Ann", "+442079460003", 10, "none"),
        ("Ann", "(hidden)", 300, "draft"),
        ("Ann", N1, 400, "none"),
        ("Bo", "+441130000004", 600, "invoiced"),
        ("Bo", "+441130000005", 0, "none"),
    ]
    assert r.rows[0][1] == T0 and r.rows[0][7:] == ("Acme Ltd", "M-1", Dec("0.50"), "advice on the Smith claim")
    assert r.rows[3][7:] == ("", "", None, "") and not r.truncated
    first = run_report(firm["billing"], ask("calls", start, AS_OF.date(), limit=3))
    assert first.truncated and first.rows == r.rows[:3]

    def numbers(**kw: object) -> list[object]:
        return [row[3] for row in run_report(firm["billing"], ask("calls", start, AS_OF.date(), **kw)).rows]

    assert numbers(search="+44 20 7946 0002") == [N2]
    assert numbers(search="SMITH") == [N1, "+441130000004"]  # the matter's name and a narrative
    assert numbers(search="100%") == []
    assert numbers(matter=("M-1",)) == [N1, "+441130000004"]
    assert numbers(client=("Beta plc",)) == []
    assert numbers(department=("Tax",), office=("Leeds",)) == ["+441130000004", "+441130000005"]
    assert numbers(timekeeper=("Bo",)) == numbers(department=("Tax",))


def test_leakage_and_reconciliation(firm) -> None:  # type: ignore[no-untyped-def]
    # c2 (120 s) and c6 (300 s) have no approved entry after 7 days; c7 is 2 days old; p2 (240 s) only on the
    # PBX: a six-minute unit each, rounded up: 0.3 h at 300
    r = run_report(firm["billing"], ask("leakage"))
    assert r.rows == (("Ann", 2, 1, Dec("0.30"), Dec("90.00")),)
    assert r.totals == (None, 2, 1, Dec("0.30"), Dec("90.00"))
    assert run_report(firm["billing"], ask("leakage", department=("Tax",))).rows == ()
    # 30 days after: c7 leaks too (400 s: 2 units): 0.5 h
    late = run_report(firm["billing"], ask("leakage", as_of=AS_OF + timedelta(days=30)))
    assert late.rows == (("Ann", 3, 1, Dec("0.50"), Dec("150.00")),)
    rec = run_report(firm["billing"], ask("reconciliation", T0.date(), AS_OF.date()))
    counts = {row[0]: (row[1], row[2]) for row in rec.rows if row[3] is None}
    assert counts["PBX calls"] == (3, None) and counts["Laptop calls"] == (7, None)
    assert counts["Matched"] == (1, None) and counts["PBX only"] == (2, None) and counts["Laptop only"] == (6, None)
    assert counts["Leaking calls"] == (3, None) and counts["Leakage value"] == (None, Dec("90.00"))
    behind = [(row[0], row[5]) for row in rec.rows if row[3] is not None]
    assert ("Phone system only call", "+442079469999") in behind and ("Call without time", N2) in behind
    mine = run_report(firm["ann"], ask("reconciliation", T0.date(), AS_OF.date()))
    mine_counts = {row[0]: row[1] for row in mine.rows if row[3] is None}
    assert (mine_counts["PBX calls"], mine_counts["Laptop calls"]) == (2, 5)


def test_hours_chart_by_timekeeper_and_week(firm) -> None:  # type: ignore[no-untyped-def]
    r = run_report(firm["billing"], ask("hours-chart", date(2026, 3, 1), AS_OF.date()))
    z = Dec("0.00")
    # Ann's week of 9 March: c1 1800 + c2 120 + c3 10 + c6 300 s captured, c2 + c6 unlogged; e2 (Sunday 1 March)
    # counts in the week of 23 February; c7 and e6 on Monday 30 March
    assert r.rows == (
        ("Ann", date(2026, 2, 23), z, Dec("1.00"), z),
        ("Ann", date(2026, 3, 2), z, Dec("0.50"), z),
        ("Ann", date(2026, 3, 9), Dec("0.62"), z, Dec("0.12")),
        ("Ann", date(2026, 3, 30), Dec("0.11"), Dec("0.10"), Dec("0.11")),
        ("Bo", date(2026, 3, 9), Dec("0.17"), z, z),
        ("Bo", date(2026, 3, 23), z, Dec("0.70"), z),
    )
    assert r.totals == (None, None, Dec("0.90"), Dec("2.30"), Dec("0.23"))
    assert r.chart is not None and r.chart.categories[2] == "Ann, week of 2026-03-09"
    assert [s.name for s in r.chart.series] == ["Captured", "Approved", "Unlogged"]
    assert r.chart.series[1].values == (1.0, 0.5, 0.0, 0.1, 0.0, 0.7)


def test_bad_requests_are_sentences(firm) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="cannot be grouped by client: it is not grouped"):
        run_report(firm["billing"], ask("calls", by=("client",)))
    with pytest.raises(InputError, match="There is no report 'nope'"):
        run_report(firm["billing"], ask("nope"))
    with pytest.raises(InputError, match="starts .* after it ends"):
        run_report(firm["billing"], ask("time", day(1), day(5)))
