"""indexes for the reports: calls and PBX calls by start, and calls by the ids of their entries (PostgreSQL)

Revision ID: c0006
Revises: c0005

A report over a period reads calls and PBX calls by their start alone (the older indexes lead with the
timekeeper). The call history finds the calls behind entries that match a client, a matter or a search
through a GIN index of the entry ids each call lists (``entries_json``'s first items, as a jsonb array).
"""

import sqlalchemy as sa
from alembic import op

revision = "c0006"
down_revision = "c0005"
branch_labels = None
depends_on = None

ENTRY_IDS = "jsonb_path_query_array(CAST(entries_json AS jsonb), '$[*][0]')"


def upgrade() -> None:
    op.create_index("ix_calls_start", "calls", ["start_utc"], unique=False)
    op.create_index("ix_pbx_calls_start", "pbx_calls", ["start_utc"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f"CREATE INDEX ix_calls_entry_ids ON calls USING gin (({ENTRY_IDS}))"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP INDEX ix_calls_entry_ids"))
    op.drop_index("ix_pbx_calls_start", table_name="pbx_calls")
    op.drop_index("ix_calls_start", table_name="calls")
