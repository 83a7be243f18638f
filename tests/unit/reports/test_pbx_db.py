"""`softclock admin import-cdr` into a real SQLite central store: calls mapped to timekeepers by extension,
a second import adds nothing, and a file with a bad row imports nothing (its file and line named)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from softclock.cli.main import main
from softclock.reports.cdr import CdrError
from softclock.sync import admin, calls, pbx
from tests.unit.reports.test_cdr import AST_IN, AST_INTERNAL, AST_OUT, acc


@pytest.fixture
def central(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine = create_engine(url)
    admin.init_store(engine)
    admin.add_timekeeper(engine, admin.NewTimekeeper("ann", "Smith, Ann", rate=300.0, extension="201"), None)
    admin.add_timekeeper(engine, admin.NewTimekeeper("bo", "Bo", rate=200.0, extension="202"), None)
    yield engine, url
    engine.dispose()


def _calls(engine) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT source_line, timekeeper_id, extension, direction, disposition, remote_e164, sip_call_id, "
                    "start_utc, billsec FROM pbx_calls ORDER BY source_line"
                )
            )
        ]


def test_import_maps_extensions_and_a_second_import_adds_nothing(central, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, _ = central
    master = tmp_path / "Master.csv"
    master.write_text(AST_OUT + AST_IN + AST_INTERNAL)
    first = pbx.import_file(engine, master, "asterisk", timezone="America/New_York")
    assert (first.read, first.added, first.already, first.mapped) == (3, 3, 0, 3)
    assert _calls(engine) == [
        (1, "ann", "201", "outbound", "answered", "+12025550143", "3c2a9f@10.0.0.5", "2026-01-15 14:00:00.000000", 300),
        (2, "bo", "202", "inbound", "no-answer", "+12025550100", None, "2026-01-15 15:00:00.000000", 0),
        (3, "ann", "201", "internal", "busy", None, "abc-1@pbx", "2026-01-15 16:00:00.000000", 0),
    ]
    with engine.connect() as conn:  # the firm-keyed hash, to match calls pushed with privacy on
        key = conn.scalar(text("SELECT value FROM firm_settings WHERE key = 'number_hash_key'"))
        hashes = conn.execute(text("SELECT remote_hash FROM pbx_calls ORDER BY source_line")).scalars().all()
    assert hashes == [calls.number_hash(key, "+12025550143"), calls.number_hash(key, "+12025550100"), None]
    again = pbx.import_file(engine, master, "asterisk", timezone="America/New_York")
    assert (again.read, again.added, again.already) == (3, 0, 3) and len(_calls(engine)) == 3
    # A rotated successor repeating the last row adds only what is new.
    rotated = tmp_path / "Master.csv.1"
    rotated.write_text(AST_INTERNAL + AST_OUT.replace("09:05:07", "09:05:08").replace(",307,300,", ",308,301,"))
    assert pbx.import_file(engine, rotated, "asterisk", timezone="America/New_York").added == 1


def test_a_bad_row_names_file_and_line_and_nothing_of_the_file_is_imported(central, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    engine, url = central
    master = tmp_path / "Master.csv"
    master.write_text(AST_OUT + AST_IN + AST_INTERNAL.replace('"BUSY"', '"SLEEPING"'))
    with pytest.raises(CdrError) as caught:
        pbx.import_file(engine, master, "asterisk", timezone="America/New_York")
    assert caught.value.path == str(master) and caught.value.line == 3
    assert _calls(engine) == []
    argv = ["admin", "--url", url, "import-cdr", str(master), "--format", "asterisk", "--timezone", "America/New_York"]
    assert main(argv) == 2
    assert f"{master}, line 3:" in capsys.readouterr().err
    assert _calls(engine) == []
    assert main([*argv[:-4], "--format", "kamailio-acc", "--timezone", "UTC"]) == 2  # acc times are Unix times


def test_kamailio_acc_from_the_command_line(central, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    engine, url = central
    log = tmp_path / "acc.log"
    log.write_text(
        acc("transaction answered", 1768485600, "INVITE", "k1@pbx", 200)
        + acc("transaction answered", 1768485660, "BYE", "k1@pbx", 200)
        + acc("call missed", 1768485700, "INVITE", "k2@pbx", 486, "Busy Here", caller="2025550100", callee="202")
    )
    assert main(["admin", "--url", url, "import-cdr", str(log), "--format", "kamailio-acc"]) == 0
    assert "2 calls read, 2 added" in capsys.readouterr().out
    rows = _calls(engine)
    assert [(r[1], r[3], r[4], r[6], r[8]) for r in rows] == [
        ("ann", "outbound", "answered", "k1@pbx", 60),
        ("bo", "inbound", "busy", "k2@pbx", 0),
    ]
