"""Reconciliation of the PBX's own call records against the calls the laptops pushed, in the central store.

Set-based SQL, in one read-only transaction (PostgreSQL or SQLite), with the
login's own rights: on PostgreSQL a timekeeper reconciles only their own
calls (row-level security), billing and admins everyone's.

1. The PBX calls (``pbx_calls``) and the laptops' calls (``calls``) that start
   in the range are copied into temporary tables.
2. Candidate pairs: the same SIP Call-ID where both have one (score 0); else
   the same timekeeper (the PBX call's extension) and remote number (E.164,
   or its firm-keyed hash for a call pushed with privacy on) with starts at
   most ``tolerance_s`` apart (score 1 + the seconds apart).
3. A pair is matched when each is the other's best candidate (lowest score):
   one PBX call to one laptop call.
4. Outcomes: matched (by Call-ID or by number and time; with a talk time that
   differs by more than ``max(30 s, 10 %)``: duration mismatch), PBX only (a
   call the laptops never saw: a desk phone, the PBX's mobile app, another
   device; or an extension that is no timekeeper's), laptop only, and
   leakage: answered laptop calls of at least the short-call threshold
   without an approved entry ``leak_days`` after they started, and answered
   PBX-only calls of at least the threshold on a timekeeper's extension; each
   valued at the timekeeper's rate in the firm's billing increment (rounded up).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

_TEMP_TABLES = ("rc_pbx", "rc_app", "rc_cand", "rc_match")
_APPROVED_LIKE = (
    "(c.entries_json LIKE '%\"approved\"%' OR c.entries_json LIKE '%\"synced\"%' "
    "OR c.entries_json LIKE '%\"invoiced\"%')"
)


@dataclass(frozen=True)
class LeakRow:
    timekeeper_id: str
    name: str
    unlogged_calls: int  # answered laptop calls without an approved entry
    pbx_only_calls: int  # answered PBX-only calls on their extension
    hours: Decimal
    value: Decimal


@dataclass
class Reconciliation:
    start: date
    end: date
    as_of: datetime
    tolerance_s: int
    short_call_s: int
    leak_days: int
    pbx_calls: int = 0
    app_calls: int = 0
    matched: int = 0
    matched_by_call_id: int = 0
    matched_by_number: int = 0
    duration_mismatch: int = 0
    pbx_only: int = 0
    pbx_only_answered: int = 0
    pbx_unmapped: int = 0  # PBX calls on an extension that is no timekeeper's (among pbx_only)
    app_only: int = 0
    leakage_calls: int = 0
    leakage_value: Decimal = Decimal("0.00")
    leakage: list[LeakRow] = field(default_factory=list)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_json(self) -> str:
        def default(value: object) -> object:
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, (date, datetime)):
                return value.isoformat()
            raise TypeError(type(value).__name__)

        return json.dumps(asdict(self), default=default, indent=2)


def _seconds_apart(dialect: str, a: str, b: str) -> str:
    if dialect == "postgresql":
        return f"abs(extract(epoch FROM ({a} - {b})))"
    return f"abs((julianday({a}) - julianday({b})) * 86400.0)"


def _shift(dialect: str, column: str, seconds: str) -> str:
    if dialect == "postgresql":
        return f"({column} + make_interval(secs => {seconds}))"
    return f"strftime('%Y-%m-%d %H:%M:%f', {column}, ({seconds}) || ' seconds')"


def _policy(conn: Connection) -> tuple[int, int]:
    raw = conn.execute(text("SELECT policy_json FROM billing_policy WHERE id = 1")).scalar()
    policy = json.loads(raw or "{}")
    return int(policy.get("increment_min", 6)), int(policy.get("short_call_s", 30))


def reconcile(
    engine: Engine,
    start: date,
    end: date,
    *,
    as_of: datetime,
    tolerance_s: int = 120,
    leak_days: int = 7,
    short_call_s: int | None = None,
    samples: int = 20,
) -> Reconciliation:
    """Reconcile the calls that started from ``start`` to ``end`` (whole UTC days). ``as_of`` (naive UTC) is
    the moment leakage is judged at: a laptop call leaks when it started more than ``leak_days`` before it."""
    lo = datetime.combine(start, time())
    hi = datetime.combine(end + timedelta(days=1), time())
    leak_before = as_of - timedelta(days=leak_days)
    with engine.begin() as conn:
        d = conn.dialect.name
        increment, firm_short = _policy(conn)
        short = firm_short if short_call_s is None else short_call_s
        result = Reconciliation(start, end, as_of, tolerance_s, short, leak_days)
        if d == "postgresql":
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
        else:  # SQLite keeps temporary tables for the connection's life (pooled): start clean
            for name in _TEMP_TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS temp.{name}"))
        temp = "CREATE TEMP TABLE" + (" {} ON COMMIT DROP AS" if d == "postgresql" else " {} AS")
        conn.execute(
            text(
                temp.format("rc_pbx") + " SELECT id, timekeeper_id, remote_e164, remote_hash, sip_call_id, start_utc, "
                "billsec, disposition FROM pbx_calls WHERE start_utc >= :lo AND start_utc < :hi"
            ),
            {"lo": lo, "hi": hi},
        )
        conn.execute(
            text(
                temp.format("rc_app") + " SELECT id, timekeeper_id, remote_number, number_hashed, sip_call_id, "
                "start_utc, talk_seconds, disposition, entries_json FROM calls WHERE start_utc >= :lo AND start_utc < :hi"
            ),
            {"lo": lo, "hi": hi},
        )
        conn.execute(text("CREATE INDEX rc_app_key ON rc_app (timekeeper_id, remote_number, start_utc)"))
        conn.execute(text("CREATE INDEX rc_app_callid ON rc_app (sip_call_id)"))
        if d == "postgresql":
            conn.execute(text("ANALYZE rc_pbx"))
            conn.execute(text("ANALYZE rc_app"))
        apart = _seconds_apart(d, "c.start_utc", "p.start_utc")
        window = (
            f"c.start_utc >= {_shift(d, 'p.start_utc', '-:tol')} AND c.start_utc <= {_shift(d, 'p.start_utc', ':tol')}"
        )
        conn.execute(
            text(
                temp.format("rc_cand") + " "
                "SELECT p.id AS pbx_id, c.id AS call_id, 0.0 AS score, 'call-id' AS how FROM rc_pbx p "
                "JOIN rc_app c ON c.sip_call_id = p.sip_call_id WHERE p.sip_call_id IS NOT NULL AND p.sip_call_id <> '' "
                f"UNION ALL SELECT p.id, c.id, 1.0 + {apart}, 'number' FROM rc_pbx p JOIN rc_app c "
                "ON c.timekeeper_id = p.timekeeper_id AND c.remote_number = p.remote_e164 AND NOT c.number_hashed "
                f"AND {window} WHERE p.remote_e164 IS NOT NULL "
                f"UNION ALL SELECT p.id, c.id, 1.0 + {apart}, 'number' FROM rc_pbx p JOIN rc_app c "
                "ON c.timekeeper_id = p.timekeeper_id AND c.remote_number = p.remote_hash AND c.number_hashed "
                f"AND {window} WHERE p.remote_hash IS NOT NULL"
            ),
            {"tol": tolerance_s},
        )
        conn.execute(
            text(
                temp.format("rc_match") + " SELECT pbx_id, call_id, how FROM (SELECT pbx_id, call_id, how, "
                "ROW_NUMBER() OVER (PARTITION BY pbx_id ORDER BY score, call_id) AS rp, "
                "ROW_NUMBER() OVER (PARTITION BY call_id ORDER BY score, pbx_id) AS rc FROM rc_cand) x "
                "WHERE rp = 1 AND rc = 1"
            )
        )
        conn.execute(text("CREATE INDEX rc_match_pbx ON rc_match (pbx_id)"))
        conn.execute(text("CREATE INDEX rc_match_call ON rc_match (call_id)"))
        one = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM rc_pbx), (SELECT count(*) FROM rc_app), "
                "(SELECT count(*) FROM rc_match WHERE how = 'call-id'), (SELECT count(*) FROM rc_match WHERE how = 'number')"
            )
        ).one()
        result.pbx_calls, result.app_calls, result.matched_by_call_id, result.matched_by_number = map(int, one)
        result.matched = result.matched_by_call_id + result.matched_by_number
        result.duration_mismatch = int(
            conn.execute(
                text(
                    "SELECT count(*) FROM rc_match m JOIN rc_pbx p ON p.id = m.pbx_id JOIN rc_app c ON c.id = m.call_id "
                    "WHERE abs(coalesce(p.billsec, 0) - c.talk_seconds) > "
                    "CASE WHEN c.talk_seconds * 0.1 > 30 THEN c.talk_seconds * 0.1 ELSE 30 END"
                )
            ).scalar_one()
        )
        pbx_only = "FROM rc_pbx p WHERE NOT EXISTS (SELECT 1 FROM rc_match m WHERE m.pbx_id = p.id)"
        row = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(CASE WHEN p.disposition = 'answered' THEN 1 ELSE 0 END), 0), "
                f"coalesce(sum(CASE WHEN p.timekeeper_id IS NULL THEN 1 ELSE 0 END), 0) {pbx_only}"
            )
        ).one()
        result.pbx_only, result.pbx_only_answered, result.pbx_unmapped = map(int, row)
        app_only = "FROM rc_app c WHERE NOT EXISTS (SELECT 1 FROM rc_match m WHERE m.call_id = c.id)"
        result.app_only = int(conn.execute(text(f"SELECT count(*) {app_only}")).scalar_one())
        step = increment * 60
        units = "(CAST({s} AS INTEGER) + :step - 1) / :step"
        leak_app = conn.execute(
            text(
                f"SELECT c.timekeeper_id, count(*), sum({units.format(s='c.talk_seconds')}) FROM rc_app c "
                f"WHERE c.disposition = 'answered' AND c.talk_seconds >= :short AND c.start_utc < :before "
                f"AND NOT {_APPROVED_LIKE} GROUP BY c.timekeeper_id"
            ),
            {"short": short, "before": leak_before, "step": step},
        ).all()
        leak_pbx = conn.execute(
            text(
                f"SELECT p.timekeeper_id, count(*), sum({units.format(s='coalesce(p.billsec, 0)')}) {pbx_only} "
                "AND p.disposition = 'answered' AND p.billsec >= :short AND p.timekeeper_id IS NOT NULL "
                "GROUP BY p.timekeeper_id"
            ),
            {"short": short, "step": step},
        ).all()
        keepers = {
            str(tk): (str(name), rate)
            for tk, name, rate in conn.execute(text("SELECT id, name, rate FROM timekeepers"))
        }
        per: dict[str, list[int]] = {}
        for tk, calls, u in leak_app:
            per.setdefault(str(tk), [0, 0, 0])[0:3:2] = [int(calls), int(u or 0)]
        for tk, calls, u in leak_pbx:
            acc = per.setdefault(str(tk), [0, 0, 0])
            acc[1] += int(calls)
            acc[2] += int(u or 0)
        for tk, (unlogged, pbx_calls, total_units) in sorted(per.items()):
            name, rate = keepers.get(tk, (tk, None))
            hours = Decimal(total_units * increment) / Decimal(60)
            value = (hours * Decimal(str(rate or 0))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            result.leakage.append(LeakRow(tk, name, unlogged, pbx_calls, hours.quantize(Decimal("0.01")), value))
        result.leakage_calls = sum(r.unlogged_calls + r.pbx_only_calls for r in result.leakage)
        result.leakage_value = sum((r.value for r in result.leakage), Decimal("0.00"))
        if samples:
            result.samples = _samples(conn, pbx_only, app_only, samples, short, leak_before)
        if d != "postgresql":
            for name in _TEMP_TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS temp.{name}"))
    return result


def _samples(
    conn: Connection, pbx_only: str, app_only: str, limit: int, short: int, before: datetime
) -> dict[str, list[dict[str, Any]]]:
    def rows(sql: str, **params: object) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(text(sql + " LIMIT :limit"), {"limit": limit, **params}).mappings()]

    return {
        "pbx_only": rows(
            "SELECT p.id AS pbx_call, p.timekeeper_id, p.start_utc, p.remote_e164 AS number, p.billsec AS talk_s, "
            f"p.disposition {pbx_only} ORDER BY p.start_utc"
        ),
        "app_only": rows(
            "SELECT c.id AS call, c.timekeeper_id, c.start_utc, c.remote_number AS number, "
            f"c.talk_seconds AS talk_s, c.disposition {app_only} ORDER BY c.start_utc"
        ),
        "unlogged": rows(
            "SELECT c.id AS call, c.timekeeper_id, c.start_utc, c.remote_number AS number, c.talk_seconds AS talk_s "
            "FROM rc_app c WHERE c.disposition = 'answered' AND c.talk_seconds >= :short AND c.start_utc < :before "
            f"AND NOT {_APPROVED_LIKE} ORDER BY c.start_utc",
            short=short,
            before=before,
        ),
    }
