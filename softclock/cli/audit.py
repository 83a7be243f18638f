"""``softclock audit ...``: check the local audit trail (and, with ``--central``, against the firm's anchors)."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session


def run(args: argparse.Namespace, s: Session) -> int:
    from softclock import audit
    from softclock.textsafe import printable

    quick = bool(getattr(args, "since_checkpoint", False)) and not args.full
    with s.begin():
        result = audit.verify(s, since_checkpoint=quick)
    code = 0
    if not result.ok:
        print(f"Audit trail broken: {printable(result.problem)}.", file=sys.stderr)
        code = 1
    else:
        held = f"{result.entries} entries agree with their trail of " if result.entries else ""
        if result.since is None:
            print(f"Audit trail intact: {held}{result.count} events, all checked.")
        else:
            print(
                f"Audit trail intact: {held}{result.count} events; {result.checked} checked since the last check, "
                f"at event {result.since} (without --since-checkpoint every event is checked)."
            )
    if getattr(args, "central", False):
        code = max(code, _central(args, s))
    return code


def _central(args: argparse.Namespace, s: Session) -> int:
    """Compare the chain with the anchors the central store holds for this computer."""
    from softclock import paths
    from softclock.app import acting_person
    from softclock.errors import InputError
    from softclock.settings import load
    from softclock.sync import anchor, state
    from softclock.sync.connect import Target, describe, parse_url
    from softclock.sync.service import identity_of
    from softclock.textsafe import printable

    settings = load(paths.config_path(args.config))
    if not settings.central.url:
        raise InputError("No central store is set: `softclock sync login --url ...` first.")
    target = Target(parse_url(settings.central.url), settings.central.sslmode, settings.central.sslrootcert)
    identity = identity_of(settings.central, acting_person(settings)())
    with s.begin():
        device = state.get(s, anchor.DEVICE_KEY)
    engine = target.engine()
    try:
        with s.begin():
            found = anchor.compare(s, engine, identity, device)
    except Exception as exc:  # the central store unreachable or refusing: in words
        from softclock.sync.service import known_failure

        if not known_failure(exc):
            raise
        raise InputError(describe(exc, target)) from None
    finally:
        engine.dispose()
    if found.ok:
        print(printable(found.message))
        return 0
    print(f"Audit trail broken: {printable(found.message)}.", file=sys.stderr)
    return 1
