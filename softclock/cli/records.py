"""The local store from the command line: calls, entries, matters and review.

Every command goes through the same facades as the desktop app
(:mod:`softclock.facades`), signed by the same acting person.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from softclock import paths
from softclock.cli.common import UsageError
from softclock.states import EntryStatus

if TYPE_CHECKING:
    from softclock.facades import CallRow, EntryRow, Facades, ReviewService


def run(args: argparse.Namespace, data: Path) -> int:
    from softclock.store.db import open_store

    if args.command == "audit":
        from softclock.cli import audit

        store = open_store(data)
        try:
            with store.session() as s:
                return audit.run(args, s)
        finally:
            store.close()
    from softclock.errors import UserError

    try:
        store = open_store(data)
        try:
            return _records(args, store)
        finally:
            store.close()
    except (UserError, UsageError) as exc:
        raise UsageError(sentence(str(exc))) from None


def sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (a question or an exclamation keeps its mark)."""
    text = text.rstrip()
    if text.endswith(("?", "!")):
        return text
    return text.rstrip(".").rstrip() + "."


def _records(args: argparse.Namespace, store: object) -> int:
    if args.command == "entries":
        status = _status(args.status)  # a wrong one is said before anything is read
        return _print_entries(_facades(args, store).review.entries(status=status), args.json)
    views = _facades(args, store)
    if args.command == "calls":
        return _print_calls(views.calls.all(), args.json)
    if args.command == "matters":
        return _matters(args, views)
    if args.command in ("entry", "approve", "reopen"):
        return _review(args, views)
    raise UsageError(f"unknown command {args.command}")


def _status(text: str | None) -> str | None:
    """The ``--status`` asked for, or a UsageError naming the valid ones."""
    from softclock.states import EntryStatus

    if text is None:
        return None
    try:
        return EntryStatus(text.strip().lower()).value
    except ValueError:
        names = [s.value for s in EntryStatus]
        raise UsageError(f"There is no entry status {text!r}: use {', '.join(names[:-1])} or {names[-1]}.") from None


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
        print(sentence(f"Added matter {row.code}"))
        return 0
    if args.matters_command == "number":
        e164 = matters.add_number(args.number, args.client, args.matter)
        print(sentence(f"{e164} now suggests {args.matter or args.client}"))
        return 0
    if args.matters_command == "import":
        from softclock.errors import InputError

        path = Path(args.file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}).") from None
        try:
            done = matters.import_csv(text, update=args.update)
        except InputError as exc:
            hint = "" if args.update or "exists already" not in str(exc) else " (--update updates existing matters)"
            raise UsageError(f"{path}: {str(exc).rstrip('.')}; nothing was imported{hint}.") from None
        if not args.update:
            print(f"Imported {done.added} matters from {path}.")
        else:
            print(f"Imported {path}: {done.added} new, {done.updated} updated, {done.unchanged} unchanged.")
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
                print("Nothing to approve today.")
                return 0
        elif args.ids:
            outcome = review.approve(list(args.ids))
        else:
            raise UsageError("Nothing to approve: give entry ids or --today.")
        for entry_id in outcome.done:
            print(f"Approved {entry_id[:8]}.")
        import sys

        for entry_id, why in outcome.refused.items():
            print(sentence(f"Refused {entry_id[:8]}: {why}"), file=sys.stderr)
        return 0 if not outcome.refused else 1
    if args.entry_command == "split":
        from softclock.formatting import fmt_minutes

        seconds = _split_seconds(review, args.id, list(args.pieces))
        pieces = review.split(args.id, seconds, args.reason, matter_codes=list(args.matter) or None)
        print("Split into " + ", ".join(f"{p.id[:8]} ({fmt_minutes(p.raw_seconds)})" for p in pieces) + ".")
        return 0
    if args.entry_command == "merge":
        merged = review.merge(args.ids, args.reason)
        print(f"Merged into {merged.id[:8]} ({merged.raw_seconds:.0f} s, {merged.billed_units} units).")
        return 0
    changes: dict[str, object] = {}
    fields = (
        ("narrative", "narrative"),
        ("activity", "activity_code"),
        ("task", "task_code"),
        ("billable", "billable"),
        ("units", "billed_units"),
    )
    for name, field in fields:
        value = getattr(args, name)
        if value is not None:
            changes[field] = value
    if not changes and args.matter is None:
        raise UsageError("Nothing to change: give --matter, --narrative, --activity, --task, --billable or --units.")
    row = review.edit(args.id, args.reason, matter_code=args.matter, **changes)
    print(f"Entry {row.id[:8]} changed.")
    return 0


def _iso(value: object) -> str | None:
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
    _print_row("ID", "STARTED", "MATTER", "DURATION", "STATUS")
    for e in entries:
        matter = e.matter.code if e.matter else "unassigned"
        _print_row(e.id[:8], _local(e.started_utc), matter, fmt_duration(e.raw_seconds), e.status)
    return 0


def _local(value: datetime | None) -> str:
    """A stored UTC time as the person's local time, to the second (``2026-11-26 10:00:05``)."""
    from softclock.formatting import as_local

    local = as_local(value)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local is not None else "-"


def _split_seconds(review: ReviewService, entry_id: str, pieces: list[str]) -> list[float]:
    """The seconds of each piece typed as m:ss, h:mm:ss or seconds; ``rest`` is what the others leave."""
    from softclock.formatting import fmt_minutes, parse_duration

    seconds: list[float | None] = []
    for piece in pieces:
        text = piece.strip().lower()
        if text == "rest":
            seconds.append(None)
            continue
        value: float | None
        if ":" in text:
            value = parse_duration(text)
        else:
            try:
                value = float(text)
            except ValueError:
                value = None
        if value is None or not value > 0 or value == float("inf"):
            raise UsageError(f"{piece!r} is not a length: give m:ss (4:30), h:mm:ss, seconds or rest.")
        seconds.append(value)
    if seconds.count(None) > 1:
        raise UsageError("Only one piece can be rest.")
    if None not in seconds:
        return [s for s in seconds if s is not None]
    entry = _draft(review, entry_id)
    others = sum(s for s in seconds if s is not None)
    rest = entry.raw_seconds - others
    if rest < 1:
        raise UsageError(
            f"The other pieces take {fmt_minutes(others)} of entry {entry.id[:8]}'s "
            f"{fmt_minutes(entry.raw_seconds)}: nothing is left for rest."
        )
    return [rest if s is None else s for s in seconds]


def _draft(review: ReviewService, entry_id: str) -> EntryRow:
    """The entry ``entry_id`` names: its whole id, or the start of a draft's id."""
    entry = review.entry(entry_id)
    if entry is not None:
        return entry
    matches = [e for e in review.entries(status=EntryStatus.DRAFT) if e.id.startswith(entry_id)] if entry_id else []
    if len(matches) > 1:
        raise UsageError(f"{entry_id!r} matches more than one entry: give more of the id.")
    if not matches:
        raise UsageError(f"There is no draft entry {entry_id!r}.")
    return matches[0]
