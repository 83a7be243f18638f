"""What every ``softclock`` subcommand shares."""

from __future__ import annotations

import getpass
import sys


class UsageError(Exception):
    """Something the user can fix; printed without a traceback."""


def read_password(prompt: str, allow_empty: bool = False) -> str:
    if sys.stdin.isatty():
        password = getpass.getpass(prompt)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password and not allow_empty:
        raise UsageError("No password given: pass it on standard input or type it at the prompt.")
    return password
