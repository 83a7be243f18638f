#!/usr/bin/env python3
"""Benchmark: the central store's PBX import and reconciliation (issue 11).

Run from the project root::

    .venv/bin/python bench/reports.py [--records 1000000] [--only import,reconcile] [--sqlite]

It starts its own throwaway PostgreSQL cluster on 127.0.0.1 (tests/helpers/pgcluster.py)
and, in the same run:

1. **import**: writes an Asterisk ``Master.csv`` of ``--records`` calls (bench/cdr_parse.py's
   generator: 18 columns, local New York times across a year, a third with a Call-ID in the
   userfield, 300 extensions of which 250 are timekeepers') and times
   ``softclock.sync.pbx.import_file`` as an admin login (a child process parses and writes COPY
   text; rounds of COPY into a temporary table + ``INSERT ... ON CONFLICT DO NOTHING`` into the
   indexed ``pbx_calls`` overlap with it; one transaction; aim: under 30 s); then the same file again (everything already there).
   Beside it: the parse alone, and a bare ``COPY`` of the same rows, already built as
   tuples, into an unindexed copy of the table (the floor a database import can reach).
   With ``--sqlite``, the same on an SQLite central store beside a bare ``executemany``.
2. **reconcile**: ``--records`` PBX calls and as many laptop calls generated in SQL (90 % of them
   the PBX's calls, a third with the same Call-ID, starts up to 59 s apart; 10 % laptop only; 250
   timekeepers, 20,000 numbers), reconciled by ``softclock.reports.central_reconcile`` as a billing
   login (row-level security on; aim: under 60 s), beside the bare SQL of its two candidate joins.
3. **reports**: a 1,000-lawyer firm's year generated in SQL (``--calls`` 2,500,000 calls, ``--entries``
   1,500,000 entries of which 70 % invoiced, ``--matters`` 100,000 matters of 20,000 clients, 1,000
   timekeepers in 10 offices and 20 departments, ``--pbx`` 1,000,000 PBX calls), then each report of
   ``softclock.reports.central_reports`` run as a billing login (row-level security on) for a month and
   for the year, beside a bare SQL baseline of the same query in the same run: the very statements the
   report sent (recorded from SQLAlchemy's cursor events) replayed on the driver's cursor, rows fetched,
   nothing built from them (aim: under 1 s each).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for p in (str(ROOT), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.helpers.keyring_backend.MemoryKeyring")

from cdr_parse import write_master_csv  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from softclock.formatting import utc_now  # noqa: E402
from softclock.reports import cdr  # noqa: E402
from softclock.sync import admin, pbx  # noqa: E402
from tests.helpers.pgcluster import PgCluster  # noqa: E402
from tests.helpers.tlsca import make_test_ca  # noqa: E402

ZONE = "America/New_York"


def load() -> str:
    try:
        return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load ?"


def timekeepers(engine, n: int = 250, password: str | None = "pw") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        admin.add_timekeeper(
            engine,
            admin.NewTimekeeper(f"tk{200 + i}", f"Keeper {200 + i}", rate=300.0, extension=str(200 + i)),
            password if engine.dialect.name == "postgresql" else None,
        )


def built_rows(path: Path) -> list[tuple[object, ...]]:
    counts = [0, 0]
    calls = cdr.parse_file(path, "asterisk", timezone=ZONE, region="US")
    return list(pbx.rows(calls, str(path), {str(200 + i): f"tk{200 + i}" for i in range(250)}, utc_now(), counts))


def note(figures: list[tuple[str, str]], name: str, value: str) -> None:
    figures.append((name, value))
    print(f"#  {name:<50} {value}", file=sys.stderr, flush=True)


def bench_import(work: Path, records: int, cluster: PgCluster | None, sqlite: bool) -> list[tuple[str, str]]:
    figures: list[tuple[str, str]] = []
    master = work / "Master.csv"
    t0 = time.perf_counter()
    write_master_csv(master, records, 20_000, ZoneInfo(ZONE))
    print(f"# wrote {records:,} Asterisk records in {time.perf_counter() - t0:.1f} s ({load()})", file=sys.stderr)

    t0 = time.perf_counter()
    parsed = sum(1 for _ in cdr.parse_file(master, "asterisk", timezone=ZONE, region="US"))
    note(figures, *("parse only (cdr.parse_file)", f"{time.perf_counter() - t0:6.1f} s  {parsed:,} calls"))
    rows = built_rows(master)
    cols = ", ".join(pbx.COLUMNS)

    if cluster is not None:
        db = cluster.create_database("bench_import")
        installer = create_engine(cluster.superuser_url(db))
        admin.init_store(installer)
        timekeepers(installer)
        admin.add_staff(installer, "bench_admin", "admin", "pw")
        engine = create_engine(cluster.url("bench_admin", "pw", db))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        t0 = time.perf_counter()
        result = pbx.import_file(engine, master, "asterisk", timezone=ZONE)
        t = time.perf_counter() - t0
        note(
            figures,
            *(
                "PostgreSQL import-cdr (parse+COPY+insert)",
                f"{t:6.1f} s  {result.added:,} added ({result.read / t:,.0f}/s)",
            ),
        )
        t0 = time.perf_counter()
        again = pbx.import_file(engine, master, "asterisk", timezone=ZONE)
        note(figures, *("PostgreSQL same file again", f"{time.perf_counter() - t0:6.1f} s  {again.added:,} added"))
        with installer.begin() as conn:
            conn.execute(text(f"CREATE TABLE bare_pbx AS SELECT {cols} FROM pbx_calls WITH NO DATA"))
        with installer.begin() as conn:
            raw = conn.connection.driver_connection
            t0 = time.perf_counter()
            with raw.cursor() as cur, cur.copy(f"COPY bare_pbx ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            t = time.perf_counter() - t0
        note(figures, *("PostgreSQL bare COPY of built rows (no index)", f"{t:6.1f} s  {len(rows):,} rows"))
        engine.dispose()
        installer.dispose()

    if sqlite:
        url = f"sqlite:///{work / 'central.db'}"
        engine = create_engine(url)
        admin.init_store(engine)
        timekeepers(engine, password=None)
        t0 = time.perf_counter()
        result = pbx.import_file(engine, master, "asterisk", timezone=ZONE)
        t = time.perf_counter() - t0
        note(figures, *("SQLite import-cdr (parse+executemany)", f"{t:6.1f} s  {result.added:,} added"))
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE bare_pbx AS SELECT {cols} FROM pbx_calls WHERE 0"))
        marks = ", ".join("?" for _ in pbx.COLUMNS)
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        sqlite_rows = [tuple(v.strftime(fmt) if hasattr(v, "strftime") else v for v in r) for r in rows]
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            t0 = time.perf_counter()
            raw.executemany(f"INSERT INTO bare_pbx ({cols}) VALUES ({marks})", sqlite_rows)
            t = time.perf_counter() - t0
        note(figures, *("SQLite bare executemany of built rows (no index)", f"{t:6.1f} s  {len(rows):,} rows"))
        engine.dispose()
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--only", default="import,reconcile,reports")
    ap.add_argument("--calls", type=int, default=2_500_000, help="reports: calls in the year")
    ap.add_argument("--entries", type=int, default=1_500_000, help="reports: entries in the year")
    ap.add_argument("--matters", type=int, default=100_000, help="reports: matters")
    ap.add_argument("--pbx", type=int, default=1_000_000, help="reports: PBX calls in the year")
    ap.add_argument("--runs", type=int, default=3, help="reports: runs of each (the best is printed)")
    ap.add_argument("--sqlite", action="store_true", help="also an SQLite central store")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="# %(message)s")
    logging.getLogger("softclock.sync.pbx").setLevel(logging.DEBUG)
    only = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="softclock-bench-reports-"))
    cluster = PgCluster(tls_ca=make_test_ca(work / "ca"))
    cluster.start()
    figures: list[tuple[str, str]] = []
    try:
        if "import" in only:
            figures += bench_import(work, args.records, cluster, args.sqlite)
        if "reconcile" in only:
            figures += bench_reconcile(cluster, args.records)
        if "reports" in only:
            figures += bench_reports(cluster, args)
    finally:
        cluster.cleanup()
    print(f"bench/reports.py --records {args.records:,} --only {args.only} ({load()}, {os.cpu_count()} CPUs)")
    for name, value in figures:
        print(f"  {name:<50} {value}")
    return 0


_GEN = """
SELECT i, timestamp '2026-01-01' + i * interval '31 seconds' AS ts, (200 + i % 250)::text AS ext,
       '+1202' || lpad((i % 20000)::text, 7, '0') AS num, (i % 1800) AS talk
