#!/usr/bin/env python3
"""Benchmark: parsing an Asterisk ``Master.csv`` of a million lines.

Run from the project root::

    .venv/bin/python bench/cdr_parse.py [--lines 1000000] [--numbers 20000] [--timezone America/New_York] [--keep] [--json]

In a temporary directory it writes ``--lines`` Asterisk ``cdr_csv`` records
(18 columns: loguniqueid and loguserfield on; a third of them carrying a
``callid=`` userfield; caller IDs with a comma inside the quoted name; local
times in ``--timezone`` across a year, so both DST changes are crossed; 40 %
answered; the outside numbers drawn from ``--numbers`` distinct ones, as a
firm's callers repeat), then, in the same run:

1. **baseline**: a bare ``csv.reader`` pass over the file, touching each row;
2. **softclock**: ``softclock.reports.cdr.parse_file(..., "asterisk")``, every
   record made into a ``PbxCall`` (UTC times, E.164 numbers, extension and
   direction, dedup key), consumed one at a time as an importer would.

It prints wall and CPU seconds and lines/s for each, and the ratios (on a
shared machine the CPU seconds are the steadier figure), with the load average. The E.164 conversion is cached per
distinct number: ``--numbers`` near ``--lines`` shows the uncached cost.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from softclock.reports import cdr  # noqa: E402


def write_master_csv(path: Path, lines: int, numbers: int, zone: ZoneInfo, seed: int = 7) -> None:
    rng = random.Random(seed)
    outside = [f"{rng.randint(201, 989)}555{rng.randint(0, 9999):04d}" for _ in range(numbers)]
    year_start = datetime(2026, 1, 1, tzinfo=zone)
    step = timedelta(seconds=365 * 86400 / lines)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        for i in range(lines):
            ext = str(200 + i % 300)
            other = outside[rng.randrange(numbers)]
            start = (year_start + step * i).astimezone(zone)
            answered = rng.random() < 0.4
            ring = rng.randint(2, 25)
            talk = rng.randint(5, 1800) if answered else 0
            end = start + timedelta(seconds=ring + talk)
            fmt = "%Y-%m-%d %H:%M:%S"
            if i % 2:
                src, dst, clid = ext, other, f'"Timekeeper {ext}" <{ext}>'
                channel, dstchannel = f"PJSIP/{ext}-{i:08x}", f"PJSIP/trunk-{i + 1:08x}"
            else:
                src, dst, clid = other, "5551000", f'"Client {other[-4:]}, Esq." <{other}>'
                channel, dstchannel = f"PJSIP/trunk-{i:08x}", f"PJSIP/{ext}-{i + 1:08x}"
            userfield = f"callid={i:x}-{rng.getrandbits(48):x}@10.0.0.5" if i % 3 == 0 else ""
            out.writerow(
                [
                    "",
                    src,
                    dst,
                    "from-internal",
                    clid,
                    channel,
                    dstchannel,
                    "Dial",
                    f"PJSIP/{dst},30",
                    start.strftime(fmt),
                    (start + timedelta(seconds=ring)).strftime(fmt) if answered else "",
                    end.strftime(fmt),
                    ring + talk,
                    talk,
                    "ANSWERED" if answered else rng.choice(("NO ANSWER", "BUSY", "FAILED")),
                    "DOCUMENTATION",
                    f"{1767225600 + i}.{i}",
                    userfield,
                ]
            )


def bare_csv(path: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, rows)."""
    began, cpu = time.perf_counter(), time.process_time()
    count = 0
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            if row:
                count += 1
    return time.perf_counter() - began, time.process_time() - cpu, count


def softclock_parse(path: Path, zone: str) -> tuple[float, float, int]:
    """(wall s, CPU s, calls)."""
    began, cpu = time.perf_counter(), time.process_time()
    count = 0
    for _call in cdr.parse_file(path, "asterisk", timezone=zone, region="US"):
        count += 1
    return time.perf_counter() - began, time.process_time() - cpu, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--numbers", type=int, default=20_000, help="distinct outside numbers")
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cdr._e164.cache_clear()
    tmp = Path(tempfile.mkdtemp(prefix="softclock-cdr-bench-"))
    try:
        path = tmp / "Master.csv"
        began = time.perf_counter()
        write_master_csv(path, args.lines, args.numbers, ZoneInfo(args.timezone))
        written_s = time.perf_counter() - began
        baseline_s, baseline_cpu, baseline_n = bare_csv(path)
        softclock_s, softclock_cpu, softclock_n = softclock_parse(path, args.timezone)
        assert baseline_n == softclock_n == args.lines, (baseline_n, softclock_n)
        result = {
            "lines": args.lines,
            "distinct_numbers": args.numbers,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "generate_s": round(written_s, 2),
            "baseline_csv_reader_s": round(baseline_s, 2),
            "baseline_cpu_s": round(baseline_cpu, 2),
            "baseline_lines_per_s": round(baseline_n / baseline_s),
            "softclock_parse_s": round(softclock_s, 2),
            "softclock_cpu_s": round(softclock_cpu, 2),
            "softclock_lines_per_s": round(softclock_n / softclock_s),
            "ratio": round(softclock_s / baseline_s, 1),
            "cpu_ratio": round(softclock_cpu / baseline_cpu, 1),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "python": sys.version.split()[0],
        }
        if args.keep:
            result["file"] = str(path)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{args.lines:,} Asterisk cdr_csv lines ({result['file_mb']} MB, {args.numbers:,} distinct outside numbers)"
        )
        print(
            f"  baseline csv.reader  {baseline_s:7.2f} s wall  {baseline_cpu:7.2f} s CPU"
            f"  {result['baseline_lines_per_s']:>10,} lines/s"
        )
        print(
            f"  softclock cdr.parse  {softclock_s:7.2f} s wall  {softclock_cpu:7.2f} s CPU"
            f"  {result['softclock_lines_per_s']:>10,} lines/s  ({result['ratio']}x the bare reader's wall time,"
            f" {result['cpu_ratio']}x its CPU time)"
        )
        print(f"  (load average {result['load_average_1min']} on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
