"""The local store from the command line: calls, entries, matters, review and the audit trail."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from softclock import paths
from softclock.cli.common import UsageError


def run(args: argparse.Namespace, data: Path) -> int:
    from softclock.store import queries
    from softclock.store.db import open_store

    store = open_store(data)
    try:
        with store.session() as s:
            if args.command == "audit":
                from softclock.cli import audit

                return audit.run(args, s)
            if args.command == "calls":
                return _print_calls(queries.calls_between(s), args.json)
            if args.command == "entries":
                return _print_entries(queries.entries(s, status=args.status), args.json)
            if args.command == "matters":
                return _matters(args, s)
            if args.command in ("entry", "approve", "reopen"):
                return _review(args, s)
    finally:
        store.close()
    raise UsageError(f"unknown command {args.command}")


def _matters(args: argparse.Namespace, s: object) -> int:
    from sqlalchemy.orm import Session

    from softclock.store import queries

    assert isinstance(s, Session)
    if args.matters_command == "add":
        with s.begin():
            matter = queries.add_matter(s, args.code, args.name, args.client)
        print(f"Added matter {matter.code}.")
        return 0
    if args.matters_command == "number":
        with s.begin():
            e164 = queries.add_number(s, args.number, args.client, args.matter)
        print(f"{e164} now suggests {args.matter or args.client}.")
        return 0
    if args.matters_command == "import":
        path = Path(args.file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from None
        try:
            with s.begin():
                count = queries.import_matters(s, text)
        except queries.InputError as exc:
            raise UsageError(f"{path}: {exc}; nothing was imported") from None
        print(f"Imported {count} matters from {path}.")
        return 0
    rows = queries.search_matters(s, "", limit=100000)
    if args.json:
        print(json.dumps([{"id": r.id, "code": r.code, "name": r.name, "client": r.client} for r in rows], indent=1))
    else:
        for r in rows:
            _print_row(r.code, r.client, r.name)
    return 0


def _review(args: argparse.Namespace, s: object) -> int:
    from datetime import date

    from sqlalchemy.orm import Session

    from softclock import audit, review
    from softclock.settings import load

    assert isinstance(s, Session)
    from softclock.sync.state import firm_policy

    # The firm's policy as last pulled from the central store, else the settings'.
    from softclock.app import acting_person

    settings = load(paths.config_path(args.config))
    _actor = acting_person(settings)  # the same person the desktop app signs with
    policy = firm_policy(s, settings.billing.policy())
    s.rollback()  # end the read, so each command below runs in its own transaction
    if args.command == "reopen":
        with s.begin():
            entry = review.reopen(s, args.id, _actor(), args.reason)
        print(f"Entry {entry.id[:8]} reopened as version {entry.version}.")
        return 0
    if args.command == "approve":
        with s.begin():
            ids = review.drafts_for_day(s, date.today()) if args.today else list(args.ids)
            if not ids:
                raise UsageError("nothing to approve: give entry ids or --today")
            outcome = review.approve(s, ids, _actor(), policy)
        for entry_id in outcome.done:
            print(f"approved {entry_id[:8]}")
        for entry_id, why in outcome.refused.items():
            print(f"refused {entry_id[:8]}: {why}", file=sys.stderr)
        return 0 if not outcome.refused else 1
    if args.entry_command == "split":
        with s.begin():
            matters = [_matter_id(s, code) for code in args.matter] if args.matter else None
            pieces = review.split(s, args.id, _actor(), list(args.seconds), policy, args.reason, matters)
        print("Split into " + ", ".join(f"{p.id[:8]} ({p.raw_seconds:.0f} s)" for p in pieces) + ".")
        return 0
    if args.entry_command == "merge":
        with s.begin():
            merged = review.merge(s, args.ids, _actor(), policy, args.reason)
        print(f"Merged into {merged.id[:8]} ({merged.raw_seconds:.0f} s, {merged.billed_units} units).")
        return 0
    changes: dict[str, object] = {}
    if args.matter is not None:
        with s.begin():
            changes["matter_id"] = _matter_id(s, args.matter)
    for name, field in (("narrative", "narrative"), ("activity", "activity_code"), ("task", "task_code"),
                        ("billable", "billable"), ("units", "billed_units")):  # fmt: skip
        value = getattr(args, name)
        if value is not None:
            changes[field] = value
    if not changes:
        raise UsageError("nothing to change: give --matter, --narrative, --activity, --task, --billable or --units")
    with s.begin():
        entry = review.edit(s, args.id, _actor(), args.reason, **changes)
    print(f"Entry {entry.id[:8]} changed.")
    return 0


def _matter_id(s: object, code: str) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from softclock.store.models import Matter

    assert isinstance(s, Session)
    matter_id = s.scalars(select(Matter.id).where(Matter.code == code)).first()
    if matter_id is None:
        raise UsageError(f"no matter {code!r}")
    return matter_id


def _iso(value: object) -> str | None:
    return value.isoformat() + "Z" if value is not None else None  # type: ignore[attr-defined]


def _print_row(*cells: object) -> None:
    """One tab-separated table row. Cells may hold text from the network (a
    caller's display name): controls and bidi overrides are printed escaped, so
    no cell can add a column or a line, or repaint the terminal. ``--json`` is raw."""
    from softclock.textsafe import printable

    print("\t".join(printable(str(cell)) for cell in cells))


def _print_calls(calls: list, as_json: bool) -> int:  # type: ignore[type-arg]
    from softclock.store.queries import fmt_duration

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
        _print_row(r["invited_utc"], r["direction"], who, r["disposition"], fmt_duration(r["talk_seconds"]))
    return 0


def _print_entries(entries: list, as_json: bool) -> int:  # type: ignore[type-arg]
    from softclock.store.queries import fmt_duration

    rows = [
        {
            "id": e.id,
            "sip_call_id": e.call.sip_call_id if e.call else None,
            "timekeeper": e.timekeeper,
            "matter": e.matter.code if e.matter else None,
            "client": e.matter.client.name if e.matter else None,
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
    for r in rows:
        _print_row(r["started_utc"], r["matter"] or "unassigned", fmt_duration(r["raw_seconds"]), r["status"])
    return 0


