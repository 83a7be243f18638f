#!/usr/bin/env python3
"""Benchmark: the local SQLite store at scale (years of calls, a long audit chain).

Run from the project root::

    .venv/bin/python bench/store_scale.py [--calls 1000000] [--matters 100000] [--runs 5] [--keep] [--json]

Build (timed, in a fresh temporary data directory, created with the real
``open_store`` so the schema and pragmas are the app's):

* ``--matters`` matters (default 100,000; ~10 % closed) over ``--matters / 5``
  clients (default 20,000; 1 % with a billing-policy override), then their
  rows in the search index (``search_index.catch_up``, timed on its own);
* ``--calls`` answered calls (default 1,000,000), each with one segment and one
  time entry, spread evenly over the two years before today, plus 40 calls
  today (local date); ~9 % are shorter than 30 s (flag ``short``, not billable);
* ~5 % of the entries are drafts (all of today's, the rest at random; drafts
  have no billed units yet, 10 % are unassigned, as captured), the others are
  approved, with billed units from ``Policy()``;
* one audit event per approved entry (``status`` draft -> approved) plus a
  ``narrative`` event for every 19th, i.e. ~1,000,000 events, chained with
  ``softclock.audit._digest`` from ``GENESIS`` and a matching ``audit_head``
  row, so ``audit.verify`` passes.

The rows go in through the sqlite3 module (``executemany`` from generators, one
transaction per table, journal off, big page cache) in the formats SQLAlchemy
uses for SQLite (``YYYY-MM-DD HH:MM:SS.ffffff`` datetimes); the explicit
indexes of the schema are dropped for the load and created again from their
own DDL afterwards, and the journal goes back to WAL. ANALYZE is *not* run:
the app never runs it, so the planner sees what it sees in the field.

Measurements, each the median of ``--runs`` runs (default 5) after one warm-up
run, wall-clock ms, every run in a new session (empty identity map):

1. the first page of the review queue, three ways:
   a. ``select(TimeEntry, Matter.code, Matter.name, Client.name)`` joined
      (inner) to Matter and Client, ``status == 'draft'``, newest
      ``started_utc`` first, ``LIMIT 50`` — how a paged Review tab would ask;
   b. the same with outer joins (unassigned drafts shown too);
   c. ``queries.entries(session, status="draft")`` — what the Review tab
      (``softclock/ui/review_view.py``) calls today: every draft, oldest first,
      with matter, client and call joined-loaded; it has no limit, so it is
      not a page;
2. the Today list: ``queries.today_calls(session)``;
3. matter search (aim 10 ms a keystroke): ``queries.search_matters(session, ...)``
   for ``"acme 12"`` and ``"a"``, then each keystroke of typing ``acme 12``
   (``ac`` and ``a``-words use LIKE, longer words the trigram index), a common
   trigram (``ltd``), a word found nowhere (``qqq``) and a two-letter one found
   nowhere (``qq``: LIKE over every matter, the slow case); each beside the same
   SQL run bare through the sqlite3 module (the "bare SQL" column: what is
   SQLite's own and what is SQLAlchemy's and ours);
4. ``review.approve(session, ids, "bench", Policy())`` of 1,000 drafts with a
   matter (newest first, different ones each run) in one transaction,
   commit included (writes two audit events per entry);
5. ``audit verify``, commit included (it moves the checkpoint):
   a. incremental, the everyday check: before each run (untimed) the
      checkpoint is put back 2,000 events, as if one approval of 1,000
      entries had happened since the last check;
   b. ``full=True``: the whole chain from the first event.

The SQL each measurement sends is captured during the warm-up run and its
``EXPLAIN QUERY PLAN`` is printed (SELECTs only). The aim is 100 ms for each
(10 ms for the search); the table says which meet it. ``--only 3`` measures
only the rows whose number starts with 3 (the search).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from softclock import audit, review  # noqa: E402
from softclock.billing import Policy, units  # noqa: E402
from softclock.store import queries, search_index  # noqa: E402
from softclock.store.db import DB_NAME, Store, open_store  # noqa: E402
from softclock.store.models import AuditEvent, AuditHead, Base, Client, Matter, TimeEntry  # noqa: E402

AIM_MS = 100.0
SEARCH_AIM_MS = 10.0  # per keystroke (issue 13)
TODAY_CALLS = 40
DRAFT_SHARE = 0.05
APPROVE_BATCH = 1000
DAYS = 730
SEED = 20240611

WORDS = (
    "Acme Globex Initech Umbrella Stark Wayne Wonka Tyrell Cyberdyne Soylent Hooli Vandelay Kramerica "
    "Monarch Oscorp Gringotts Dunder Mifflin Pied Piper Aperture Black Mesa Bluth Sterling Cooper Prestige "
    "Northwind Contoso Fabrikam Tailspin Adventure Litware Proseware Fourth Coffee Alpine Baker Harbor "
    "Summit Granite Cedar Maple Orion Vega Lyra Delta Sierra Tango Kilo Echo Atlas Zenith Apex"
).split()
SUFFIXES = ("Ltd", "LLP", "Inc.", "GmbH", "SA", "plc", "Holdings", "Group", "Partners", "Trust")
MATTER_KINDS = (
    "Acquisition of",
    "Lease for",
    "Dispute with",
    "Employment claim by",
    "Licence from",
    "Merger with",
    "Financing by",
    "Trademark opposition v.",
    "Audit of",
    "Supply contract with",
    "Arbitration v.",
)


def sa_dt(value: datetime) -> str:
    """A naive datetime as SQLAlchemy's SQLite DateTime stores it."""
    return value.isoformat(" ", "microseconds")


