"""matter search index: FTS5 with the trigram tokenizer on code, name and client

``matter_search`` holds one row per matter (rowid = matters.id);
``matter_search_dirty`` lists the matters whose row is missing or stale,
filled by triggers on matters and clients (indexing at once would make
importing or pulling 100,000 matters 4-20 s slower); search_matters reads the
stale ones with LIKE and indexes them as it goes. An index on matters
(client_id, status, code) lets the search walk open matters in the order shown
(made even without FTS5). Where SQLite lacks FTS5 or the trigram tokenizer
(before 3.34) nothing else is created and the search keeps using LIKE.

Every existing matter is marked stale here: the migration is instant, and the
index fills in batches after it (bench/store_scale.py times indexing 100,000).

The statements are a frozen copy of softclock/store/search_index.py at this
revision (new stores are created from that module).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ORDER_INDEX = "CREATE INDEX ix_matters_search_order ON matters (client_id, status, code)"
_STATEMENTS = (
    "CREATE VIRTUAL TABLE matter_search USING fts5(code, name, client, tokenize = 'trigram', detail = 'full')",
    "CREATE TABLE matter_search_dirty (id INTEGER PRIMARY KEY)",
    "CREATE TRIGGER matter_search_ai AFTER INSERT ON matters BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (new.id); END",
    "CREATE TRIGGER matter_search_ad AFTER DELETE ON matters BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (old.id); END",
    "CREATE TRIGGER matter_search_au AFTER UPDATE OF id, code, name, client_id ON matters BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (old.id); "
    "INSERT OR IGNORE INTO matter_search_dirty (id) VALUES (new.id); END",
    "CREATE TRIGGER matter_search_client_au AFTER UPDATE OF name ON clients BEGIN "
    "INSERT OR IGNORE INTO matter_search_dirty (id) SELECT id FROM matters WHERE client_id = new.id; END",
    "INSERT OR IGNORE INTO matter_search_dirty (id) SELECT id FROM matters",
)
_DROP = (
    "DROP TRIGGER IF EXISTS matter_search_client_au",
    "DROP TRIGGER IF EXISTS matter_search_au",
    "DROP TRIGGER IF EXISTS matter_search_ad",
    "DROP TRIGGER IF EXISTS matter_search_ai",
    "DROP TABLE IF EXISTS matter_search_dirty",
    "DROP TABLE IF EXISTS matter_search",
    "DROP INDEX IF EXISTS ix_matters_search_order",
)


def _supported() -> bool:
    bind = op.get_bind()
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp._softclock_fts_probe USING fts5(x, tokenize = 'trigram')")
    except Exception:  # no such module: fts5 / no such tokenizer: trigram
        return False
    bind.exec_driver_sql("DROP TABLE temp._softclock_fts_probe")
    return True


def upgrade() -> None:
    op.execute(_ORDER_INDEX)
    if not _supported():
        return
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP:
        op.execute(statement)
