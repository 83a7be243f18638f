"""``softclock export csv|ledes`` and the admin commands behind them (``set-firm``, ``set-timekeeper``).

Entries come from the central billing store (``--url`` or ``[central] url``),
read with the login's own rights: on PostgreSQL a billing or admin login
(marking invoiced: billing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from softclock.errors import InputError
from softclock.textsafe import printable

ADMIN_COMMANDS = ("set-firm", "set-timekeeper", "import-cdr")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("export", help="export approved, uninvoiced entries from the central store (CSV, LEDES 1998B)")
    esub = p.add_subparsers(dest="export_format", required=True)
    for fmt, what in (("csv", "CSV (RFC 4180, UTF-8)"), ("ledes", "LEDES 1998B: one invoice per client matter")):
        e = esub.add_parser(fmt, help=what)
        e.add_argument("--url", help="central store URL (default: [central] url of the settings)")
        e.add_argument("--from", dest="start", metavar="DATE", help="first work date, YYYY-MM-DD")
        e.add_argument("--to", dest="end", metavar="DATE", help="last work date, YYYY-MM-DD")
        e.add_argument("--client", action="append", default=[], help="only this client (code or name); repeatable")
        e.add_argument("--output", "-o", metavar="FILE", help="the file to write")
        e.add_argument(
            "--mark-invoiced", action="store_true", help="mark the exported entries invoiced in the same transaction"
        )
        if fmt == "csv":
            e.add_argument("--bom", action="store_true", help="start with a UTF-8 byte-order mark (for Excel)")
        else:
            e.add_argument(
                "--invoice-number",
                action="append",
                default=[],
                metavar="CLIENT:MATTER=NUMBER",
                help="the invoice number of a client matter (or MATTER=NUMBER); repeatable",
            )
            e.add_argument("--invoice-prefix", default="", help="number other invoices PREFIX-<matter code>")
            e.add_argument("--invoice-date", metavar="DATE", help="YYYY-MM-DD (default: today)")
            e.add_argument("--description", default="", help="INVOICE_DESCRIPTION of every invoice")
            e.add_argument("--check", metavar="FILE", help="check a LEDES 1998B file instead; names each problem")


def add_admin_parsers(asub: Any) -> None:
    a = asub.add_parser("set-firm", help="the firm's settings in the central store (LEDES LAW_FIRM_ID)")
    a.add_argument("--law-firm-id", required=True, help="LAW_FIRM_ID of LEDES invoices (e.g. the firm's tax id)")
    a = asub.add_parser("set-timekeeper", help="change a timekeeper's rate, classification or extension (login kept)")
    a.add_argument("id")
    a.add_argument("--name")
    a.add_argument("--rate", type=float)
    a.add_argument("--classification", help="LEDES classification: PT, AS, OC, LA, PL, OT")
    a.add_argument("--extension", help="PBX extension; empty to remove")
    a.add_argument("--office")
    a.add_argument("--department")
    a = asub.add_parser("import-cdr", help="import the PBX's own call records (admin)")
    a.add_argument("file")
    a.add_argument("--format", required=True, choices=("asterisk", "freeswitch", "kamailio-acc"))
    a.add_argument("--timezone", help="the PBX's time zone for local times (e.g. America/New_York)")
    a.add_argument("--gmt", action="store_true", help="Asterisk usegmtime=yes: times are UTC")
    a.add_argument("--region", default="US", help="for numbers without a country code")


def admin_command(args: argparse.Namespace, engine: Any) -> int:
    from softclock.sync import admin

    cmd = args.admin_command
    if cmd == "set-firm":
        from softclock.reports.central_export import set_law_firm_id

        set_law_firm_id(engine, args.law_firm_id)
        print(f"LAW_FIRM_ID set to {args.law_firm_id.strip()}.")
        return 0
    if cmd == "set-timekeeper":
        fields = {
            k: getattr(args, k)
            for k in ("name", "rate", "classification", "extension", "office", "department")
            if getattr(args, k) is not None
        }
        if not fields:
            raise InputError("nothing to change: give --rate, --classification, --extension ...")
        admin.set_timekeeper(engine, args.id, **fields)
        print(f"Timekeeper {args.id} changed ({', '.join(fields)}).")
        return 0
    if cmd == "import-cdr":
        from softclock.sync import pbx

        result = pbx.import_file(
            engine, args.file, args.format, timezone=args.timezone, gmt=args.gmt, region=args.region
        )
        print(result.summary())
        return 0
    raise InputError(f"unknown admin command {cmd}")


def run(args: argparse.Namespace, config: Path, read_password: Any) -> int:
    from softclock.reports import central_export as ce

    if getattr(args, "check", None):
        return _check(args.check)
    missing = [
        name for name, value in (("--from", args.start), ("--to", args.end), ("--output", args.output)) if not value
    ]
    if missing:
        raise InputError(f"softclock export {args.export_format} needs {', '.join(missing)}")
    request = ce.ExportRequest(
        start=ce.parse_date(args.start, "--from"),
        end=ce.parse_date(args.end, "--to"),
        clients=tuple(args.client),
        mark_invoiced=args.mark_invoiced,
        **(
            {
                "invoice_numbers": ce.parse_invoice_numbers(args.invoice_number),
                "invoice_prefix": args.invoice_prefix.strip(),
                "invoice_date": ce.parse_date(args.invoice_date, "--invoice-date") if args.invoice_date else None,
                "description": args.description,
            }
            if args.export_format == "ledes"
            else {}
        ),
    )
    from softclock.cli.sync import _target_engine
    from softclock.settings import load
    from softclock.sync.connect import describe

    settings = load(config)
    url_text = args.url or settings.central.url
    if not url_text:
        raise InputError("No central store: give --url or set one with `softclock sync login --url ...`.")
    target, engine = _target_engine(url_text, settings, read_password)
    try:
        if args.export_format == "csv":
            result = ce.export_csv(engine, request, args.output, bom=args.bom)
        else:
            result = ce.export_ledes(engine, request, args.output)
    except InputError:
        raise
    except Exception as exc:  # database errors, in words
        raise InputError(describe(exc, target)) from None
    finally:
        engine.dispose()
    what = f"{result.invoices} invoices, " if args.export_format == "ledes" else ""
    print(
        f"{result.entries} entries written to {result.path} ({what}total {result.total:.2f})"
        + (f"; {result.marked} marked invoiced." if request.mark_invoiced else ".")
    )
    for sentence in result.left_out:
        print(f"Left out: {printable(sentence)}.")
    return 0


def _check(path: str) -> int:
    from softclock.reports.central_export import check_ledes_file

    problems, count = check_ledes_file(path)
    for problem in problems:
        print(f"{path}: {printable(str(problem))}")
    if problems:
        print(f"{path}: {len(problems)} problems in {count} line items.", file=sys.stderr)
        return 1
    print(f"{path}: a good LEDES 1998B file ({count} line items).")
    return 0
