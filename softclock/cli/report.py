"""``softclock report reconciliation``: the PBX's records against the calls the laptops pushed."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from softclock.errors import InputError
from softclock.textsafe import printable


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("report", help="reports from the central store")
    rsub = p.add_subparsers(dest="report_name", required=True)
    r = rsub.add_parser(
        "reconciliation", help="PBX call records against captured calls: matched, PBX only, laptop only, leakage"
    )
    r.add_argument("--url", help="central store URL (default: [central] url of the settings)")
    r.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD (default: 30 days ago)")
    r.add_argument("--to", dest="end", metavar="DATE", help="last day, YYYY-MM-DD (default: today)")
    r.add_argument("--tolerance", type=int, default=120, help="seconds two starts may be apart (default 120)")
    r.add_argument(
        "--days",
        type=int,
        default=7,
        help="an answered call without an approved entry after this many days is leakage (default 7)",
    )
    r.add_argument("--short-call", type=int, default=None, help="seconds (default: the firm's policy)")
    r.add_argument("--limit", type=int, default=20, help="calls listed behind each outcome (default 20)")
    r.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, config: Path, read_password: Any) -> int:
    from softclock.cli.sync import _target_engine
    from softclock.formatting import utc_now
    from softclock.reports.central_reconcile import reconcile
    from softclock.settings import load
    from softclock.sync.connect import describe

    def day(value: str | None, default: date, what: str) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InputError(f"{what} {value!r} is not a date: write it YYYY-MM-DD") from None

    now = utc_now()
    end = day(args.end, now.date(), "--to")
    start = day(args.start, end - timedelta(days=30), "--from")
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    settings = load(config)
    url_text = args.url or settings.central.url
    if not url_text:
        raise InputError("No central store: give --url or set one with `softclock sync login --url ...`.")
    target, engine = _target_engine(url_text, settings, read_password)
    try:
        result = reconcile(
            engine,
            start,
            end,
            as_of=now,
            tolerance_s=args.tolerance,
            leak_days=args.days,
            short_call_s=args.short_call,
            samples=args.limit,
        )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(describe(exc, target)) from None
    finally:
        engine.dispose()
    if args.json:
        print(result.as_json())
        return 0
    r = result
    print(
        f"Reconciliation {r.start} to {r.end} (starts within {r.tolerance_s} s; leakage after {r.leak_days} days, "
        f"calls of {r.short_call_s} s or more)"
    )
    print(f"  PBX calls             {r.pbx_calls:>9,}")
    print(f"  captured calls        {r.app_calls:>9,}")
    print(
        f"  matched               {r.matched:>9,}  (by Call-ID {r.matched_by_call_id:,}, "
        f"by number and time {r.matched_by_number:,}; talk time differs: {r.duration_mismatch:,})"
    )
    print(
        f"  PBX only              {r.pbx_only:>9,}  (answered {r.pbx_only_answered:,}; "
        f"on no timekeeper's extension {r.pbx_unmapped:,})"
    )
    print(f"  laptop only           {r.app_only:>9,}")
    print(f"  leakage               {r.leakage_calls:>9,}  estimated value {r.leakage_value:,.2f}")
    if r.leakage:
        print("\n  timekeeper            unlogged  PBX only    hours      value")
        for row in r.leakage:
            print(
                f"  {printable(row.timekeeper_id)[:20]:<20} {row.unlogged_calls:>9,} {row.pbx_only_calls:>9,} "
                f"{row.hours:>8} {row.value:>10,.2f}"
            )
    for name, title in (("pbx_only", "PBX only"), ("app_only", "laptop only"), ("unlogged", "unlogged")):
        listed = r.samples.get(name) or []
        if listed:
            print(f"\n  {title} (first {len(listed)}):")
            for item in listed:
                print("   " + "  ".join(printable(str(v)) for v in item.values()))
    return 0