def sa_date(value: date) -> str:
    return value.isoformat()


def insert(con: sqlite3.Connection, table: str, cols: str, rows: Any, log: Callable[[str], None]) -> None:
    """``executemany`` an INSERT of ``cols``; other columns of the live schema that
    are NOT NULL without a server default get the model's scalar default (so the
    build keeps working when a column is added)."""
    names = [c.strip() for c in cols.split(",")]
    model = Base.metadata.tables.get(table)
    extra_cols: list[str] = []
    extra_vals: list[Any] = []
    for _cid, name, _type, notnull, dflt, pk in con.execute(f'PRAGMA table_info("{table}")'):
        if name in names or pk:
            continue
        col = model.c.get(name) if model is not None else None
        default = col.default if col is not None else None
        if default is not None and getattr(default, "is_scalar", False):
            extra_cols.append(name)
            extra_vals.append(int(default.arg) if isinstance(default.arg, bool) else default.arg)
        elif notnull and dflt is None:
            raise SystemExit(f"bench: {table}.{name} is NOT NULL without a default; bench/store_scale.py must fill it")
    if extra_cols:
        log(
            f"  ({table}: {', '.join(f'{c}={v!r}' for c, v in zip(extra_cols, extra_vals, strict=True))} from the model defaults)"
        )
        extra = tuple(extra_vals)
        rows = (r + extra for r in rows)
    all_cols = names + extra_cols
    con.executemany(f"INSERT INTO {table} ({', '.join(all_cols)}) VALUES ({', '.join('?' * len(all_cols))})", rows)


# --------------------------------------------------------------------------- build


