"""``queries.import_matters``: all or nothing, first bad line named, and one
short write whatever the size of the file (bench/matters_import.py times it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from softclock.store import queries
from softclock.store.db import DB_NAME, Store, open_store
from softclock.store.models import Client, Matter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path)
    yield store
    store.close()


class Statements:
    """The SQL sent to the store while it is active."""

    def __init__(self, store: Store) -> None:
        self.sent: list[str] = []
        self._engine = store.engine
        event.listen(self._engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        self.sent.append(statement.split(None, 1)[0].upper())

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._on_execute)


def _csv(count: int, clients: int = 7, start: int = 0) -> str:
    return "".join(f"M-{i:05d},Matter {i},Client {i % clients}\n" for i in range(start, start + count))


def _matters(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as s:
        return [
            tuple(r)
            for r in s.execute(select(Matter.code, Matter.name, Client.name).join(Client).order_by(Matter.code))
        ]


def test_the_number_of_statements_does_not_grow_with_the_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both sizes take the bulk path (search_index.bulk: 7 statements set the index's triggers aside and back).
    monkeypatch.setattr(queries, "_BULK_MATTERS", 1)
    counts = []
    for size, start in ((10, 0), (2000, 10)):
        sent = Statements(store)
        with store.session() as s, s.begin():
            assert queries.import_matters(s, _csv(size, start=start)) == size
        sent.close()
        counts.append(len(sent.sent))
    assert counts[1] <= counts[0] <= 6 + 7, counts  # per row, they were 6,000 for 2,000 rows
    assert len(_matters(store)) == 2010


def test_a_bad_last_line_is_named_before_anything_is_written(store: Store) -> None:
    text = _csv(500) + "M-X,No client\n"
    sent = Statements(store)
    with (
        store.session() as s,
        pytest.raises(queries.InputError, match=r"^line 501: expected 3 fields \(code,name,client\), found 2$"),
        s.begin(),
    ):
        queries.import_matters(s, text)
    sent.close()
    assert sent.sent == ["SELECT"]  # parsed first: only the existing codes were read (no write lock)
    assert _matters(store) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("M-1,a,Acme\nM-2,,Acme\n", "line 2: Matter M-2: the name is empty."),
        ("M-1,a,Acme\n ,b,Acme\n", "line 2: The matter code is empty."),
        ("M-1,a,Acme\nM-2,b, \n", "line 2: Matter M-2: the client is empty."),
        ("M-1,a,Acme\nM-1,b,Acme\n", "line 2: matter M-1 appears twice in the file"),
        ("M-1,a,Acme\nOLD-1,b,Acme\nM-3,c\n", "line 2: Matter OLD-1 exists already."),  # the first bad line wins
        ("M-1,a,Acme\nM-3,c\nOLD-1,b,Acme\n", "line 2: expected 3 fields (code,name,client), found 2"),
        ("M-1,a,Acme\nOLD-1,b,Acme\n", "line 2: Matter OLD-1 exists already."),
    ],
)
def test_the_first_bad_line_is_named_and_nothing_is_imported(store: Store, text: str, message: str) -> None:
    with store.session() as s, s.begin():
        queries.add_matter(s, "OLD-1", "Old", "Zed")
    with store.session() as s, pytest.raises(queries.InputError) as caught, s.begin():
        queries.import_matters(s, text)
    assert str(caught.value) == message
    assert _matters(store) == [("OLD-1", "Old", "Zed")]


def test_clients_are_reused_and_created_once(store: Store) -> None:
    with store.session() as s, s.begin():
        queries.add_matter(s, "OLD-1", "Old", "Acme Corp")
    text = "code,name,client\nM-1, Lease ,Acme Corp\nM-2,Will, Beta LLC\nM-3,Trust,Beta LLC\n\n"
    with store.session() as s, s.begin():
        assert queries.import_matters(s, text) == 3
    with store.session() as s:
        assert sorted(s.scalars(select(Client.name))) == ["Acme Corp", "Beta LLC"]
        assert sorted(m.code for m in queries.search_matters(s, "acme")) == ["M-1", "OLD-1"]
    assert _matters(store)[0] == ("M-1", "Lease", "Acme Corp")
    with store.session() as s, s.begin():
        assert queries.import_matters(s, "code,name,client\n\n") == 0


def test_the_write_lock_is_taken_before_the_store_is_read(store: Store, tmp_path: Path) -> None:
    """The reads of existing codes and clients and the inserts are one
    transaction holding the write lock: no writer can slip in between (a
    deferred transaction's reads would go stale and its first insert fail)."""
    other = sqlite3.connect(tmp_path / DB_NAME, timeout=0, isolation_level=None)
    seen: list[str] = []

    def probe(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                seen.append("free")
            except sqlite3.OperationalError as exc:
                seen.append(str(exc))

    event.listen(store.engine, "before_cursor_execute", probe)
    try:
        with store.session() as s, s.begin():
            queries.import_matters(s, _csv(20))
    finally:
        event.remove(store.engine, "before_cursor_execute", probe)
        other.close()
    assert seen and set(seen) == {"database is locked"}, seen


def test_a_csv_error_is_a_named_line(store: Store) -> None:
    import csv

    limit = csv.field_size_limit()
    with store.session() as s, pytest.raises(queries.InputError, match=r"^line 2: field larger than field limit"):
        queries.import_matters(s, "M-1,a,b\nM-2," + "x" * (limit + 1) + ",c\n")
