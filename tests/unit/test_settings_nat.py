"""[sip] keep-alive, STUN, ICE and TURN settings: round trip, validation, moved keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from softclock import secrets
from softclock.app import engine_account
from softclock.settings import AccountSettings, Settings, SettingsError, SipSettings, load, save


def test_nat_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    settings = Settings()
    settings.sip = SipSettings(
        keepalive_seconds=25,
        stun_servers=["stun.example.org", "[2001:db8::1]:3478"],
        ice=True,
        turn_server="turn.example.org:3478",
        turn_user="alice",
    )
    save(settings, path)
    again = load(path).sip
    assert again.keepalive_seconds == 25
    assert again.stun_servers == ["stun.example.org", "[2001:db8::1]:3478"]
    assert again.ice is True
    assert (again.turn_server, again.turn_user) == ("turn.example.org:3478", "alice")
    assert "password" not in path.read_text()


def test_defaults() -> None:
    sip = SipSettings()
    assert (sip.keepalive_seconds, sip.stun_servers, sip.ice, sip.turn_server) == (15, [], False, "")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'stun_servers = ["stun.example.org:abc"]',
            r"\[sip\] stun_servers: 'stun.example.org:abc' is not host\[:port\]: the port must be a number",
        ),
        (
            'stun_servers = ["stun.example.org:70000"]',
            r"\[sip\] stun_servers: 'stun.example.org:70000' is not host\[:port\]: the port must be 1-65535",
        ),
        (
            'stun_servers = [":3478"]',
            r"\[sip\] stun_servers: ':3478' is not host\[:port\]: '' is not a host name or address",
        ),
        ('stun_servers = ["stun example.org"]', r"is not a host name or address"),
        ('stun_servers = "stun.example.org"', r"\[sip\] stun_servers must be a list of strings"),
        ("stun_servers = [3478]", r"\[sip\] stun_servers must be a list of strings"),
        ('turn_server = "turn.example.org:x"', r"\[sip\] turn_server: 'turn.example.org:x' is not host\[:port\]"),
        ('turn_server = "turn.example.org"', r"\[sip\] turn_server needs turn_user"),
        ("keepalive_seconds = -1", r"\[sip\] keepalive_seconds must be 0 \(off\) or 2 to 3600, not -1"),
        ("keepalive_seconds = 1", r"\[sip\] keepalive_seconds must be 0 \(off\) or 2 to 3600, not 1"),
        ('ice = "yes"', r"\[sip\] ice must be bool"),
    ],
)
def test_bad_values_get_a_specific_message(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f"[sip]\n{toml}\n")
    with pytest.raises(SettingsError, match=message):
        load(path)


def test_keys_of_earlier_versions_are_moved(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[account]\nkeepalive_s = 40\nice = true\n[sip]\nstun_server = "stun.example.org:3478"\n')
    sip = load(path).sip
    assert (sip.keepalive_seconds, sip.ice, sip.stun_servers) == (40, True, ["stun.example.org:3478"])
    save(load(path), path)
    text = path.read_text()
    assert "keepalive_s " not in text and "stun_server " not in text


def test_the_new_key_wins_over_the_moved_one(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[account]\nkeepalive_s = 40\n[sip]\nkeepalive_seconds = 20\n")
    assert load(path).sip.keepalive_seconds == 20


def test_engine_account_takes_nat_settings_and_the_turn_password_from_the_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOFTCLOCK_TEST_KEYRING", str(tmp_path / "keyring.json"))  # this test's own keyring
    account = AccountSettings(server="127.0.0.1:5060", user="alice")
    sip = SipSettings(keepalive_seconds=9, ice=True, turn_server="127.0.0.1:3478", turn_user="relay-alice")
    without = engine_account(account, "pw", sip)
    assert (without.keepalive_s, without.ice, without.turn_server) == (9, True, "")  # type: ignore[attr-defined]
    secrets.set_turn_password("relay-alice", "127.0.0.1:3478", "turn-secret")
    config = engine_account(account, "pw", sip)
    assert (config.turn_server, config.turn_user, config.turn_password) == (  # type: ignore[attr-defined]
        "127.0.0.1:3478",
        "relay-alice",
        "turn-secret",
    )
    assert "turn-secret" not in repr(config)


def test_cli_sets_the_turn_relay_with_its_password_in_the_keyring_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from softclock import cli

    monkeypatch.setenv("SOFTCLOCK_TEST_KEYRING", str(tmp_path / "keyring.json"))
    config = tmp_path / "settings.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("relay-secret\n"))
    assert (
        cli.main(
            ["--config", str(config), "account", "turn", "--server", "turn.example.org:3478", "--user", "relay-alice"]
        )
        == 0
    )
    sip = load(config).sip
    assert (sip.turn_server, sip.turn_user) == ("turn.example.org:3478", "relay-alice")
    assert secrets.get_turn_password("relay-alice", "turn.example.org:3478") == "relay-secret"
    assert "relay-secret" not in config.read_text() + capsys.readouterr().out

    assert cli.main(["--config", str(config), "account", "turn", "--server", "turn.example.org:x", "--user", "u"]) == 2
    assert (
        "[sip] turn_server: 'turn.example.org:x' is not host[:port]: the port must be a number"
        in capsys.readouterr().err
    )
    assert cli.main(["--config", str(config), "account", "turn", "--off"]) == 0
    assert load(config).sip.turn_server == ""