FROM generate_series(1, :n) AS i
"""


def bench_reconcile(cluster: PgCluster, records: int) -> list[tuple[str, str]]:
    """``records`` PBX calls and ``records`` laptop calls (90 % of them the PBX's, a third with the same
    Call-ID, starts up to 59 s apart; 10 % laptop only), reconciled as a billing login."""
    from datetime import date, datetime

    from softclock.reports.central_reconcile import reconcile

    figures: list[tuple[str, str]] = []
    db = cluster.create_database("bench_reconcile")
    installer = create_engine(cluster.superuser_url(db))
    admin.init_store(installer)
    admin.add_staff(installer, "bench_billing", "billing", "pw")
    t0 = time.perf_counter()
    with installer.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO timekeepers (id, name, email, office, department, rate, active, created_utc, classification) "
                "SELECT 'tk' || e, 'Keeper ' || e, '', '', '', 300, true, now(), 'AS' FROM generate_series(200, 449) e"
            )
        )
        conn.execute(
            text(
                "INSERT INTO pbx_calls (dedup_key, source_format, source_file, source_line, start_utc, answer_utc, "
                "end_utc, duration_s, billsec, caller, callee, remote_e164, extension, direction, disposition, "
                "sip_call_id, timekeeper_id, imported_utc) SELECT 'b:' || i, 'asterisk', 'bench', i, ts, ts, "
                "ts + talk * interval '1 second', talk, talk, ext, num, num, ext, 'outbound', "
                "CASE WHEN i % 5 = 0 THEN 'no-answer' ELSE 'answered' END, CASE WHEN i % 3 = 0 THEN 'cid' || i END, "
                f"'tk' || ext, now() FROM ({_GEN}) g"
            ),
            {"n": records},
        )
        conn.execute(
            text(
                "INSERT INTO calls (id, version, content_hash, timekeeper_id, direction, remote_number, number_hashed, "
                "start_utc, answer_utc, end_utc, ring_seconds, talk_seconds, hold_seconds, disposition, sip_call_id, "
                "recovered, entries_json, pushed_utc) SELECT 'call' || lpad(to_hex(i), 32, '0'), 1, repeat('x', 64), "
                "'tk' || ext, 'outgoing', num, false, ts + (i % 60) * interval '1 second', ts, ts + talk * interval "
                "'1 second', 3, talk, 0, CASE WHEN i % 5 = 0 THEN 'missed' ELSE 'answered' END, "
                "CASE WHEN i % 3 = 0 THEN 'cid' || i ELSE '' END, false, "
                "CASE WHEN i % 7 = 0 THEN '[]' ELSE '[[\"e\",\"synced\"]]' END, now() "
                f"FROM ({_GEN}) g WHERE i % 10 <> 0 OR i > :m"
            ),
            {"n": records + records // 10, "m": records},
        )
    with installer.connect() as conn:
        conn.execute(text("ANALYZE"))
        counts = conn.execute(text("SELECT (SELECT count(*) FROM pbx_calls), (SELECT count(*) FROM calls)")).one()
    print(f"# generated {counts[0]:,} PBX calls and {counts[1]:,} calls in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)  # fmt: skip
    billing = create_engine(cluster.url("bench_billing", "pw", db))
    start, end = date(2025, 12, 31), date(2027, 12, 31)
    t0 = time.perf_counter()
    r = reconcile(billing, start, end, as_of=datetime(2028, 1, 1), samples=20)
    t = time.perf_counter() - t0
    note(figures, "reconciliation (billing login, RLS)",
         f"{t:6.1f} s  matched {r.matched:,} (Call-ID {r.matched_by_call_id:,}), PBX only {r.pbx_only:,}, "
         f"laptop only {r.app_only:,}, leakage {r.leakage_calls:,} = {r.leakage_value:,.2f}")  # fmt: skip
    with billing.connect() as conn:
        t0 = time.perf_counter()
        pairs = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM pbx_calls p JOIN calls c ON c.sip_call_id = p.sip_call_id), "
                "(SELECT count(*) FROM pbx_calls p JOIN calls c ON c.timekeeper_id = p.timekeeper_id "
                "AND c.remote_number = p.remote_e164 AND c.start_utc BETWEEN p.start_utc - interval '120 seconds' "
                "AND p.start_utc + interval '120 seconds')"
            )
        ).one()
        t = time.perf_counter() - t0
    note(figures, "bare SQL: the two candidate joins, counted", f"{t:6.1f} s  {pairs[0]:,} + {pairs[1]:,} pairs")
    billing.dispose()
    installer.dispose()
    return figures


_FIRM = """
INSERT INTO timekeepers (id, name, email, office, department, rate, active, created_utc, classification)
SELECT 'tk' || lpad(i::text, 4, '0'), 'Keeper ' || lpad(i::text, 4, '0'), '', 'Office ' || (i % 10),
       'Department ' || (i % 20), 200 + (i % 9) * 50 + 0.25 * (i % 3), true, now(), 'AS'
