#!/usr/bin/env python3
"""Benchmark: ``softclock matters import FILE`` of a big CSV, and how long it
keeps other writers (call capture) out of the local store.

Run from the project root::

    .venv/bin/python bench/matters_import.py [--lines 100000] [--clients 20000] [--keep] [--json]

In a fresh temporary directory it writes a CSV of ``--lines`` matters
(``code,name,client``, a header row, ``--clients`` distinct clients), creates
an empty store with the real ``open_store`` (so the schema and pragmas are the
app's), then, each against its own copy of that empty store:

1. **softclock**: the real command, ``python -m softclock.cli --data-dir DIR
   matters import FILE``, as a subprocess;
2. **baseline**: a bare subprocess that parses the same CSV with the ``csv``
   module and inserts the same rows with plain ``sqlite3`` ``executemany`` in
   one ``BEGIN IMMEDIATE`` transaction (clients first, their ids read back with
   one SELECT, then the matters), with the connection pragmas of the app.

For each it reports the wall time of the process and the **write lock held**:
while the subprocess runs, a probe thread here tries ``BEGIN IMMEDIATE`` (busy
timeout 0, i.e. what a writer such as call capture would need) every 2 ms on
its own connection and rolls back at once; the longest continuous stretch in
which that failed with ``database is locked`` is how long the import kept
writers out (resolution: the 2 ms poll). Capture's connections wait 5 s
(``PRAGMA busy_timeout=5000``) before a write fails, so a stretch over 5 s
means calls are dropped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CAPTURE_BUSY_TIMEOUT_S = 5.0
POLL_S = 0.002


def write_csv(path: Path, lines: int, clients: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["code", "name", "client"])
        for i in range(lines):
            out.writerow([f"M-{i:07d}", f"Matter {i} for the client, with a comma", f"Client {i % clients:05d} LLP"])


class LockProbe(threading.Thread):
    """Polls for the write lock of ``db``; ``longest`` is the longest locked stretch (s)."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.stop = threading.Event()
        self.longest = 0.0
        self.stretches = 0
        self.polls = 0

    def run(self) -> None:
        con = sqlite3.connect(self.db, timeout=0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout=0")
        locked_since: float | None = None
        while not self.stop.is_set():
            now = time.perf_counter()
            self.polls += 1
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if locked_since is None:
                    locked_since = now
                    self.stretches += 1
            else:
                if locked_since is not None:
                    self.longest = max(self.longest, now - locked_since)
                    locked_since = None
            time.sleep(POLL_S)
        if locked_since is not None:
            self.longest = max(self.longest, time.perf_counter() - locked_since)
        con.close()


def timed(cmd: list[str], db: Path, env: dict[str, str]) -> dict[str, object]:
    probe = LockProbe(db)
    probe.start()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    wall = time.perf_counter() - start
    probe.stop.set()
    probe.join()
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    with sqlite3.connect(db) as con:
        matters = con.execute("SELECT count(*) FROM matters").fetchone()[0]
        clients = con.execute("SELECT count(*) FROM clients").fetchone()[0]
    return {
        "wall_s": round(wall, 3),
        "lock_held_s": round(probe.longest, 3),
        "locked_stretches": probe.stretches,
        "probes": probe.polls,
        "matters": matters,
        "clients": clients,
        "stdout": proc.stdout.strip(),
    }


def baseline_worker(db: Path, csv_path: Path) -> int:
    """Plain sqlite3: parse, then one transaction of executemany."""
    con = sqlite3.connect(db, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
        con.execute(f"PRAGMA {pragma}")
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [(r[0].strip(), r[1].strip(), r[2].strip()) for r in csv.reader(fh)][1:]
    names = sorted({r[2] for r in rows})
    con.execute("BEGIN IMMEDIATE")
    con.executemany("INSERT INTO clients (name) VALUES (?)", ((n,) for n in names))
    ids = {name: cid for cid, name in con.execute("SELECT id, name FROM clients")}
    con.executemany(
        "INSERT INTO matters (code, name, client_id, status) VALUES (?, ?, ?, 'open')",
        ((code, name, ids[client]) for code, name, client in rows),
    )
    con.execute("COMMIT")
    con.close()
    print(f"baseline: {len(rows)} matters, {len(names)} clients")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=20_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (its path is printed)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--baseline-worker", nargs=2, metavar=("DB", "CSV"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_worker:
        return baseline_worker(Path(args.baseline_worker[0]), Path(args.baseline_worker[1]))

    from softclock.store.db import DB_NAME, open_store

    tmp = Path(tempfile.mkdtemp(prefix="softclock-bench-import-"))
    try:
        csv_path = tmp / "matters.csv"
        write_csv(csv_path, args.lines, args.clients)
        empty = tmp / "empty"
        open_store(empty).close()
        runs: dict[str, dict[str, object]] = {}
        for name in ("softclock", "baseline"):
            data = tmp / name
            shutil.copytree(empty, data)
            db = data / DB_NAME
            env = dict(os.environ, PYTHONPATH=str(ROOT), SOFTCLOCK_CONFIG=str(tmp / "settings.toml"))
            env.pop("SOFTCLOCK_DATA_DIR", None)
            if name == "softclock":
                cmd = [
                    sys.executable,
                    "-m",
                    "softclock.cli",
                    "--data-dir",
                    str(data),
                    "matters",
                    "import",
                    str(csv_path),
                ]
            else:
                cmd = [sys.executable, str(Path(__file__).resolve()), "--baseline-worker", str(db), str(csv_path)]
            runs[name] = timed(cmd, db, env)
            if runs[name]["matters"] != args.lines:
                raise SystemExit(f"bench: {name} left {runs[name]['matters']} matters, not {args.lines}")
        result = {"lines": args.lines, "clients": args.clients, "runs": runs}
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"matters import of {args.lines:,} lines ({args.clients:,} clients), empty store")
            print(f"{'':<10} {'wall s':>8} {'write lock held s':>18}  {'over capture busy timeout?'}")
            for name, r in runs.items():
                over = "YES: calls dropped" if float(r["lock_held_s"]) > CAPTURE_BUSY_TIMEOUT_S else "no"  # type: ignore[arg-type]
                print(f"{name:<10} {r['wall_s']:>8.2f} {r['lock_held_s']:>18.3f}  {over}")
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
