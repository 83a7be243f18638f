"""``softclock`` and its subcommands.

With no subcommand it starts the desktop app. Every error that a person can
fix is printed as one sentence on stderr with exit code 2; nothing prints a
password.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from softclock import paths

log = logging.getLogger("softclock.cli")


class UsageError(Exception):
    """Something the user can fix; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="softclock", description="Softclock: a softphone that turns calls into time entries."
    )
    parser.add_argument("--config", help="settings file (default: the platform's config dir; env SOFTCLOCK_CONFIG)")
    parser.add_argument("--data-dir", help="data directory (default: the platform's data dir; env SOFTCLOCK_DATA_DIR)")
    parser.add_argument("--version", action="version", version="softclock 0.1.0")
    sub = parser.add_subparsers(dest="command")

    sub.add_parser("run", help="start the desktop app (the default)")

    p = sub.add_parser("calls", help="list recorded calls")
    p.add_argument("--json", action="store_true", help="one JSON array")

    p = sub.add_parser("entries", help="list time entries")
    p.add_argument("--json", action="store_true")
    p.add_argument("--status", help="only entries with this status (draft, approved, ...)")

    p = sub.add_parser("matters", help="manage local matters")
    msub = p.add_subparsers(dest="matters_command", required=True)
    m = msub.add_parser("add", help="add a matter")
    m.add_argument("code")
    m.add_argument("name")
    m.add_argument("--client", required=True)
    m = msub.add_parser("import", help="import matters from CSV: code,name,client")
    m.add_argument("file")
    m = msub.add_parser("number", help="map a phone number to a client (and optionally a matter)")
    m.add_argument("number")
    m.add_argument("--client", required=True)
    m.add_argument("--matter", default="", help="matter code")
    m = msub.add_parser("list", help="list open matters")
    m.add_argument("--json", action="store_true")

    p = sub.add_parser("entry", help="change one time entry (drafts only; every change is audited)")
    esub = p.add_subparsers(dest="entry_command", required=True)
    e = esub.add_parser("edit", help="edit a draft")
    e.add_argument("id")
    e.add_argument("--matter", help="matter code")
    e.add_argument("--narrative")
    e.add_argument("--activity", help="UTBMS activity code (A105-A108)")
    e.add_argument("--task", help="UTBMS task code")
    e.add_argument("--billable", action=argparse.BooleanOptionalAction, default=None)
    e.add_argument("--units", type=int, help="billed units set by hand (needs --reason)")
    e.add_argument("--reason", default="")
    e = esub.add_parser("split", help="split a draft into pieces of the given seconds")
    e.add_argument("id")
    e.add_argument("seconds", type=float, nargs="+")
    e.add_argument("--matter", action="append", default=[], help="matter code of each piece, in order (all or none)")
    e.add_argument("--reason", default="")
    e = esub.add_parser("merge", help="merge drafts of one matter and day into the earliest")
    e.add_argument("ids", nargs="+")
    e.add_argument("--reason", default="", help="why (needed when billed units were set by hand)")

    p = sub.add_parser("approve", help="approve drafts (validated; billed units fixed by policy)")
    p.add_argument("ids", nargs="*")
    p.add_argument("--today", action="store_true", help="every draft of today")

    p = sub.add_parser("reopen", help="send an approved entry back to draft (new version)")
    p.add_argument("id")
    p.add_argument("--reason", required=True)

    p = sub.add_parser("audit", help="the audit trail")
    usub = p.add_subparsers(dest="audit_command", required=True)
    u = usub.add_parser("verify", help="check the hash chain; names any edited, inserted or deleted event")
    u.add_argument("--full", action="store_true", help="recheck every event, not just those since the last check")

    p = sub.add_parser("dial", help="dial in the running app (or start it and dial)")
    p.add_argument("uri")

    p = sub.add_parser("account", help="manage the SIP account")
    asub = p.add_subparsers(dest="account_command", required=True)
    a = asub.add_parser("add", help="set the account; the password is read from stdin or prompted")
    a.add_argument("--server", required=True, help="registrar HOST[:PORT]")
    a.add_argument("--user", required=True)
    a.add_argument("--auth-id", default="")
    a.add_argument("--domain", default="")
    a.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp")
    a.add_argument("--srtp", choices=("off", "optional", "mandatory"), default="off", help="encrypted media")
    a.add_argument("--tls-ca-file", default="", help="CA certificates (PEM) for TLS; default: the system's")
    a.add_argument("--outbound-proxy", default="")
    a.add_argument(
        "--backup-server", action="append", default=[], help="registrar HOST[:PORT] used while the server is down"
    )
    a.add_argument("--display-name", default="")
    a.add_argument("--auto-answer", action="store_true")
    asub.add_parser("show", help="show the account (never the password)")
    t = asub.add_parser("turn", help="set the TURN relay for media; its password is read from stdin or prompted")
    t.add_argument("--server", default="", help="TURN relay HOST[:PORT]")
    t.add_argument("--user", default="", help="TURN user name")
    t.add_argument("--off", action="store_true", help="stop using a TURN relay")
    from softclock import cli_sync

    cli_sync.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        from softclock.textsafe import printable

        print(f"softclock: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from softclock.errors import UserError

    config = paths.config_path(args.config)
    data = paths.data_dir(args.data_dir)
    try:
        if args.command in (None, "run"):
            return _run(config, data, None)
        if args.command == "dial":
            return _dial(config, data, args.uri)
        if args.command == "account":
            return _account(args, config)
        if args.command in ("sync", "admin"):
            from softclock import cli_sync

            return cli_sync.run(args, config, data, _read_password)
        return _store_command(args, data)
    except UserError as exc:
        raise UsageError(str(exc)) from None


def _run(config: Path, data: Path, dial: str | None) -> int:
    from softclock import logs
    from softclock.settings import load

    paths.ensure_private_dir(data)
    logs.setup(data, level=logging.WARNING)
    load(config)  # a broken settings file is reported before any window opens
    from softclock.ui.application import run_gui

    return run_gui(config, data, dial)


def _dial(config: Path, data: Path, uri: str) -> int:
    from softclock.dialing import DialError, to_sip_uri
    from softclock.settings import load

    settings = load(config)
    try:
        to_sip_uri(uri, settings.account.sip_domain if settings.account.configured else "localhost")
    except DialError as exc:
        raise UsageError(str(exc)) from None
    from softclock.ui.ipc import send_to_running

    if send_to_running(paths.runtime_socket_name(data), f"dial {uri}"):
        print(f"Dialling {uri} in the running Softclock.")
        return 0
    return _run(config, data, uri)


def _read_password(prompt: str, allow_empty: bool = False) -> str:
    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password and not allow_empty:
        raise UsageError("No password given: pass it on standard input or type it at the prompt.")
    return password


def _account(args: argparse.Namespace, config: Path) -> int:
    from softclock import secrets
    from softclock.settings import AccountSettings, load, save, validate_account

    settings = load(config)
    if args.account_command == "show":
        acct = settings.account
        if not acct.configured:
            print("No account is set up.")
            return 0
        print(f"{acct.address} via {acct.server} ({acct.transport.upper()})")
        return 0
    if args.account_command == "turn":
        return _account_turn(args, settings, config)
    account = AccountSettings(
        server=args.server,
        user=args.user,
        auth_id=args.auth_id,
        domain=args.domain,
        transport=args.transport,
        outbound_proxy=args.outbound_proxy,
        display_name=args.display_name,
        auto_answer=args.auto_answer,
        backup_servers=", ".join(args.backup_server),
        srtp=args.srtp,
        tls_ca_file=args.tls_ca_file,
    )
    problem = validate_account(account, "x")
    if problem:
        raise UsageError(problem)
    password = _read_password(f"SIP password for {account.address}: ")
    secrets.set_sip_password(account.address, password)
    settings.account = account
    save(settings, config)
    print(f"Account {account.address} saved; the password is in the keyring.")
    return 0


def _account_turn(args: argparse.Namespace, settings: object, config: Path) -> int:
    """``[sip] turn_server``/``turn_user`` in the settings, the password in the keyring."""
    from dataclasses import replace

    from softclock import secrets
    from softclock.errors import SettingsError
    from softclock.settings import Settings, save, validate_nat

    assert isinstance(settings, Settings)
    if args.off:
        settings.sip = replace(settings.sip, turn_server="", turn_user="")
        save(settings, config)
        print("No TURN relay is used now.")
        return 0
    if not args.server or not args.user:
        raise UsageError("Give the relay with --server HOST[:PORT] and --user NAME (or --off).")
    sip = replace(settings.sip, turn_server=args.server, turn_user=args.user)
    try:
        validate_nat(sip)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    password = _read_password(f"TURN password for {args.user} at {args.server}: ")
    secrets.set_turn_password(args.user, args.server, password)
    settings.sip = sip
    save(settings, config)
    print(f"TURN relay {args.server} saved for {args.user}; the password is in the keyring.")
    return 0


def _store_command(args: argparse.Namespace, data: Path) -> int:
    from softclock.store import queries
    from softclock.store.db import open_store

    store = open_store(data)
    try:
        with store.session() as s:
            if args.command == "calls":
                return _print_calls(queries.calls_between(s), args.json)
            if args.command == "entries":
                return _print_entries(queries.entries(s, status=args.status), args.json)
            if args.command == "matters":
                return _matters(args, s)
            if args.command in ("entry", "approve", "reopen", "audit"):
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


def _actor() -> str:
    return getpass.getuser()


def _review(args: argparse.Namespace, s: object) -> int:
    from datetime import date

    from sqlalchemy.orm import Session

    from softclock import audit, review
    from softclock.settings import load

    assert isinstance(s, Session)
    from softclock.sync.state import firm_policy

    # The firm's policy as last pulled from the central store, else the settings'.
    policy = firm_policy(s, load(paths.config_path(args.config)).billing.policy())
    s.rollback()  # end the read, so each command below runs in its own transaction
    if args.command == "audit":
        with s.begin():
            result = audit.verify(s, full=args.full)
        if result.ok:
            if result.since is None:
                print(f"Audit trail intact: {result.count} events, all checked.")
            else:
                print(f"Audit trail intact: {result.count} events; {result.checked} checked since the last check, "
                      f"at event {result.since} (--full rechecks all).")  # fmt: skip
            return 0
        print(f"Audit trail broken: {result.problem}.", file=sys.stderr)
        return 1
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


if __name__ == "__main__":
    sys.exit(main())