def build(data: Path, n_calls: int, n_matters: int, log: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(SEED)
    policy = Policy()
    info: dict[str, Any] = {}
    t_all = time.perf_counter()

    store = open_store(data)  # the real schema, WAL, stamped with the newest revision
    store.close()
    path = data / DB_NAME
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1000000")  # 1 GB
    con.execute("PRAGMA temp_store=MEMORY")
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL ORDER BY name"
    ).fetchall()
    for name, _sql in indexes:
        con.execute(f'DROP INDEX "{name}"')
    phases: dict[str, float] = {}

    def phase(name: str, t0: float) -> None:
        phases[name] = round(time.perf_counter() - t0, 2)
        log(f"  {name}: {phases[name]:.1f} s")

    # -- clients and matters
    t0 = time.perf_counter()
    n_clients = max(1, n_matters // 5)
    con.execute("BEGIN")
    insert(
        con,
        "clients",
        "id, name, policy_json",
        (
            (
                i,
                f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIXES)} {i}",
                '{"increment_min": 15}' if i % 100 == 0 else None,
            )
            for i in range(1, n_clients + 1)
        ),
        log,
    )
    open_matters: list[int] = []
    rows = []
    for m in range(1, n_matters + 1):
        c = (m - 1) % n_clients + 1 if m <= n_clients else rng.randint(1, n_clients)
        status = "closed" if rng.random() < 0.10 else "open"
        if status == "open":
            open_matters.append(m)
        rows.append(
            (
                m,
                f"{c:05d}-{m:06d}",
                f"{rng.choice(MATTER_KINDS)} {rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIXES)}",
                c,
                status,
                None,
            )
        )
    insert(con, "matters", "id, code, name, client_id, status, policy_json", rows, log)
    con.execute("COMMIT")
    del rows
    phase("clients+matters", t0)

    # -- calls, segments, time entries
    now = datetime.now(UTC).replace(tzinfo=None)
    local_midnight = datetime.combine(datetime.now().date(), datetime.min.time()).astimezone()
    today_start = local_midnight.astimezone(UTC).replace(tzinfo=None)
    today_span = max((now - today_start).total_seconds() - 60, 3600.0)  # up to now (a whole hour early in the day)
    hist = max(0, n_calls - TODAY_CALLS)
    hist_start = today_start - timedelta(days=DAYS)
    hist_step = DAYS * 86400 / max(1, hist)
    today_step = today_span / max(1, n_calls - hist)
    numbers = [f"+4420{rng.randrange(10**7):07d}" for _ in range(50_000)]
    tz_offset_cache: dict[int, timedelta] = {}

    def local_date(utc: datetime) -> date:
        # astimezone() per row is slow; cache the UTC offset per hour
        key = utc.toordinal() * 24 + utc.hour
        off = tz_offset_cache.get(key)
        if off is None:
            off = utc.replace(tzinfo=UTC).astimezone().utcoffset() or timedelta(0)
            tz_offset_cache[key] = off
        return (utc + off).date()

    # Per call: (invited, answered, ended, talk, matter, number), generated once.
    t0 = time.perf_counter()
    calls: list[tuple[datetime, datetime, datetime, float, int | None, str]] = []
    for i in range(n_calls):
        if i < hist:
            invited = hist_start + timedelta(seconds=(i + rng.random()) * hist_step)
        else:
            invited = today_start + timedelta(seconds=(i - hist + rng.random()) * today_step)
        ring = 2.0 + rng.random() * 18.0
        talk = round(rng.expovariate(1 / 300.0), 3)
        answered = invited + timedelta(seconds=ring)
        ended = answered + timedelta(seconds=talk)
        calls.append(
            (invited, answered, ended, talk, rng.choice(open_matters) if open_matters else None, rng.choice(numbers))
        )
    draft = bytearray(n_calls)
    for i in range(n_calls):
        if i >= hist or rng.random() < DRAFT_SHARE:
            draft[i] = 1
    phase("generate calls", t0)

    t0 = time.perf_counter()
    con.execute("BEGIN")
    insert(
        con,
        "calls",
        "id, sip_call_id, direction, account, remote_uri, remote_number, display_name, invited_utc, answered_utc,"
        " ended_utc, talk_seconds, ring_seconds, hold_seconds, disposition, sip_status, sip_reason,"
        " connect_duration_s, last_heartbeat_utc, recovered, recording_path",
        (
            (
                i + 1,
                f"{uuid.uuid4().hex}@softclock",
                "outgoing" if i % 3 else "incoming",
                "alice@firm.example",
                f"sip:{c[5]}@pbx.firm.example",
                c[5],
                "",
                sa_dt(c[0]),
                sa_dt(c[1]),
                sa_dt(c[2]),
                c[3],
                (c[1] - c[0]).total_seconds(),
                0.0,
                "answered",
                200,
                "OK",
                c[3],
                sa_dt(c[2]),
                0,
                None,
            )
            for i, c in enumerate(calls)
        ),
        log,
    )
    con.execute("COMMIT")
    phase("insert calls", t0)

    t0 = time.perf_counter()
    con.execute("BEGIN")
    insert(
        con,
        "segments",
        "id, call_id, matter_id, start_utc, end_utc, seconds, held",
        ((i + 1, i + 1, c[4], sa_dt(c[1]), sa_dt(c[2]), c[3], 0) for i, c in enumerate(calls)),
        log,
    )
    con.execute("COMMIT")
    phase("insert segments", t0)

    t0 = time.perf_counter()
    entry_ids = [str(uuid.uuid4()) for _ in range(n_calls)]
    unassigned = bytearray(n_calls)
    for i in range(n_calls):
        if draft[i] and rng.random() < 0.10:
            unassigned[i] = 1

    def entry_rows() -> Iterator[tuple[Any, ...]]:
        for i, c in enumerate(calls):
            _invited, answered, ended, talk, matter, _number = c
            billable = talk >= policy.short_call_s
            is_draft = draft[i]
            m = None if unassigned[i] else matter
            yield (
                entry_ids[i],
                i + 1,
                i + 1,
                "alice",
                m,
                sa_date(local_date(answered)),
                sa_dt(answered),
                talk,
                None if is_draft else units(talk, policy, billable),
                "A106" if m else "",
                "",
                "" if is_draft else f"Call re matter {m}",
                int(billable),
                "draft" if is_draft else "approved",
                "" if billable else "short",
                0,
                1,
                sa_dt(answered),
                sa_dt(ended if is_draft else ended + timedelta(hours=20)),
            )

    con.execute("BEGIN")
    insert(
        con,
        "time_entries",
        "id, call_id, segment_id, timekeeper, matter_id, work_date, started_utc, raw_seconds, billed_units,"
        " activity_code, task_code, narrative, billable, status, flag, billed_by_hand, version, created_utc,"
        " updated_utc",
        entry_rows(),
        log,
    )
    con.execute("COMMIT")
    phase("insert time_entries", t0)

    # -- the audit chain: approvals (and some narrative edits) in time order
    t0 = time.perf_counter()
    limit = now - timedelta(seconds=1)
    events: list[tuple[datetime, int, str]] = []  # (at, entry index, field)
    for i, c in enumerate(calls):
        if draft[i]:
            continue
        at = min(c[2] + timedelta(hours=20, seconds=rng.random() * 7200), limit)
        if i % 19 == 0:
            events.append((at - timedelta(seconds=30), i, "narrative"))
        events.append((at, i, "status"))
    events.sort(key=lambda e: e[0])
    digest, prev = audit._digest, audit.GENESIS
    last_id = 0

    def audit_rows() -> Iterator[tuple[Any, ...]]:
        nonlocal prev, last_id
        for n, (at, i, field) in enumerate(events, start=1):
            eid = entry_ids[i]
            if field == "status":
                old, new = "draft", "approved"
            else:
                old, new = "", f"Call re matter {None if unassigned[i] else calls[i][4]}"
            h = digest(prev, at, "alice", "time_entry", eid, field, old, new, "")
            yield (n, sa_dt(at), "alice", "time_entry", eid, field, old, new, "", prev, h)
            prev, last_id = h, n

    con.execute("BEGIN")
    insert(
        con,
        "audit_events",
        "id, at_utc, actor, entity, entity_id, field, old_value, new_value, reason, prev_hash, hash",
        audit_rows(),
        log,
    )
    con.execute("DELETE FROM audit_head")
    if events:
        con.execute(
            "INSERT INTO audit_head (id, last_id, last_hash, count) VALUES (1, ?, ?, ?)", (last_id, prev, len(events))
        )
    con.execute("COMMIT")
    phase("insert audit_events (hash chain)", t0)
    info["audit_events"] = len(events)
    events.clear()  # the rows are in the store: free them (the generators above are spent)
    calls.clear()

    t0 = time.perf_counter()
    for _name, sql in indexes:
        con.execute(sql)
    phase(f"create {len(indexes)} indexes", t0)
    mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    con.close()

    # The matters' rows in the search index: the triggers only marked them stale; a search
    # would index them 500 at a time, a bulk writer all at once after its commit, like this.
    t0 = time.perf_counter()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        left = search_index.catch_up(conn)
    engine.dispose()
    phase(f"index {n_matters:,} matters for search (search_index.catch_up, {left} left)", t0)
    if os.name == "posix":
        os.chmod(path, 0o600)

    info.update(
        build_s=round(time.perf_counter() - t_all, 1),
        phases_s=phases,
        journal_mode=mode,
        clients=n_clients,
        matters=n_matters,
        calls=n_calls,
        calls_today=n_calls - hist,
        drafts=int(sum(draft)),
        db_bytes=sum(p.stat().st_size for p in data.glob(DB_NAME + "*")),
    )
    return info


