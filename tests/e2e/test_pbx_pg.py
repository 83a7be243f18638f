"""`softclock admin import-cdr` on a real PostgreSQL central store: COPY into a temporary table, one
INSERT ... ON CONFLICT DO NOTHING, all in one transaction; row-level security on the PBX calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from softclock.reports.cdr import CdrError
from softclock.sync import admin, pbx
from tests.unit.reports.test_cdr import AST_IN, AST_INTERNAL, AST_OUT


@pytest.fixture
def firm(pg_db):  # type: ignore[no-untyped-def]
    installer = create_engine(pg_db.superuser_url())
    admin.init_store(installer)
    suffix = pg_db.name.removeprefix("t_")[:12]
    names = {k: f"{k}_{suffix}" for k in ("ann", "bo", "billing", "admin")}
    admin.add_timekeeper(installer, admin.NewTimekeeper(names["ann"], "Ann", extension="201"), "pw")
    admin.add_timekeeper(installer, admin.NewTimekeeper(names["bo"], "Bo", extension="202"), "pw")
    admin.add_staff(installer, names["billing"], "billing", "pw")
    admin.add_staff(installer, names["admin"], "admin", "pw")
    engines = {k: create_engine(pg_db.url(v, "pw")) for k, v in names.items()}
    yield names, engines, installer
    for engine in engines.values():
        engine.dispose()
    installer.dispose()


def _count(engine, where: str = "true") -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM pbx_calls WHERE {where}")))


def test_admin_imports_once_with_copy_and_each_reads_what_the_rules_allow(firm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    names, engines, installer = firm
    master = tmp_path / "Master.csv"
    master.write_text(AST_OUT + AST_IN + AST_INTERNAL)
    first = pbx.import_file(engines["admin"], master, "asterisk", timezone="America/New_York")
    assert (first.read, first.added, first.mapped) == (3, 3, 3)
    assert pbx.import_file(engines["admin"], master, "asterisk", timezone="America/New_York").added == 0
    assert _count(installer) == 3
    with installer.connect() as conn:
        row = conn.execute(
            text("SELECT timekeeper_id, start_utc, sip_call_id FROM pbx_calls WHERE source_line = 1")
        ).one()
    assert (row[0], row[1].isoformat(), row[2]) == (names["ann"], "2026-01-15T14:00:00", "3c2a9f@10.0.0.5")
    # Row-level security: a timekeeper reads the calls on their own extension only; billing and admin all.
    assert _count(engines["ann"]) == 2 and _count(engines["bo"]) == 1
    assert _count(engines["billing"]) == 3 and _count(engines["admin"]) == 3
    with pytest.raises(Exception, match="permission denied"):
        pbx.import_file(engines["billing"], master, "asterisk", timezone="America/New_York")
    with pytest.raises(Exception, match="permission denied"):
        pbx.import_file(engines["ann"], master, "asterisk", timezone="America/New_York")


def test_a_bad_row_rolls_the_whole_file_back(firm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, engines, installer = firm
    master = tmp_path / "Master.csv"
    master.write_text(AST_OUT + AST_IN + AST_INTERNAL.replace(",4,0,", ",x,0,"))
    with pytest.raises(CdrError, match=r"Master.csv, line 3: "):
        pbx.import_file(engines["admin"], master, "asterisk", timezone="America/New_York")
    assert _count(installer) == 0
