"""``softclock audit ...``: check the local audit trail."""

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
    if not result.ok:
        print(f"Audit trail broken: {printable(result.problem)}.", file=sys.stderr)
        return 1
    held = f"{result.entries} entries agree with their trail of " if result.entries else ""
    if result.since is None:
        print(f"Audit trail intact: {held}{result.count} events, all checked.")
    else:
        print(
            f"Audit trail intact: {held}{result.count} events; {result.checked} checked since the last check, "
            f"at event {result.since} (without --since-checkpoint every event is checked)."
        )
    return 0
