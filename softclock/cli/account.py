"""``softclock account ...``: the SIP account in the settings, its password in the keyring."""

from __future__ import annotations

import argparse
from pathlib import Path

from softclock.cli.common import UsageError, read_password


def run(args: argparse.Namespace, config: Path) -> int:
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
        return _turn(args, settings, config)
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
    password = read_password(f"SIP password for {account.address}: ")
    secrets.set_sip_password(account.address, password)
    settings.account = account
    save(settings, config)
    print(f"Account {account.address} saved; the password is in the keyring.")
    return 0


def _turn(args: argparse.Namespace, settings: object, config: Path) -> int:
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
    password = read_password(f"TURN password for {args.user} at {args.server}: ")
    secrets.set_turn_password(args.user, args.server, password)
    settings.sip = sip
    save(settings, config)
    print(f"TURN relay {args.server} saved for {args.user}; the password is in the keyring.")
    return 0
