"""``softclock report NAME``: reports from the central store, with the login's own rights.

``calls``, ``time``, ``leakage``, ``unbilled``, ``hours-chart`` and ``reconciliation`` (which keeps its
own options: ``--tolerance``, ``--short-call``, ``--json``) print a table, or write CSV, JSON or a PDF
(``--format``, ``--output``). The queries are :mod:`softclock.reports.central_reports`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from softclock.errors import InputError
from softclock.textsafe import printable

FORMATS = ("table", "csv", "json", "pdf")
GROUPINGS = ("timekeeper", "department", "office", "client", "matter", "day", "week", "month")
_HELP = {
    "calls": "call history, timekeeper by timekeeper: every call with its entries and their status",
    "time": "raw hours, billed hours and value by timekeeper, department, office, client, matter, day/week/month",
    "leakage": "answered calls without approved time after N days, and calls only the phone system saw, by timekeeper",
    "unbilled": "approved time not yet invoiced, by client and matter, aged 0-30 / 31-60 / 61-90 / 90+ days",
    "hours-chart": "captured vs approved vs unlogged hours per timekeeper per week (a chart in the PDF)",
}


def _common(r: Any, name: str) -> None:
    r.add_argument("--url", help="central store URL (default: [central] url of the settings)")
    r.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD (default: 30 days ago)")
    r.add_argument("--to", dest="end", metavar="DATE", help="last day, YYYY-MM-DD (default: today)")
    r.add_argument(
        "--format", choices=FORMATS, default=None, help="table (default), csv, json or pdf (pdf needs --output)"
    )
    r.add_argument("--output", metavar="FILE", help="write to FILE instead of the screen")
    if name == "reconciliation":
        return
    if name in ("time", "unbilled"):
        r.add_argument(
            "--by",
            action="append",
            default=[],
            metavar="GROUPING",
            help=f"group by one or more of {', '.join(GROUPINGS)} (repeat, or separate with commas)",
        )
    for flag, what in (
        ("timekeeper", "a timekeeper's id or name"),
        ("office", "an office"),
        ("department", "a department"),
        ("client", "a client's code or name"),
        ("matter", "a matter's code"),
    ):
        r.add_argument(f"--{flag}", action="append", default=[], metavar="NAME", help=f"only {what} (repeatable)")
    if name == "calls":
        r.add_argument("--search", default="", help="a number, a name or words of a narrative")
        r.add_argument("--limit", type=int, default=None, help="at most this many calls")
    if name == "leakage":
        r.add_argument(
            "--days",
            type=int,
            default=7,
            help="a call without an approved entry after this many days leaks (default 7)",
        )
    r.add_argument(
        "--as-of",
        dest="as_of",
        metavar="WHEN",
        help="judge ageing and leakage as at YYYY-MM-DD[THH:MM] UTC (default: now)",
    )


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("report", help="reports from the central store")
    rsub = p.add_subparsers(dest="report_name", required=True)
    for name, help_text in _HELP.items():
        _common(rsub.add_parser(name, help=help_text), name)
    r = rsub.add_parser(
        "reconciliation", help="PBX call records against captured calls: matched, PBX only, laptop only, leakage"
    )
    r.add_argument("--tolerance", type=int, default=120, help="seconds two starts may be apart (default 120)")
    r.add_argument(
        "--days",
        type=int,
        default=7,
        help="an answered call without an approved entry after this many days is leakage (default 7)",
    )
    r.add_argument("--short-call", type=int, default=None, help="seconds (default: the firm's policy)")
    r.add_argument("--limit", type=int, default=20, help="calls listed behind each outcome (default 20)")
    r.add_argument("--json", action="store_true", help="the same as --format json (the reconciliation's own JSON)")
    _common(r, "reconciliation")


def _day(value: str | None, default: date, what: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date: write it YYYY-MM-DD") from None


def _moment(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not a date or time: write it YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _split(values: Iterable[str]) -> tuple[str, ...]:
    """``--by a,b --by c`` as ``(a, b, c)``."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if v.strip())


def run(args: argparse.Namespace, config: Path, read_password: Any) -> int:
    from softclock.cli.sync import _target_engine
    from softclock.formatting import utc_now
    from softclock.reports.model import ReportRequest
    from softclock.settings import load
    from softclock.sync.connect import describe

    now = utc_now()
    end = _day(args.end, now.date(), "--to")
    start = _day(args.start, end - timedelta(days=30), "--from")
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    name = args.report_name
    fmt = args.format or ("json" if getattr(args, "json", False) else "table")
    if getattr(args, "json", False) and fmt != "json":
        raise InputError(f"--json and --format {fmt} ask for two formats: give one")
    if fmt == "pdf" and not args.output:
        raise InputError("--format pdf writes a file: give --output FILE.pdf")
    limit = getattr(args, "limit", None) if name == "calls" else None
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be 1 or more, not {limit}")
    request = ReportRequest(
        name=name,
        start=start,
        end=end,
        by=_split(getattr(args, "by", ())),
        timekeeper=_names(getattr(args, "timekeeper", ())),
        office=_names(getattr(args, "office", ())),
        department=_names(getattr(args, "department", ())),
        client=_names(getattr(args, "client", ())),
        matter=_names(getattr(args, "matter", ())),
        search=getattr(args, "search", "") or "",
        as_of=_moment(getattr(args, "as_of", None), now),
        leak_days=args.days if name in ("leakage", "reconciliation") else 7,
        limit=limit,
    )
    if fmt == "pdf":
        _pdf_writer()  # before the query: a build without it says so at once
    settings = load(config)
    url_text = args.url or settings.central.url
    if not url_text:
        raise InputError("No central store: give --url or set one with `softclock sync login --url ...`.")
    target, engine = _target_engine(url_text, settings, read_password)
    try:
        if name == "reconciliation":
            from softclock.reports.central_reconcile import reconcile

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
        else:
            from softclock.reports.central_reports import run_report

            report = run_report(engine, request)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(describe(exc, target)) from None
    finally:
        engine.dispose()
    if name == "reconciliation":
        if fmt == "json":
            _emit(result.as_json() + "\n", args.output)
            return 0
        if fmt == "table" and not args.output:
            _print_reconciliation(result)
            return 0
        from softclock.reports.central_reports import reconciliation_report

        report = reconciliation_report(result, request)
    _write(report, fmt, args.output)
    return 0


def _pdf_writer() -> Any:
    try:
        from softclock.reports.pdf import write_pdf
    except ImportError as exc:
        raise InputError(
            f"PDF reports are not available in this installation ({exc}): use --format table, csv or json."
        ) from None
    return write_pdf


def _emit(text: str, output: str | None) -> None:
    if not output:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"Cannot write {output}: {exc.strerror or exc}") from None
    print(f"Wrote {output}")


def _write(report: Any, fmt: str, output: str | None) -> None:
    import io

    from softclock.reports import cells, report_text

    if fmt == "table":
        _emit(report_text.table_text(report), output)
    elif fmt == "json":
        _emit(report_text.report_json(report) + "\n", output)
    elif fmt == "csv":
        buffer = io.StringIO(newline="")
        cells.write_csv(report, buffer)
        _emit(buffer.getvalue(), output)
    else:
        assert output is not None
        from softclock.errors import UserError

        try:
            _pdf_writer()(report, output)
        except UserError:
            raise
        except OSError as exc:
            raise InputError(f"Cannot write {output}: {exc.strerror or exc}") from None
        print(f"Wrote {output} ({len(report.rows):,} rows)")


def _print_reconciliation(result: Any) -> None:
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
