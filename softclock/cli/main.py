"""``softclock`` and its subcommands.

With no subcommand it starts the desktop app. Every error that a person can
fix is printed as one sentence on stderr with exit code 2; nothing prints a
password.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from softclock import paths
from softclock.cli.common import UsageError, read_password

if TYPE_CHECKING:
    import argparse

log = logging.getLogger("softclock.cli")


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="softclock", description="Softclock: a softphone that turns calls into time entries."
    )
    parser.add_argument("--config", help="settings file (default: the platform's config dir; env SOFTCLOCK_CONFIG)")
    parser.add_argument("--data-dir", help="data directory (default: the platform's data dir; env SOFTCLOCK_DATA_DIR)")
    from softclock import __version__

    parser.add_argument("--version", action="version", version=f"softclock {__version__}")
    sub = parser.add_subparsers(dest="command")

    sub.add_parser("run", help="start the desktop app (the default)")

    p = sub.add_parser("calls", help="list recorded calls")
    p.add_argument("--json", action="store_true", help="one JSON array")

    p = sub.add_parser("entries", help="list time entries")
    p.add_argument("--json", action="store_true")
    from softclock.states import EntryStatus

    p.add_argument("--status", help=f"only entries with this status ({', '.join(EntryStatus)})")

    p = sub.add_parser("matters", help="manage local matters")
    msub = p.add_subparsers(dest="matters_command", required=True)
    m = msub.add_parser("add", help="add a matter")
    m.add_argument("code")
    m.add_argument("name")
    m.add_argument("--client", required=True)
    m = msub.add_parser("import", help="import matters from CSV: code,name,client")
    m.add_argument("file")
    m.add_argument(
        "--update", action="store_true", help="update the name and client of matters that exist (else they are refused)"
    )
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
    e = esub.add_parser("split", help="split a draft into pieces that follow each other")
    e.add_argument("id")
    e.add_argument(
        "pieces", nargs="+", metavar="PIECE", help="m:ss, h:mm:ss or seconds; one may be 'rest': what the others leave"
    )
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
    u = usub.add_parser("verify", help="check the hash chain and each entry against it; names what was changed")
    u.add_argument("--full", action="store_true", help="recheck every event (the default; kept as an alias)")
    u.add_argument(
        "--since-checkpoint", action="store_true", help="the quick check: only the events after the last clean check"
    )
    u.add_argument(
        "--central",
        action="store_true",
        help="also compare the chain with the heads each push anchored in the central store",
    )

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
    p = sub.add_parser("autostart", help="start Softclock at login (an XDG autostart entry)")
    p.add_argument("state", choices=("on", "off", "status"), nargs="?", default="status")
    from softclock.cli import sync

    sync.add_parsers(sub)
    from softclock.cli import export

    export.add_parsers(sub)
    from softclock.cli import report

    report.add_parsers(sub)
    return parser


def _gui_only(argv: Sequence[str]) -> tuple[str | None, str | None] | None:
    """``(config, data_dir)`` when ``argv`` only starts the desktop app (``[--config X]
    [--data-dir Y] [run]``, what a desktop launcher runs); else None (the full parser).

    Start-up: building the parser's tree of subcommands imports the CLI modules behind
    it (sync, export, report), ~15 ms a start that only opens the window."""
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("--config", "--data-dir") and name not in found:
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if not value or value.startswith("-"):
                return None
            found[name] = value
        elif arg == "run" and i == len(argv) - 1:
            pass
        else:
            return None
        i += 1
    return found.get("--config"), found.get("--data-dir")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    gui = _gui_only(argv)
    try:
        if gui is not None:
            return _guarded(lambda: _run(paths.config_path(gui[0]), paths.data_dir(gui[1]), None))
        args = _parser().parse_args(argv)
        return _guarded(lambda: _dispatch(args))
    except UsageError as exc:
        from softclock.textsafe import printable

        print(f"softclock: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _guarded(job: Callable[[], int]) -> int:
    """``job()``; an error the person can fix (UserError) becomes a UsageError."""
    from softclock.errors import UserError

    try:
        return job()
    except UserError as exc:
        raise UsageError(str(exc)) from None


def _dispatch(args: argparse.Namespace) -> int:
    config = paths.config_path(args.config)
    data = paths.data_dir(args.data_dir)
    if args.command in (None, "run"):
        return _run(config, data, None)
    if args.command == "dial":
        return _dial(config, data, args.uri)
    if args.command == "autostart":
        return _autostart(args.state)
    if args.command == "account":
        from softclock.cli import account

        return account.run(args, config)
    if args.command in ("sync", "admin"):
        from softclock.cli import sync

        return sync.run(args, config, data, read_password)
    if args.command == "export":
        from softclock.cli import export

        return export.run(args, config, read_password)
    if args.command == "report":
        from softclock.cli import report

        return report.run(args, config, read_password)
    from softclock.cli import records

    return records.run(args, data)


def _run(config: Path, data: Path, dial: str | None) -> int:
    from softclock import logs
    from softclock.settings import load

    paths.ensure_private_dir(data)
    logs.setup(data, level=logging.WARNING)
    load(config)  # a broken settings file is reported before any window opens
    from softclock.ui.application import run_gui

    return run_gui(config, data, dial)


def _autostart(state: str) -> int:
    from softclock import autostart

    if state != "status":
        autostart.set_enabled(state == "on")
    where = autostart.entry_path()
    print(f"Start at login is {'on' if autostart.enabled() else 'off'} ({where}).")
    return 0


def _dial(config: Path, data: Path, uri: str) -> int:
    from softclock.dialing import DialError, parse_dial
    from softclock.settings import load
    from softclock.ui.ipc import send_to_running

    settings = load(config)
    socket = paths.runtime_socket_name(data)
    try:
        target = parse_dial(uri, settings.account.sip_domain if settings.account.configured else "localhost")
    except DialError as exc:
        # A clicked link has no terminal to read: the running app says why too, under its dial box.
        send_to_running(socket, f"dial {uri}")
        raise UsageError(str(exc)) from None
    if send_to_running(socket, f"dial {uri}"):
        print(f"Dialling {uri} in the running Softclock.")
        if target.note:
            print(target.note)
        return 0
    if target.note:
        print(target.note)
    return _run(config, data, uri)


if __name__ == "__main__":
    sys.exit(main())
