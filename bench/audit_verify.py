#!/usr/bin/env python3
"""Benchmark: ``softclock audit verify`` (the whole chain, the default) on big trails.

Run from the project root::

    .venv/bin/python bench/audit_verify.py [--events 100000 1000000] [--non-ascii 0.0] [--repeat 3] [--json]

For each size it builds, in a fresh temporary directory, a real store
(``open_store``: the app's schema and pragmas) holding ``events / 8`` time
entries and their trails, eight events each, as the app writes them: the
capture's ``created`` (raw seconds), the matter chosen after the call, two
narrative edits, activity and task codes, the policy's billed units and the
approval. Every entry agrees with its trail. ``--non-ascii F`` gives a
fraction F of the entries a narrative with a non-ASCII letter ("Müller"),
which the bulk hashing cannot take on trust and hashes exactly.

It then times, best of ``--repeat``:

1. **verify**: ``softclock.audit.verify`` as ``softclock audit verify`` runs
   it: every event rehashed and every entry held to its trail;
2. **chain only**: the same without the entries (``entries=False``);
3. **quick**: ``--since-checkpoint`` right after a clean check (nothing new);
4. **bare hashlib**: ``hashlib.sha256(text).hexdigest()`` in a loop over the
   very texts the chain hashes, already in memory as bytes: the floor any
   check that rehashes every event stands on (measured in the same run).

Events per second are events / seconds. Each timed check must find the trail
intact, or the benchmark stops.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVENTS_PER_ENTRY = 8


def build(data: Path, events: int, non_ascii: float) -> list[bytes]:
    """A store with ``events`` audit events over ``events / 8`` entries; returns the hashed texts."""
    from softclock import audit
    from softclock.store.db import DB_NAME, open_store

    open_store(data).close()
    con = sqlite3.connect(data / DB_NAME)
    con.execute("INSERT INTO clients (id, name) VALUES (1, 'Acme')")
    con.execute("INSERT INTO matters (id, code, name, client_id, status) VALUES (12, 'M-12', 'Lease', 1, 'open')")
    t0 = datetime(2026, 1, 5, 9, 0, 0, 1)
    entries, trail, texts = [], [], []
    prev = audit.GENESIS
    event_id = 0
    every = int(1 / non_ascii) if non_ascii > 0 else 0
    for n in range(events // EVENTS_PER_ENTRY):
        entry = str(uuid.UUID(int=n + 1))
        raw = 30 + (n * 7919) % 3600 + (n % 1000) / 1000
        started = t0 + timedelta(minutes=n)
        who = "Müller" if every and n % every == 0 else "Miller"
        narrative = f"Call with {who} about the lease, clause {n % 40}"
        units = -(-int(raw) // 360)
        entries.append(
            (
                entry,
                "alice",
                12,
                started.date().isoformat(),
                str(started),
                raw,
                0.0,
                units,
                "A106",
                "L120",
                narrative,
                1,
                "approved",
                "",
                0,
                1,
                str(started),
                str(started),
            )
        )
        changes = [
            ("created", None, f"{raw:.3f}", f"captured from call call-{n}@sip.test"),
            ("matter_id", None, "12", "chosen in the matter prompt after the call"),
            ("narrative", "", "Call with client", ""),
            ("narrative", "Call with client", narrative, ""),
            ("activity_code", "A108", "A106", ""),
            ("task_code", "", "L120", ""),
            ("billed_units", None, str(units), "policy"),
            ("status", "draft", "approved", ""),
        ]
        for i, (field_name, old, new, reason) in enumerate(changes):
            event_id += 1
            at = started + timedelta(minutes=5, microseconds=i)
            stamp = at.isoformat(" ", "microseconds")
            iso = at.isoformat()
            actor = "capture" if field_name == "created" else "alice"
            text = audit._json_list((prev, iso, actor, "time_entry", entry, field_name, old, new, reason))
            digest = hashlib.sha256(text.encode()).hexdigest()
            texts.append(text.encode())
            trail.append((event_id, stamp, actor, "time_entry", entry, field_name, old, new, reason, prev, digest))
            prev = digest
    con.executemany(
        "INSERT INTO time_entries (id, timekeeper, matter_id, work_date, started_utc, raw_seconds, hold_seconds, "
        "billed_units, activity_code, task_code, narrative, billable, status, flag, billed_by_hand, version, "
        "created_utc, updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        entries,
    )
    con.executemany(audit._INSERT, trail)
    con.execute(
        "INSERT INTO audit_head (id, last_id, last_hash, count) VALUES (1, ?, ?, ?)", (event_id, prev, event_id)
    )
    con.commit()
    con.close()
    return texts


def best(repeat: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(events: int, non_ascii: float, repeat: int) -> dict[str, object]:
    from softclock import audit
    from softclock.store.db import open_store

    tmp = Path(tempfile.mkdtemp(prefix="softclock-bench-audit-"))
    try:
        texts = build(tmp, events, non_ascii)
        store = open_store(tmp)

        def check(**kw: object) -> None:
            with store.session() as s, s.begin():
                result = audit.verify(s, **kw)  # type: ignore[arg-type]
            if not result.ok:
                raise SystemExit(f"bench: the trail should be intact: {result.problem}")

        def bare() -> None:
            sha = hashlib.sha256
            for text in texts:
                sha(text).hexdigest()

        timings = {
            "verify": best(repeat, check),
            "chain only": best(repeat, lambda: check(entries=False)),
            "quick": best(repeat, lambda: check(since_checkpoint=True)),
            "bare hashlib": best(repeat, bare),
        }
        store.close()
        return {
            "events": events,
            "entries": events // EVENTS_PER_ENTRY,
            "non_ascii": non_ascii,
            "seconds": {k: round(v, 4) for k, v in timings.items()},
            "events_per_s": {k: round(events / v) for k, v in timings.items() if k != "quick"},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--non-ascii", type=float, default=0.0, help="fraction of entries with a non-ASCII narrative")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [measure(n, args.non_ascii, args.repeat) for n in args.events]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"audit verify, best of {args.repeat}; non-ASCII narratives: {args.non_ascii:.0%} of entries")
    print(f"{'events':>10} {'entries':>8}  {'verify':>18}  {'chain only':>18}  {'bare hashlib':>18}  {'quick s':>8}")
    for r in results:
        s, eps = r["seconds"], r["events_per_s"]  # type: ignore[index]
        cells = [f"{s[k]:6.3f} s {eps[k]:>9,}/s" for k in ("verify", "chain only", "bare hashlib")]  # type: ignore[index]
        print(f"{r['events']:>10,} {r['entries']:>8,}  " + "  ".join(cells) + f"  {s['quick']:>8.3f}")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    sys.exit(main())
