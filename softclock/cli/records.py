"""The local store from the command line: calls, entries, matters and review.

Every command goes through the same facades as the desktop app
(:mod:`softclock.facades`), signed by the same acting person.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from softclock import paths
from softclock.cli.common import UsageError

if TYPE_CHECKING:
    from softclock.facades import CallRow, EntryRow, Facades


def run(args: argparse.Namespace, data: Path) -> int:
    from softclock.store.db import open_store

    store = open_store(data)
    try:
        if args.command == "audit":
            from softclock.cli import audit

            with store.session() as s:
                return audit.run(args, s)
        views = _facades(args, store)
        if args.command == "calls":
            return _print_calls(views.calls.all(), args.json)
        if args.command == "entries":
            return _print_entries(views.review.entries(status=args.status), args.json)
        if args.command == "matters":
            return _matters(args, views)
        if args.command in ("entry", "approve", "reopen"):
            return _review(args, views)
    finally:
        store.close()
    raise UsageError(f"unknown command {args.command}")


def _facades(args: argparse.Namespace, store: object) -> Facades:
    from softclock.app import acting_person, firm_policy
    from softclock.changes import ChangeBus
    from softclock.facades import facades
    from softclock.settings import load
    from softclock.store.db import Store

    assert isinstance(store, Store)
    settings = load(paths.config_path(args.config))
    # The same person the desktop app signs with; the firm's policy as last pulled, else the settings'.
    return facades(store, acting_person(settings), lambda: firm_policy(store, settings), ChangeBus())


def _matters(args: argparse.Namespace, views: Facades) -> int:
    matters = views.matters
    if args.matters_command == "add":
        row = matters.add(args.code, args.name, args.client)
        print(f"Added matter {row.code}.")
        return 0
    if args.matters_command == "number":
        e164 = matters.add_number(args.number, args.client, args.matter)
        print(f"{e164} now suggests {args.matter or args.client}.")
        return 0
    if args.matters_command == "import":
        from softclock.errors import InputError

        path = Path(args.file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from None
        try:
            count = matters.import_csv(text)
        except InputError as exc:
            raise UsageError(f"{path}: {exc}; nothing was imported") from None
        print(f"Imported {count} matters from {path}.")
        return 0
    rows = matters.search("", limit=100000)
    if args.json:
        print(json.dumps([{"id": r.id, "code": r.code, "name": r.name, "client": r.client} for r in rows], indent=1))
    else:
        for r in rows:
            _print_row(r.code, r.client, r.name)
    return 0


def _review(args: argparse.Namespace, views: Facades) -> int:
    review = views.review
    if args.command == "reopen":
        entry = review.reopen(args.id, args.reason)
        print(f"Entry {entry.id[:8]} reopened as version {entry.version}.")
        return 0
    if args.command == "approve":
        if args.today:
            outcome = review.approve_day(date.today())
            if outcome is None:
                raise UsageError("nothing to approve: give entry ids or --today")
        elif args.ids:
            outcome = review.approve(list(args.ids))
        else:
            raise UsageError("nothing to approve: give entry ids or --today")
        for entry_id in outcome.done:
            print(f"approved {entry_id[:8]}")
        import sys

        for entry_id, why in outcome.refused.items():
            print(f"refused {entry_id[:8]}: {why}", file=sys.stderr)
        return 0 if not outcome.refused else 1
    if args.entry_command == "split":
        pieces = review.split(args.id, list(args.seconds), args.reason, matter_codes=list(args.matter) or None)
        print("Split into " + ", ".join(f"{p.id[:8]} ({p.raw_seconds:.0f} s)" for p in pieces) + ".")
        return 0
    if args.entry_command == "merge":
        merged = review.merge(args.ids, args.reason)
        print(f"Merged into {merged.id[:8]} ({merged.raw_seconds:.0f} s, {merged.billed_units} units).")
        return 0
    changes: dict[str, object] = {}
    fields = (("narrative", "narrative"), ("activity", "activity_code"), ("task", "task_code"),
              ("billable", "billable"), ("units", "billed_units"))  # fmt: skip
    for name, field in fields:
        value = getattr(args, name)
        if value is not None:
            changes[field] = value
    if not changes and args.matter is None:
        raise UsageError("nothing to change: give --matter, --narrative, --activity, --task, --billable or --units")
    row = review.edit(args.id, args.reason, matter_code=args.matter, **changes)
    print(f"Entry {row.id[:8]} changed.")
    return 0


def _iso(value: object) -> str | None:
    from datetime import datetime

    return value.isoformat() + "Z" if isinstance(value, datetime) else None


def _print_row(*cells: object) -> None:
    """One tab-separated table row. Cells may hold text from the network (a
    caller's display name): controls and bidi overrides are printed escaped, so
    no cell can add a column or a line, or repaint the terminal. ``--json`` is raw."""
    from softclock.textsafe import printable

    print("\t".join(printable(str(cell)) for cell in cells))


def _print_calls(calls: list[CallRow], as_json: bool) -> int:
    from softclock.formatting import fmt_duration

    rows = [
        {
            "sip_call_id": c.sip_call_id,
            "direction": c.direction,
            "remote_uri": c.remote_uri,
            "remote_number": c.remote_number,
            "display_name": c.display_name,
            "invited_utc": _iso(c.invited_utc),
            "answered_utc": _iso(c.answered_utc),
            "ended_utc": _iso(c.ended_utc),
            "ring_seconds": round(c.ring_seconds, 3),
            "talk_seconds": round(c.talk_seconds, 3),
            "disposition": c.disposition,
            "sip_status": c.sip_status,
            "recovered": c.recovered,
        }
        for c in calls
    ]
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        who = r["display_name"] or r["remote_number"] or r["remote_uri"]
        _print_row(r["invited_utc"], r["direction"], who, r["disposition"], fmt_duration(float(r["talk_seconds"] or 0)))
    return 0


def _print_entries(entries: list[EntryRow], as_json: bool) -> int:
    from softclock.formatting import fmt_duration

    rows = [
        {
            "id": e.id,
            "sip_call_id": e.sip_call_id,
            "timekeeper": e.timekeeper,
            "matter": e.matter.code if e.matter else None,
            "client": e.matter.client if e.matter else None,
            "work_date": e.work_date.isoformat(),
            "started_utc": _iso(e.started_utc),
            "raw_seconds": round(e.raw_seconds, 3),
            "billed_units": e.billed_units,
            "activity_code": e.activity_code,
            "narrative": e.narrative,
            "billable": e.billable,
            "status": e.status,
            "flag": e.flag,
            "version": e.version,
        }
        for e in entries
    ]
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    for e in entries:
        _print_row(_iso(e.started_utc), e.matter.code if e.matter else "unassigned", fmt_duration(e.raw_seconds), e.status)
    return 0
