"""``queries.import_matters(update=True)``: existing matters are updated or left alone, in the same
one short transaction with a number of statements that does not grow with the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from softclock.errors import InputError
from softclock.store import queries
from softclock.store.db import Store, open_store
from softclock.store.models import Client, Matter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path)
    yield store
    store.close()


def _matters(store: Store) -> dict[str, tuple[str, str, str]]:
    with store.session() as s:
        rows = s.execute(select(Matter.code, Matter.name, Client.name, Matter.status).join(Client))
        return {code: (name, client, status) for code, name, client, status in rows}


def _import(store: Store, text: str, update: bool = True) -> queries.MatterImport:
    with store.session() as s, s.begin():
        return queries.import_matters(s, text, update=update)


def test_existing_matters_are_updated_or_left_alone(store: Store) -> None:
    _import(store, "M-1,Lease,Acme\nM-2,Will,Beta\nM-3,Trust,Beta\n", update=False)
    with store.session() as s, s.begin():
        s.execute(Matter.__table__.update().where(Matter.code == "M-3").values(status="closed"))
    done = _import(store, "code,name,client\nM-1,Lease renewal,Acme\nM-2,Will,Gamma\nM-3,Trust,Beta\nM-4,Estate,Acme\n")
    assert (done, done.added, done.updated, done.unchanged) == (1, 1, 2, 1)
    assert _matters(store) == {
        "M-1": ("Lease renewal", "Acme", "open"),
        "M-2": ("Will", "Gamma", "open"),
        "M-3": ("Trust", "Beta", "closed"),  # its status is not the import's to change
        "M-4": ("Estate", "Acme", "open"),
    }
    with store.session() as s:  # the search finds the new names and clients
        assert [m.code for m in queries.search_matters(s, "renewal")] == ["M-1"]
        assert [m.code for m in queries.search_matters(s, "gamma")] == ["M-2"]


def test_without_update_an_existing_matter_is_still_refused(store: Store) -> None:
    _import(store, "M-1,Lease,Acme\n", update=False)
    with pytest.raises(InputError, match=r"^line 2: Matter M-1 exists already\.$"):
        _import(store, "M-0,New,Acme\nM-1,Lease renewal,Acme\n", update=False)
    assert _matters(store) == {"M-1": ("Lease", "Acme", "open")}


def test_a_bad_line_imports_and_updates_nothing(store: Store) -> None:
    _import(store, "M-1,Lease,Acme\n", update=False)
    with pytest.raises(InputError, match=r"^line 3: expected 3 fields"):
        _import(store, "M-1,Lease renewal,Acme\nM-2,Will,Beta\nM-3,Trust\n")
    assert _matters(store) == {"M-1": ("Lease", "Acme", "open")}


def test_the_number_of_statements_does_not_grow_with_the_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both sizes take the bulk path (search_index.bulk: 7 statements set the index's triggers aside and back).
    monkeypatch.setattr(queries, "_BULK_MATTERS", 1)

    def csv(count: int, name: str) -> str:
        return "".join(f"M-{i:05d},{name} {i},Client {i % 7}\n" for i in range(count))

    sent: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement.split(None, 1)[0].upper())

    counts = []
    for size in (10, 2000):
        _import(store, csv(size, "Matter"))  # the second round adds 1,990 and meets 10
        sent.clear()
        event.listen(store.engine, "before_cursor_execute", on_execute)
        try:
            done = _import(store, csv(size, "Renamed"))
        finally:
            event.remove(store.engine, "before_cursor_execute", on_execute)
        assert (done.added, done.updated, done.unchanged) == (0, size, 0)
        counts.append(len(sent))
    assert counts[0] == counts[1] <= 6 + 7, counts
    assert len(_matters(store)) == 2000
