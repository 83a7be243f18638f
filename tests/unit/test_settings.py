from pathlib import Path

import pytest

from softclock.settings import AccountSettings, Settings, SettingsError, load, save, split_host_port, validate_account


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path / "nope.toml")
    assert settings.account.configured is False
    assert settings.account.transport == "udp"


def test_round_trip_is_private(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    settings = Settings()
    settings.account = AccountSettings(server="pbx.example.org:5080", user="alice", transport="tcp")
    save(settings, path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load(path)
    assert again.account.server == "pbx.example.org:5080"
    assert again.account.sip_domain == "pbx.example.org"
    assert again.account.address == "alice@pbx.example.org"
    assert "password" not in path.read_text()


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[account]\nauto_answer = "yes"\n')
    with pytest.raises(SettingsError, match=r"\[account\] auto_answer must be bool"):
        load(path)


def test_bad_transport_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[account]\ntransport = "carrier-pigeon"\n')
    with pytest.raises(SettingsError, match="transport must be one of udp, tcp"):
        load(path)


def test_broken_toml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[account\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(path)


def test_host_port() -> None:
    assert split_host_port("h:5060") == ("h", 5060)
    assert split_host_port("[::1]:5070") == ("::1", 5070)
    assert split_host_port("h") == ("h", None)
    with pytest.raises(SettingsError):
        split_host_port("h:abc")


def test_account_validation_messages() -> None:
    ok = AccountSettings(server="pbx", user="alice")
    assert validate_account(ok, "pw") == ""
    assert "SIP server" in validate_account(AccountSettings(user="a"), "pw")
    assert "username" in validate_account(AccountSettings(server="pbx"), "pw")
    assert "password" in validate_account(ok, "")
    assert "port must be a number" in validate_account(AccountSettings(server="pbx:x", user="a"), "pw")
