"""Start at login: the XDG autostart entry, written and removed under a temporary XDG_CONFIG_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from softclock import autostart
from softclock.cli import main


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def test_entry_honours_xdg_config_home(xdg: Path) -> None:
    assert autostart.entry_path() == xdg / "autostart" / "softclock.desktop"
    assert not autostart.enabled()
    autostart.set_enabled(True, command="/opt/softclock/bin/softclock")
    text = (xdg / "autostart" / "softclock.desktop").read_text()
    assert "Exec=/opt/softclock/bin/softclock\n" in text
    assert autostart.enabled()
    autostart.set_enabled(False)
    assert not (xdg / "autostart" / "softclock.desktop").exists()
    assert not autostart.enabled()
    autostart.set_enabled(False)  # off twice is not an error


def test_relative_xdg_config_home_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert autostart.entry_path() == tmp_path / ".config" / "autostart" / "softclock.desktop"


def test_entry_hidden_by_the_desktop_counts_as_off(xdg: Path) -> None:
    path = autostart.set_enabled(True)
    path.write_text(path.read_text() + "Hidden=true\n")
    assert not autostart.enabled()


def test_cli_turns_it_on_and_off(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["autostart", "on"]) == 0
    assert "Start at login is on" in capsys.readouterr().out
    assert (xdg / "autostart" / "softclock.desktop").exists()
    assert main(["autostart"]) == 0
    assert "is on" in capsys.readouterr().out
    assert main(["autostart", "off"]) == 0
    assert "Start at login is off" in capsys.readouterr().out
    assert not (xdg / "autostart" / "softclock.desktop").exists()
