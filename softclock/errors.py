"""Errors a person can fix: shown as one sentence, never with a traceback.

They live here, apart from the modules that raise them, so that the command
line can catch them without importing SQLAlchemy, keyring or Qt.
"""

from __future__ import annotations


class UserError(Exception):
    """A known, environmental problem; ``str()`` is the sentence to show."""


class SettingsError(UserError, ValueError):
    """The settings file cannot be used; the message says which key and why."""


class KeyringUnavailable(UserError, RuntimeError):
    """No usable keyring backend; the message tells the user what to do."""


class StoreError(UserError, RuntimeError):
    """The local store cannot be opened; the message says where and why."""


class InputError(UserError, ValueError):
    """Bad user input; the message names the field or line."""
