import keyring
import keyring.backends.fail
import pytest

from softclock import secrets
from tests.helpers.keyring_backend import MemoryKeyring


def test_password_round_trip() -> None:
    keyring.set_keyring(MemoryKeyring())
    secrets.set_sip_password("alice@sip.test", "s3cret-pw")
    assert secrets.get_sip_password("alice@sip.test") == "s3cret-pw"
    secrets.delete_sip_password("alice@sip.test")
    assert secrets.get_sip_password("alice@sip.test") is None


def test_no_backend_is_a_clear_error_without_the_password() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(secrets.KeyringUnavailable) as info:
            secrets.set_sip_password("alice@sip.test", "s3cret-pw")
        assert "No usable keyring backend" in str(info.value)
        assert "s3cret-pw" not in str(info.value)
        assert info.value.__cause__ is None
    finally:
        keyring.set_keyring(MemoryKeyring())


def test_a_broken_backend_choice_is_a_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import keyring.core

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    try:
        with pytest.raises(secrets.KeyringUnavailable, match="could not be loaded"):
            secrets.get_sip_password("alice@sip.test")
    finally:
        keyring.set_keyring(MemoryKeyring())