FROM generate_series(1, 1000) i;
INSERT INTO clients (id, code, name) SELECT i, 'C' || i, 'Client ' || i FROM generate_series(1, 20000) i;
INSERT INTO matters (id, code, name, client_id, status)
SELECT i, 'M' || i, 'Matter ' || i, 1 + i % 20000, 'open' FROM generate_series(1, :matters) i;
INSERT INTO entries (id, version, content_hash, timekeeper_id, matter_code, client_name, work_date, started_utc,
  raw_seconds, hold_seconds, billed_units, unit_minutes, activity_code, task_code, narrative, billable,
  remote_number, direction, status, pushed_utc, invoiced_utc, change_seq)
SELECT 'e' || i, 1, repeat('x', 64), 'tk' || lpad((1 + i % 1000)::text, 4, '0'), 'M' || (1 + (i * 7) % :matters),
  'Client ' || (1 + ((1 + (i * 7) % :matters) % 20000)), CAST(ts AS date), ts, talk, 0, (talk + 359) / 360, 6,
  'A106', '', 'call about matter ' || (1 + (i * 7) % :matters) || CASE WHEN i % 1000 = 0 THEN ' settlement' ELSE '' END,
  i % 20 <> 0, '+1202' || lpad((i % 200000)::text, 7, '0'), 'outgoing',
  CASE WHEN i % 10 < 7 THEN 'invoiced' ELSE 'approved' END, ts, CASE WHEN i % 10 < 7 THEN ts END, 0
