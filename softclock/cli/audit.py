"""``softclock audit ...``: check the local audit trail."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session


def run(args: argparse.Namespace, s: Session) -> int:
    from softclock import audit

    with s.begin():
        result = audit.verify(s, full=args.full)
    if result.ok:
        if result.since is None:
            print(f"Audit trail intact: {result.count} events, all checked.")
        else:
            print(
                f"Audit trail intact: {result.count} events; {result.checked} checked since the last check, "
                f"at event {result.since} (--full rechecks all)."
            )
        return 0
    print(f"Audit trail broken: {result.problem}.", file=sys.stderr)
    return 1
