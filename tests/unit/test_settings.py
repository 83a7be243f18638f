import re
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
    assert validate_account(AccountSettings(server="pbx:99999", user="a"), "pw") == (
        "The server: 'pbx:99999' is not host[:port]: the port must be 1-65535"
    )
    assert "1-65535" in validate_account(AccountSettings(server="pbx", user="a", backup_servers="b:0"), "pw")


# ---------------------------------------------------------------- every problem is one sentence naming the file


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[sip]\nlocal_port = 99999\n", r"\[sip\] local_port must be 0 \(any free port\) to 65535, not 99999"),
        ("[sip]\nlocal_port = -1\n", r"\[sip\] local_port must be 0 \(any free port\) to 65535, not -1"),
        ("[sip]\nlog_level = 9\n", r"\[sip\] log_level must be 0 to 6, not 9"),
        ("[account]\nregister_expires_s = 0\n", r"\[account\] register_expires_s must be 1 to 86400"),
        ("[account]\nretry_interval_s = -5\n", r"\[account\] retry_interval_s must be 1 to 86400"),
        ("[recording]\nretention_days = -1\n", r"\[recording\] retention_days must be 0 \(keep them\) to 36500"),
        ("[central]\ninterval_s = 0\n", r"\[central\] interval_s must be 1 to 86400"),
        ("[demo]\nring_ms = -1\n", r"\[demo\] ring_ms must be 0 to 600000"),
        (
            '[account]\nserver = "pbx:99999"\n',
            r"\[account\] server: 'pbx:99999' is not host\[:port\]: the port must be 1-65535",
        ),
        (
            '[account]\noutbound_proxy = "proxy:0"\n',
            r"\[account\] outbound_proxy: 'proxy:0' .* the port must be 1-65535",
        ),
        ('[account]\nbackup_servers = "b1, b2:70000"\n', r"\[account\] backup_servers: 'b2:70000' .* 1-65535"),
        ('sip = "x"\n', r"sip must be a table \(a \[sip\] section\), not a string \('x'\)"),
        ("account = 5\n", r"account must be a table \(a \[account\] section\), not an integer \(5\)"),
    ],
)
def test_out_of_range_or_misshapen_settings_name_the_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(toml)
    with pytest.raises(SettingsError, match=f"^{re.escape(str(path))}: {message}"):
        load(path)


def test_edge_values_in_range_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[sip]\nlocal_port = 65535\nlog_level = 0\n[account]\nserver = "[::1]:65535"\nregister_expires_s = 1\n'
        "[recording]\nretention_days = 0\n[demo]\nring_ms = 0\n"
    )
    settings = load(path)
    assert (settings.sip.local_port, settings.account.server) == (65535, "[::1]:65535")
    path.write_text('[account]\nserver = "pbx.example.org;transport=tcp"\n')  # only the port is checked here
    assert load(path).account.server == "pbx.example.org;transport=tcp"


def test_a_section_given_as_a_string_is_not_ignored_as_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.toml"
    path.write_text('sip = "x"\n')
    with pytest.raises(SettingsError):
        load(path)
    assert "unknown" not in caplog.text


def test_a_settings_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b'[account]\ndisplay_name = "Fran\xe7ois"\n')  # Latin-1
    with pytest.raises(
        SettingsError, match=rf"^The settings file {re.escape(str(path))} is not UTF-8 text \(line 2, byte 30\)"
    ):
        load(path)


def test_a_directory_as_the_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=rf"^The settings file {re.escape(str(tmp_path))} is a directory"):
        load(tmp_path)


def test_an_unreadable_settings_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = blocker / "s.toml"  # reading it fails with ENOTDIR (root ignores file modes, not this)
    with pytest.raises(
        SettingsError, match=rf"^Cannot read the settings file {re.escape(str(path))}: Not a directory\.$"
    ):
        load(path)


def test_saving_where_no_file_can_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match=r"^Cannot write the settings file .*file/s\.toml"):
        save(Settings(), blocker / "s.toml")