FROM (SELECT i, timestamp '2026-01-01 08:00' + (i * 20.9) * interval '1 second' AS ts, 60 + (i * 37) % 1800 AS talk
      FROM generate_series(1, :entries) i) g;
INSERT INTO calls (id, version, content_hash, timekeeper_id, direction, remote_number, number_hashed, start_utc,
  answer_utc, end_utc, ring_seconds, talk_seconds, hold_seconds, disposition, sip_call_id, recovered, entries_json,
  pushed_utc)
SELECT 'call' || lpad(to_hex(i), 32, '0'), 1, repeat('x', 64), 'tk' || lpad((1 + i % 1000)::text, 4, '0'),
  'outgoing', '+1202' || lpad((i % 200000)::text, 7, '0'), false, ts, ts, ts + talk * interval '1 second', 3, talk,
  0, CASE WHEN i % 8 = 0 THEN 'missed' ELSE 'answered' END, 'cid' || i, false,
  CASE WHEN i <= :entries THEN '[["e' || i || '", "synced"]]' WHEN i % 3 = 0 THEN '[["d' || i || '", "draft"]]'
       ELSE '[]' END, ts
FROM (SELECT i, timestamp '2026-01-01 08:00' + (i * 12.6) * interval '1 second' AS ts,
             CASE WHEN i % 8 = 0 THEN 0 ELSE (i * 37) % 1800 END AS talk FROM generate_series(1, :calls) i) g;
INSERT INTO pbx_calls (dedup_key, source_format, source_file, source_line, start_utc, answer_utc, end_utc, duration_s,
  billsec, caller, callee, remote_e164, extension, direction, disposition, sip_call_id, timekeeper_id, imported_utc)
SELECT 'b:' || i, 'asterisk', 'bench', i, ts, ts, ts + talk * interval '1 second', talk, talk, ext, num, num, ext,
  'outbound', CASE WHEN i % 8 = 0 THEN 'no-answer' ELSE 'answered' END, CASE WHEN i % 3 = 0 THEN 'cid' || i END,
  'tk' || lpad(ext, 4, '0'), now()
FROM (SELECT i, timestamp '2026-01-01 08:00' + (i * 12.6 * :spread) * interval '1 second' AS ts,
             (1 + i % 1000)::text AS ext, '+1202' || lpad((i % 200000)::text, 7, '0') AS num,
             CASE WHEN i % 8 = 0 THEN 0 ELSE (i * 37) % 1800 END AS talk FROM generate_series(1, :pbx) i) g;
