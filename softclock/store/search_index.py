"""The matter search index: an SQLite FTS5 table with the trigram tokenizer.

``matter_search`` holds one row per matter (rowid = ``matters.id``) with its
code, name and client's name. A trigram phrase query (``"acme"``) finds every
row that contains the word as a substring in one of the columns, ignoring
case, from the index: :func:`softclock.store.queries.search_matters` uses it
for words of three characters or more and LIKE for shorter ones.

Writes do not wait for the index. Indexing costs ~40 us a matter (trigrams of
~70 characters), ~200 us inside a per-row executemany (FTS5 flushes at every
statement's savepoint): a trigger that indexed at once would add 4-20 s to
importing or pulling 100,000 matters. Instead, triggers on ``matters`` and
``clients`` note the matters whose index row is missing or stale in
``matter_search_dirty`` (a plain table, ~1 us a row), the search reads those
few rows with LIKE (so it is always exact), and :func:`catch_up` indexes them
in one statement each (the search does some of it when it runs outside a
transaction; a bulk writer may call it after its commit).

New stores get all this here (the fast path of
:func:`softclock.store.db.migrate`), existing ones from migration 0009, which
has its own frozen copy of the same statements;
``tests/unit/store/test_matter_search.py`` holds the two equal.

A writer of many matters in one transaction (a pull into a new laptop) uses :func:`bulk`: the triggers on
``matters`` cost ~20 us a row in an executemany (a trigger program per row), 2 s of a 100,000-matter pull,
so they are dropped inside the writer's transaction and created again before it commits, and the matters
it wrote are marked stale in one statement each.

Beware: a batch migration that rebuilds ``matters`` or ``clients`` (copy, drop,
rename) drops their triggers with the old table; such a migration must create
:data:`TRIGGERS` again and mark every matter stale (:data:`MARK_ALL`). The test
named above fails until it does.

An SQLite without FTS5 or the trigram tokenizer (older than 3.34) gets only the
order index; the search then uses LIKE for every word (:func:`supported`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Open matters in the order the search shows them (client, then code), from the index alone:
# the search walks it when a word is common.
ORDER_INDEX = "CREATE INDEX ix_matters_search_order ON matters (client_id, status, code)"

CREATE_TABLE = (
    "CREATE VIRTUAL TABLE matter_search USING fts5(code, name, client, tokenize = 'trigram', detail = 'full')"
)
CREATE_DIRTY = "CREATE TABLE matter_search_dirty (id INTEGER PRIMARY KEY)"

TRIGGERS = (
    "CREATE TRIGGER matter_search_ai AFTER INSERT ON matters BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (new.id); END",
    "CREATE TRIGGER matter_search_ad AFTER DELETE ON matters BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (old.id); END",
    "CREATE TRIGGER matter_search_au AFTER UPDATE OF id, code, name, client_id ON matters BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (old.id); "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (new.id); END",
    "CREATE TRIGGER matter_search_client_au AFTER UPDATE OF name ON clients BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) SELECT id FROM matters WHERE client_id = new.id; END",
)

# Every matter to be indexed (a new index, or after a rebuild of matters or clients).
MARK_ALL = "INSERT OR IGNORE INTO matter_search_dirty (id) SELECT id FROM matters"

STATEMENTS = (CREATE_TABLE, CREATE_DIRTY, *TRIGGERS, MARK_ALL)

_BATCH = "SELECT id FROM matter_search_dirty ORDER BY id LIMIT :n"


def supported(conn: Any) -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (``conn``: a
    SQLAlchemy connection)."""
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp._softclock_fts_probe USING fts5(x, tokenize = 'trigram')")
    except Exception:  # sqlite3.OperationalError: no such module: fts5 / no such tokenizer: trigram
        return False
    conn.exec_driver_sql("DROP TABLE temp._softclock_fts_probe")
    return True


def create(conn: Any) -> bool:
    """Create the order index, and the trigram index with its table of stale
    matters and triggers, on ``conn`` (inside the caller's transaction), every
    matter marked stale; False (and only the order index) where SQLite lacks
    FTS5 or the trigram tokenizer."""
    conn.exec_driver_sql(ORDER_INDEX)
    if not supported(conn):
        return False
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement)
    return True


def catch_up(conn: Any, limit: int | None = None) -> int:
    """Index up to ``limit`` (None: all) stale matters on ``conn``, inside the
    caller's transaction; returns how many are still stale. ~40 us a matter."""
    from sqlalchemy import text

    n = -1 if limit is None else limit
    batch = f"({_BATCH})"
    conn.execute(text(f"DELETE FROM matter_search WHERE rowid IN {batch}"), {"n": n})
    conn.execute(
        text(
            "INSERT INTO matter_search (rowid, code, name, client) SELECT m.id, m.code, m.name, c.name "
            f"FROM matters m JOIN clients c ON c.id = m.client_id WHERE m.id IN {batch}"
        ),
        {"n": n},
    )
    conn.execute(text(f"DELETE FROM matter_search_dirty WHERE id IN {batch}"), {"n": n})
    return int(conn.execute(text("SELECT count(*) FROM matter_search_dirty")).scalar() or 0)


# The triggers :func:`bulk` stands in for (names and statements as in :data:`TRIGGERS`).
_MATTER_TRIGGERS = (("matter_search_ai", TRIGGERS[0]), ("matter_search_au", TRIGGERS[2]))


class BulkMarks:
    """What a :func:`bulk` writer tells it: the existing matters it updated."""

    def __init__(self) -> None:
        self.updated: list[int] = []


@contextmanager
def bulk(conn: Any) -> Iterator[BulkMarks]:
    """Inside the caller's transaction on ``conn`` (a SQLAlchemy connection): the insert and update
    triggers on ``matters`` are dropped for the block, and after it the matters inserted (every id above
    the highest before) and those in ``marks.updated`` are marked stale and the triggers are created
    again, all before the caller commits (a rollback puts everything back as it was). A block that raises
    leaves it to the caller's rollback. A store without the index: nothing to do."""
    marks = BulkMarks()
    present = {
        name
        for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)",
            tuple(name for name, _ in _MATTER_TRIGGERS),
        )
    }
    if not present:
        yield marks
        return
    highest = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM matters").scalar()
    for name in present:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield marks
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO matter_search_dirty (id) SELECT id FROM matters WHERE id > ?", (highest,)
    )
    if marks.updated:
        conn.exec_driver_sql("INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (?)", [(i,) for i in marks.updated])
    for name, create in _MATTER_TRIGGERS:
        if name in present:
            conn.exec_driver_sql(create)
