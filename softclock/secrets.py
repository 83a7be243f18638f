"""Passwords through the OS keyring, and nowhere else.

Automation picks a backend with keyring's own ``PYTHON_KEYRING_BACKEND``.
Errors raised here never contain a password.
"""

from __future__ import annotations

import logging
import os

import keyring
import keyring.backends.fail
import keyring.errors

from softclock.errors import KeyringUnavailable

log = logging.getLogger("softclock.secrets")

SERVICE = "softclock"




def _sip_key(address: str) -> str:
    return f"sip:{address}"


def _backend() -> keyring.backend.KeyringBackend:
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # keyring raises ValueError/ImportError for a bad PYTHON_KEYRING_BACKEND
        chosen = os.environ.get("PYTHON_KEYRING_BACKEND", "")
        raise KeyringUnavailable(
            f"The keyring backend could not be loaded (PYTHON_KEYRING_BACKEND={chosen!r}): {type(exc).__name__}."
        ) from None
    if isinstance(backend, keyring.backends.fail.Keyring):
        raise KeyringUnavailable(
            "No usable keyring backend to keep the password in. Install and unlock a "
            "Secret Service keyring (GNOME Keyring or KWallet), or choose a backend "
            "with PYTHON_KEYRING_BACKEND."
        )
    return backend


def set_sip_password(address: str, password: str) -> None:
    try:
        _backend().set_password(SERVICE, _sip_key(address), password)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring refused to store the password: {type(exc).__name__}") from None


def get_sip_password(address: str) -> str | None:
    try:
        return _backend().get_password(SERVICE, _sip_key(address))
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring could not be read: {type(exc).__name__}") from None


def delete_sip_password(address: str) -> None:
    try:
        _backend().delete_password(SERVICE, _sip_key(address))
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring could not be changed: {type(exc).__name__}") from None
