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

from softclock.errors import (
    KeyringUnavailable as KeyringUnavailable,  # re-exported: callers catch secrets.KeyringUnavailable
)

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


def _turn_key(user: str, server: str) -> str:
    return f"turn:{user}@{server}"


def set_turn_password(user: str, server: str, password: str) -> None:
    """The TURN relay's password (``[sip] turn_server``/``turn_user`` name it)."""
    try:
        _backend().set_password(SERVICE, _turn_key(user, server), password)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring refused to store the TURN password: {type(exc).__name__}") from None


def get_turn_password(user: str, server: str) -> str | None:
    try:
        return _backend().get_password(SERVICE, _turn_key(user, server))
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring could not be read: {type(exc).__name__}") from None


def _set(key: str, password: str, what: str) -> None:
    try:
        _backend().set_password(SERVICE, key, password)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring refused to store the {what}: {type(exc).__name__}") from None


def _get(key: str) -> str | None:
    try:
        return _backend().get_password(SERVICE, key)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"The keyring could not be read: {type(exc).__name__}") from None


def set_central_password(login: str, password: str) -> None:
    """The central store's password for ``login`` (``user@host:port/database``)."""
    _set(f"central:{login}", password, "central store password")


def get_central_password(login: str) -> str | None:
    return _get(f"central:{login}")