"""


def _firm(cluster: PgCluster, args: argparse.Namespace) -> str:
    db = cluster.create_database("bench_reports")
    installer = create_engine(cluster.superuser_url(db))
    admin.init_store(installer)
    admin.add_staff(installer, "bench_report_billing", "billing", "pw")
    t0 = time.perf_counter()
    params = {"matters": args.matters, "entries": args.entries, "calls": args.calls, "pbx": args.pbx}
    params["spread"] = args.calls / max(args.pbx, 1)  # the PBX's calls over the same year
    with installer.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # bulk load: no content-hash triggers
        for statement in _FIRM.split(";"):
            if statement.strip():
                conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
    with installer.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM entries), (SELECT count(*) FROM matters), "
                "(SELECT count(*) FROM pbx_calls), pg_size_pretty(pg_database_size(current_database()))"
            )
        ).one()
    installer.dispose()
    print(
        f"# generated {counts[0]:,} calls, {counts[1]:,} entries, {counts[2]:,} matters, {counts[3]:,} PBX calls "
        f"({counts[4]}) in {time.perf_counter() - t0:.1f} s ({load()})",
        file=sys.stderr,
    )
    return db


def _replay(engine, statements: list[tuple[str, object]]) -> float:  # type: ignore[no-untyped-def]
    """The statements a report sent, again, on the driver's cursor in one transaction; rows fetched."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        t0 = time.perf_counter()
        with raw.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
                if cur.description is not None:
                    cur.fetchall()
        t = time.perf_counter() - t0
        raw.rollback()
    return t


def bench_reports(cluster: PgCluster, args: argparse.Namespace) -> list[tuple[str, str]]:
    from dataclasses import replace
    from datetime import date, datetime

    from sqlalchemy import event

    from softclock.reports.central_reports import run_report
    from softclock.reports.model import ReportRequest

    figures: list[tuple[str, str]] = []
    db = _firm(cluster, args)
    engine = create_engine(cluster.url("bench_report_billing", "pw", db))
    sent: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    month, year = (date(2026, 6, 1), date(2026, 6, 30)), (date(2026, 1, 1), date(2026, 12, 31))
    as_of = datetime(2027, 1, 15)
    cases: list[tuple[str, ReportRequest]] = [
        ("calls, a month", ReportRequest("calls", *month)),
        ("calls, a month, first 1,000", ReportRequest("calls", *month, limit=1000)),
        ("calls, a month, search a number", ReportRequest("calls", *month, search="1202 000 12")),
        ("calls, the year, search 'settlement'", ReportRequest("calls", *year, search="settlement")),
        ("calls, the year, one timekeeper", ReportRequest("calls", *year, timekeeper=("Keeper 0042",))),
        ("time by timekeeper, a month", ReportRequest("time", *month)),
        ("time by timekeeper, the year", ReportRequest("time", *year)),
        ("time by client and month, the year", ReportRequest("time", *year, by=("client", "month"))),
        ("time by office and week, the year", ReportRequest("time", *year, by=("office", "week"))),
        ("unbilled by client and matter, the year", ReportRequest("unbilled", *year)),
        ("leakage, a month", ReportRequest("leakage", *month)),
        ("reconciliation, a month", ReportRequest("reconciliation", *month)),
        ("hours chart, a month", ReportRequest("hours-chart", *month)),
        ("hours chart, the year", ReportRequest("hours-chart", *year)),
    ]
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    print("#  report                                          report     bare SQL   rows", file=sys.stderr)
    for label, request in cases:
        request = replace(request, as_of=as_of)
        best, bare = float("inf"), float("inf")
        rows = 0
        for _ in range(args.runs):
            sent.clear()
            t0 = time.perf_counter()
            report = run_report(engine, request)
            best = min(best, time.perf_counter() - t0)
            rows = len(report.rows)
            statements = [(sql, params) for sql, params in sent if sql.strip() != "SELECT 1"]
            bare = min(bare, _replay(engine, statements))
        note(figures, label, f"{best * 1000:8.0f} ms  {bare * 1000:8.0f} ms  {rows:>7,} rows")
    engine.dispose()
    return figures


if __name__ == "__main__":
    sys.exit(main())
