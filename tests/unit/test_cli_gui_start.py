"""``softclock`` with nothing but where its files are starts the desktop app
without building the parser (start-up, issue 13); anything else is parsed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

cli = importlib.import_module("softclock.cli.main")  # the package's ``main`` is the function


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (None, None)),
        (["run"], (None, None)),
        (["--config", "a.toml"], ("a.toml", None)),
        (["--config=a.toml", "--data-dir", "d", "run"], ("a.toml", "d")),
        (["--data-dir=d"], (None, "d")),
        (["calls"], None),
        (["--version"], None),
        (["--help"], None),
        (["--conf", "a.toml"], None),  # argparse's abbreviations are the parser's business
        (["--config"], None),
        (["--config", "--data-dir", "d"], None),
        (["--config", "a", "--config", "b"], None),
        (["run", "--config", "a"], None),
        (["run", "run"], None),
        (["dial", "sip:x@y"], None),
    ],
)
def test_which_command_lines_only_start_the_app(
    argv: list[str], expected: tuple[str | None, str | None] | None
) -> None:
    assert cli._gui_only(argv) == expected


def test_the_app_starts_without_the_parser_and_errors_are_said_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_parser() -> None:
        raise AssertionError("the parser was built")

    started: list[tuple[Path, Path, str | None]] = []
    monkeypatch.setattr(cli, "_parser", no_parser)
    monkeypatch.setattr(cli, "_run", lambda config, data, dial: started.append((config, data, dial)) or 0)
    assert cli.main(["--config", str(tmp_path / "s.toml"), "--data-dir", str(tmp_path / "d")]) == 0
    assert started == [(tmp_path / "s.toml", tmp_path / "d", None)]

    from softclock.errors import UserError

    def broken(config: Path, data: Path, dial: str | None) -> int:
        raise UserError("settings.toml: [sip] local_port must be 1-65535")

    monkeypatch.setattr(cli, "_run", broken)
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err == "softclock: settings.toml: [sip] local_port must be 1-65535\n"
