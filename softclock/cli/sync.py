"""``softclock sync ...`` and ``softclock admin ...``: the central billing store from the command line.

Passwords come from the keyring (``softclock sync login`` puts one there) or,
when it has none, from standard input or a prompt; never from arguments.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from softclock.errors import InputError, KeyringUnavailable
from softclock.textsafe import printable


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("sync", help="sync with the central billing store (push approved entries, pull matters)")
    p.add_argument("--once", action="store_true", help="one push and pull, then exit (default: keep syncing)")
    ssub = p.add_subparsers(dest="sync_command")
    st = ssub.add_parser("status", help="where sync stands, without connecting")
    st.add_argument("--json", action="store_true")
    lg = ssub.add_parser("login", help="set the central store and keep its password in the keyring")
    lg.add_argument("--url", help="postgresql://USER@HOST[:PORT]/DB or sqlite:////path/central.db (no password)")
    lg.add_argument("--sslmode", choices=("disable", "allow", "prefer", "require", "verify-ca", "verify-full"))
    lg.add_argument("--sslrootcert", help="CA file (PEM) for verify-ca / verify-full")
    lg.add_argument(
        "--privacy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep narratives and phone numbers on this computer",
    )

    p = sub.add_parser("admin", help="administer the central billing store")
    p.add_argument("--url", help="central store URL (default: [central] url of the settings)")
    asub = p.add_subparsers(dest="admin_command", required=True)
    a = asub.add_parser("init-store", help="create or migrate the central schema (and roles and RLS on PostgreSQL)")
    a.add_argument("store_url", metavar="URL")
    a = asub.add_parser("add-timekeeper", help="add a timekeeper (on PostgreSQL also their login; password on stdin)")
    a.add_argument("id")
    a.add_argument("--name", required=True)
    a.add_argument("--email", default="")
    a.add_argument("--office", default="")
    a.add_argument("--department", default="")
    a.add_argument("--rate", type=float, default=None, help="hourly rate")
    a.add_argument("--classification", default="", help="LEDES timekeeper classification: PT, AS, OC, LA, PL, OT")
    a.add_argument("--extension", default=None, help="their desk phone's PBX extension (for import-cdr)")
    a = asub.add_parser("add-staff", help="a billing or admin login (PostgreSQL; password on stdin)")
    a.add_argument("id")
    a.add_argument("--role", choices=("billing", "admin"), required=True)
    a = asub.add_parser("import-matters", help="upsert matters from CSV: code,name,client[,status]")
    a.add_argument("file")
    a = asub.add_parser("close-matter", help="close a matter (it leaves the prompt, old entries keep it)")
    a.add_argument("code")
    a = asub.add_parser("add-number", help="map a phone number to a client (and optionally a matter)")
    a.add_argument("number")
    a.add_argument("--client", required=True)
    a.add_argument("--matter", default="")
    a.add_argument("--label", default="")
    a.add_argument("--region", default="US", help="for numbers without a country code")
    a = asub.add_parser("set-code", help="add or change an activity or task code (UTBMS)")
    a.add_argument("code")
    a.add_argument("--kind", choices=("activity", "task"), required=True)
    a.add_argument("--description", default="")
    a.add_argument("--inactive", action="store_true", help="no longer offered or accepted on new entries")
    a = asub.add_parser("set-policy", help="change the firm's billing policy")
    a.add_argument("--increment", type=int, dest="increment_min")
    a.add_argument("--rounding", choices=("up", "nearest"))
    a.add_argument("--minimum-units", type=int, dest="minimum_units")
    a.add_argument("--short-call", type=int, dest="short_call_s", help="seconds")
    a.add_argument("--bill-hold", action=argparse.BooleanOptionalAction, default=None, dest="bill_hold")
    a.add_argument(
        "--narrative-required", action=argparse.BooleanOptionalAction, default=None, dest="narrative_required"
    )
    a = asub.add_parser("invoice", help="mark approved entries invoiced (billing role)")
    a.add_argument("ids", nargs="+")
    from softclock.cli import export

    export.add_admin_parsers(asub)


def run(args: argparse.Namespace, config: Path, data: Path, read_password: Any) -> int:
    if args.command == "admin":
        return _admin(args, config, read_password)
    if args.sync_command == "login":
        return _login(args, config, read_password)
    return _sync(args, config, data)


def _target_engine(url_text: str, settings: Any, read_password: Any):  # type: ignore[no-untyped-def]
    from softclock import secrets
    from softclock.sync.connect import Target, login_of, parse_url

    url = parse_url(url_text)
    same = settings.central.url and parse_url(settings.central.url) == url
    target = Target(url, settings.central.sslmode if same else "", settings.central.sslrootcert if same else "")
    password = None
    if target.is_postgres and target.user:
        try:
            password = secrets.get_central_password(login_of(url))
        except KeyringUnavailable:
            password = None  # an installer's one-off command may well run where no keyring is
        if password is None:
            password = read_password(f"Password for {login_of(url)} (empty if none): ", allow_empty=True)
    return target, target.engine(password or "")


def _admin(args: argparse.Namespace, config: Path, read_password: Any) -> int:
    from softclock.settings import load
    from softclock.sync import admin
    from softclock.sync.connect import describe

    settings = load(config)
    url_text = args.store_url if args.admin_command == "init-store" else (args.url or settings.central.url)
    if not url_text:
        raise InputError("No central store: give --url or set one with `softclock sync login --url ...`.")
    target, engine = _target_engine(url_text, settings, read_password)
    try:
        return _admin_command(args, admin, engine, target, read_password)
    except InputError:
        raise
    except Exception as exc:  # database errors, in words
        raise InputError(describe(exc, target)) from None
    finally:
        engine.dispose()


def _admin_command(args: argparse.Namespace, admin: Any, engine: Any, target: Any, read_password: Any) -> int:
    cmd = args.admin_command
    from softclock.cli import export

    if cmd in export.ADMIN_COMMANDS:
        return export.admin_command(args, engine)
    if cmd == "init-store":
        before, after = admin.init_store(engine)
        print(
            f"Central store at {target.where()}: schema {after}"
            + (
                " (was up to date)"
                if before == after
                else " (created)"
                if before is None
                else f" (migrated from {before})"
            )
        )
        return 0
    if cmd == "add-timekeeper":
        password = read_password(f"New password for {args.id}: ") if target.is_postgres else None
        admin.add_timekeeper(
            engine,
            admin.NewTimekeeper(
                args.id,
                args.name,
                args.email,
                args.office,
                args.department,
                args.rate,
                args.classification,
                args.extension,
            ),
            password,
        )
        print(f"Timekeeper {args.id} added" + (" with a login." if target.is_postgres else "."))
        return 0
    if cmd == "add-staff":
        admin.add_staff(engine, args.id, args.role, read_password(f"New password for {args.id}: "))
        print(f"Login {args.id} added with the {args.role} role.")
        return 0
    if cmd == "import-matters":
        try:
            text = Path(args.file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(f"Cannot read {args.file}: {exc.strerror}") from None
        try:
            count = admin.import_matters(engine, text)
        except InputError as exc:
            raise InputError(f"{args.file}: {exc}") from None
        print(f"{count} matters imported into the central store.")
        return 0
    if cmd == "close-matter":
        admin.set_matter_status(engine, args.code, "closed")
        print(f"Matter {args.code} closed.")
        return 0
    if cmd == "add-number":
        from softclock.matching import to_e164

        e164 = to_e164(args.number, args.region)
        if e164 is None:
            raise InputError(f"{args.number!r} is not a phone number")
        admin.add_number(engine, e164, args.client, args.matter, args.label)
        print(f"{e164} now belongs to {args.client}" + (f" ({args.matter})." if args.matter else "."))
        return 0
    if cmd == "set-code":
        admin.set_code(engine, args.code, args.kind, args.description, not args.inactive)
        print(f"{args.kind.capitalize()} code {args.code} {'deactivated' if args.inactive else 'set'}.")
        return 0
    if cmd == "set-policy":
        fields = {
            k: getattr(args, k)
            for k in ("increment_min", "rounding", "minimum_units", "short_call_s", "bill_hold", "narrative_required")
            if getattr(args, k) is not None
        }
        policy = admin.set_policy(engine, **fields)
        print(
            f"Firm policy: {policy.increment_min}-minute increments rounded {policy.rounding}, "
            f"minimum {policy.minimum_units}, short calls under {policy.short_call_s} s."
        )
        return 0
    if cmd == "invoice":
        count = admin.mark_invoiced(engine, args.ids)
        print(f"{count} of {len(args.ids)} entries marked invoiced.")
        return 0 if count == len(args.ids) else 1
    raise InputError(f"unknown admin command {cmd}")


def _login(args: argparse.Namespace, config: Path, read_password: Any) -> int:
    from softclock import secrets
    from softclock.settings import load, save, validate
    from softclock.sync.connect import Target, describe, login_of, parse_url

    settings = load(config)
    central = settings.central
    if args.url:
        central.url = args.url
    for key in ("sslmode", "sslrootcert", "privacy"):
        if getattr(args, key) is not None:
            setattr(central, key, getattr(args, key))
    if not central.url:
        raise InputError("Give the central store with --url postgresql://USER@HOST/DB (no password in it).")
    validate(settings)
    url = parse_url(central.url)
    target = Target(url, central.sslmode, central.sslrootcert)
    if target.is_postgres:
        secrets.set_central_password(login_of(url), read_password(f"Password for {login_of(url)}: "))
    save(settings, config)
    engine = target.engine()
    try:
        with engine.connect() as conn:
            from softclock.sync.admin import schema_revision

            revision = schema_revision(conn)
    except Exception as exc:
        print(f"Saved, but: {describe(exc, target)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if revision is None:
        print(
            f"Saved, but the central store at {target.where()} is not set up: run `softclock admin init-store`.",
            file=sys.stderr,
        )
        return 1
    kept = "; the password is in the keyring" if target.is_postgres else ""
    print(f"Central store {target.where()} reached (schema {revision}){kept}.")
    return 0


def _sync(args: argparse.Namespace, config: Path, data: Path) -> int:
    from softclock.settings import load
    from softclock.store.db import open_store
    from softclock.sync.service import Sync, SyncFailed, SyncWorker

    settings = load(config)
    store = open_store(data)
    try:
        from softclock.app import acting_person

        sync = Sync(store, settings.central, acting_person(settings)())  # who the desktop app syncs as
        if args.sync_command == "status":
            return _print_status(sync, args.json)
        if not sync.configured:
            raise InputError("No central store is set: `softclock sync login --url ...` first.")
        if args.once:
            try:
                report = sync.once()
            except SyncFailed as exc:
                print(
                    f"softclock: {printable(str(exc))} ({sync.status().waiting} approved entries wait in the outbox)",
                    file=sys.stderr,
                )
                return 1
            pulled = report.pull.total if report.pull else 0
            print(
                f"Pushed {report.push.sent} (already there {report.push.already}, conflicts {report.push.conflicts}); "
                f"pulled {pulled} changes. {sync.status().summary()}"
            )
            return 0
        stop = threading.Event()
        last: list[str] = []

        def show(status: Any) -> None:
            line = status.summary() + (f" ({status.last_error})" if status.down_since_utc else "")
            if not last or last[-1] != line:
                print(printable(line), flush=True)
                last.append(line)

        worker = SyncWorker(sync, on_status=show)
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        worker.start()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        worker.stop()
        return 0
    finally:
        store.close()


def _print_status(sync: Any, as_json: bool) -> int:
    from sqlalchemy import select

    from softclock.store.models import Outbox

    status = sync.status()
    with sync.store.session() as s:
        conflicts = s.execute(
            select(Outbox.entry_id, Outbox.version, Outbox.last_error)
            .where(Outbox.state == "conflict")
            .order_by(Outbox.id)
        ).all()
    if as_json:
        print(
            json.dumps(
                {
                    "configured": status.configured,
                    "waiting": status.waiting,
                    "conflicts": status.conflicts,
                    "last_ok_utc": status.last_ok_utc.isoformat() if status.last_ok_utc else None,
                    "down_since_utc": status.down_since_utc.isoformat() if status.down_since_utc else None,
                    "last_error": status.last_error,
                    "summary": status.summary(),
                    "conflicting": [
                        {"entry": c.entry_id, "version": c.version, "reason": c.last_error} for c in conflicts
                    ],
                },
                indent=2,
            )
        )
        return 0
    # Errors and conflict reasons are the central store's words: printed inert (--json is raw).
    print(printable(status.summary()))
    if status.last_error:
        print(f"Last error: {printable(status.last_error)}")
    for c in conflicts:
        print(f"Conflict: entry {printable(c.entry_id)} version {c.version}: {printable(c.last_error)}")
    return 0
