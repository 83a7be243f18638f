"""sync with the central store: outbox, sync state, pulled codes, central ids on reference rows

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("enqueued_utc", sa.DateTime(), nullable=False),
        sa.Column("sent_utc", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "version"),
    )
    op.create_index("ix_outbox_state_id", "outbox", ["state", "id"], unique=False)
    op.create_table(
        "sync_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    for table in ("clients", "matters", "contact_numbers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("central_id", sa.Integer(), nullable=True))
            batch_op.create_unique_constraint(f"uq_{table}_central_id", ["central_id"])


def downgrade() -> None:
    for table in ("contact_numbers", "matters", "clients"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_central_id", type_="unique")
            batch_op.drop_column("central_id")
    op.drop_table("codes")
    op.drop_table("sync_state")
    op.drop_index("ix_outbox_state_id", table_name="outbox")
    op.drop_table("outbox")