# --------------------------------------------------------------------------- measure


class SqlLog:
    """Collects the statements the engine sends while ``on`` is true."""

    def __init__(self, store: Store) -> None:
        self.on = False
        self.seen: list[tuple[str, Any]] = []
        event.listen(store.engine, "before_cursor_execute", self._before)

    def _before(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:  # type: ignore[no-untyped-def]
        if self.on and statement.lstrip().upper().startswith("SELECT"):
            if all(statement != s for s, _ in self.seen):
                self.seen.append((statement, parameters))


def query_plans(store: Store, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    out = []
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for sql, params in statements:
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            rows = cur.fetchall()
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _unused, detail in rows:
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            out.append({"sql": " ".join(sql.split()), "plan": lines})
        cur.close()
    finally:
        raw.close()
    return out


def measure(
    store: Store,
    sql_log: SqlLog,
    name: str,
    run: Callable[[Session, int], str],
    runs: int,
    plans: bool = True,
    prepare: Callable[[], None] | None = None,
    aim_ms: float = AIM_MS,
    bare: bool = False,
) -> dict[str, Any]:
    """Warm-up (capturing SQL) + ``runs`` timed runs, each in a new session,
    each after ``prepare`` (untimed). ``bare``: also time the captured SQL
    (one SELECT) through a plain sqlite3 connection, same warm-up and runs."""
    times = []
    note = ""
    for k in range(runs + 1):
        if prepare is not None:
            prepare()
        sql_log.seen, sql_log.on = [], k == 0 and (plans or bare)
        with store.session() as s:
            t0 = time.perf_counter()
            note = run(s, k)
            dt = (time.perf_counter() - t0) * 1000
        sql_log.on = False
        if k == 0:
            captured = list(sql_log.seen)
        else:
            times.append(dt)
    med = statistics.median(times)
    return {
        "name": name,
        "median_ms": round(med, 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "runs": len(times),
        "aim_ms": aim_ms,
        "meets_aim": med < aim_ms,
        "note": note,
        "bare_ms": bare_sql(store, captured, runs) if bare else None,
        "plans": query_plans(store, captured) if plans else [],
    }


def bare_sql(store: Store, captured: list[tuple[str, Any]], runs: int) -> float:
    """Median ms of the captured SELECTs, in order, through a plain sqlite3
    connection (fetching every row), after one warm-up: SQLite's own share."""
    assert store.path is not None
    con = sqlite3.connect(store.path)
    try:
        times = []
        for k in range(runs + 1):
            t0 = time.perf_counter()
            for sql, params in captured:
                con.execute(sql, params).fetchall()
            if k:
                times.append((time.perf_counter() - t0) * 1000)
    finally:
        con.close()
    return round(statistics.median(times), 2)


def review_page(outer: bool) -> Callable[[Session, int], str]:
    def run(s: Session, _k: int) -> str:
        stmt = select(TimeEntry, Matter.code, Matter.name, Client.name)
        if outer:
            stmt = stmt.outerjoin(Matter, TimeEntry.matter_id == Matter.id).outerjoin(
                Client, Matter.client_id == Client.id
            )
        else:
            stmt = stmt.join(Matter, TimeEntry.matter_id == Matter.id).join(Client, Matter.client_id == Client.id)
        stmt = stmt.where(TimeEntry.status == "draft").order_by(TimeEntry.started_utc.desc()).limit(50)
        rows = s.execute(stmt).all()
        return f"{len(rows)} rows"

    return run


def review_all(s: Session, _k: int) -> str:
    rows = queries.entries(s, status="draft")
    return f"{len(rows)} entries"


def today(s: Session, _k: int) -> str:
    rows = queries.today_calls(s)
    return f"{len(rows)} calls, {sum(len(e) for _, e in rows)} entries"


def search(text: str) -> Callable[[Session, int], str]:
    def run(s: Session, _k: int) -> str:
        return f"{len(queries.search_matters(s, text))} matters"

    return run


def approver(batches: list[list[str]]) -> Callable[[Session, int], str]:
    policy = Policy()

    def run(s: Session, k: int) -> str:
        with s.begin():
            out = review.approve(s, batches[k], "bench", policy)
        return f"{len(out.done)} approved, {len(out.refused)} refused"

    return run


def verifier(full: bool) -> Callable[[Session, int], str]:
    def run(s: Session, _k: int) -> str:
        with s.begin():
            v = audit.verify(s, full=full)
        return f"ok={v.ok} count={v.count} checked={v.checked}" + (f" problem={v.problem}" if v.problem else "")

    return run


def rewind_checkpoint(store: Store, events: int) -> Callable[[], None]:
    """Put the verify checkpoint ``events`` events before the end of the chain."""

    def prepare() -> None:
        with store.session() as s, s.begin():
            head = s.get(AuditHead, 1)
            assert head is not None
            event_id, digest = s.execute(
                select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).offset(events).limit(1)
            ).one()
            head.checked_id, head.checked_hash, head.checked_count = event_id, digest, head.count - events

    return prepare


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000, help="calls (one entry each); default 1,000,000")
    ap.add_argument("--matters", type=int, default=100_000, help="matters (clients = matters / 5); default 100,000")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measurement (after one warm-up)")
    ap.add_argument("--no-plans", action="store_true", help="do not print EXPLAIN QUERY PLAN")
    ap.add_argument("--keep", action="store_true", help="keep the data directory (its path is printed)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        help="measure only the rows whose number starts with this (e.g. 3 for the search); repeatable",
    )
    ap.add_argument(
        "--data",
        help="measure a data directory an earlier --keep run left (no build; each run of it "
        "approves drafts, so it has fewer left)",
    )
    args = ap.parse_args()
    if args.calls < TODAY_CALLS or args.matters < 5:
        ap.error(f"--calls must be at least {TODAY_CALLS} and --matters at least 5")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    tmp = None if args.data else Path(tempfile.mkdtemp(prefix="softclock-store-scale-"))
    data = Path(args.data) if args.data else tmp / "data"  # type: ignore[operator]
    report: dict[str, Any] = {"sqlite": sqlite3.sqlite_version, "data_dir": str(data) if args.keep else None}
    try:
        if args.data:
            log(f"measuring the store in {data} (no build) ...")
            report["build"] = None
        else:
            log(f"building {args.calls:,} calls / {args.matters:,} matters in {data} ...")
            report["build"] = build(data, args.calls, args.matters, log)
            b = report["build"]
            log(
                f"build: {b['build_s']:.1f} s, DB {b['db_bytes'] / 2**20:,.0f} MiB — {b['clients']:,} clients, "
                f"{b['matters']:,} matters, {b['calls']:,} calls ({b['calls_today']} today), {b['drafts']:,} drafts, "
                f"{b['audit_events']:,} audit events"
            )

        store = open_store(data)
        sql_log = SqlLog(store)
        with store.session() as s:
            ids = list(
                s.scalars(
                    select(TimeEntry.id)
                    .where(TimeEntry.status == "draft", TimeEntry.matter_id.is_not(None))
                    .order_by(TimeEntry.started_utc.desc())
                    .limit(APPROVE_BATCH * (args.runs + 1))
                )
            )
        size = min(APPROVE_BATCH, len(ids) // (args.runs + 1))  # fewer when --calls is small
        batches = [ids[k * size : (k + 1) * size] for k in range(args.runs + 1)]

        plans = not args.no_plans
        specs: list[tuple[str, Callable[[Session, int], str]]] = [
            ("1a review page: 50 drafts, newest first, inner join matter+client", review_page(outer=False)),
            ("1b review page: same, outer joins (unassigned shown)", review_page(outer=True)),
            ("1c queries.entries(status='draft') (Review tab today, all drafts)", review_all),
            ("2 today_calls()", today),
            ("3a search_matters('acme 12')", search("acme 12")),
            ("3b search_matters('a')", search("a")),
            *[
                (f"3k{n} keystroke search_matters({text!r})", search(text))
                for n, text in enumerate(("ac", "acm", "acme", "acme 1"), start=1)
            ],
            ("3c search_matters('ltd'): a common trigram", search("ltd")),
            ("3d search_matters('qqq'): found nowhere", search("qqq")),
            ("3e search_matters('qq'): short, found nowhere (LIKE)", search("qq")),
            (f"4 approve {size:,} drafts (1 transaction, commit)", approver(batches)),
            ("5a audit verify: incremental, 2,000 events since the checkpoint", verifier(full=False)),
            ("5b audit verify --full: the whole chain", verifier(full=True)),
        ]
        prepares = {"5a": rewind_checkpoint(store, 2 * APPROVE_BATCH)}
        if args.only:
            specs = [(name, fn) for name, fn in specs if name.startswith(tuple(args.only))]
        results = []
        for name, fn in specs:
            log(f"measuring {name} ...")
            is_search = name.startswith("3")
            results.append(
                measure(
                    store,
                    sql_log,
                    name,
                    fn,
                    args.runs,
                    plans,
                    prepares.get(name.split()[0]),
                    aim_ms=SEARCH_AIM_MS if is_search else AIM_MS,
                    bare=is_search,
                )
            )
        store.close()
        report["results"] = results
        report["db_bytes_after"] = sum(p.stat().st_size for p in data.glob(DB_NAME + "*"))
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    b = report["build"]
    print()
    if b is not None:
        print(
            f"SQLite {report['sqlite']}; build {b['build_s']:.1f} s "
            f"({', '.join(f'{k} {v:.1f}' for k, v in b['phases_s'].items())}); "
            f"DB size {b['db_bytes'] / 2**20:,.0f} MiB ({b['db_bytes']:,} bytes), journal {b['journal_mode']}"
        )
    if args.keep:
        print(f"data directory kept: {data}")
    if plans:
        print()
        for r in results:
            print(f"== {r['name']}")
            for p in r["plans"]:
                print(f"   SQL: {p['sql'][:400]}{' ...' if len(p['sql']) > 400 else ''}")
                for line in p["plan"]:
                    print(f"     {line}")
    print()
    w = max(len(r["name"]) for r in results)
    print(f"{'measurement':<{w}}  {'median ms':>10} {'min':>9} {'max':>9} {'bare SQL':>9}   aim   met  result")
    for r in results:
        bare = "" if r["bare_ms"] is None else f"{r['bare_ms']:.2f}"
        print(
            f"{r['name']:<{w}}  {r['median_ms']:>10.2f} {r['min_ms']:>9.2f} {r['max_ms']:>9.2f} {bare:>9}  "
            f"<{r['aim_ms']:>3.0f}ms {'yes' if r['meets_aim'] else 'NO':>4}  {r['note']}"
        )
    met = [r for r in results if r["meets_aim"]]
    print(
        f"\n{len(met)}/{len(results)} meet their aim (verify ran after the approvals, so its count includes "
        f"their events); DB after the runs {report['db_bytes_after'] / 2**20:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
