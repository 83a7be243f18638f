"""index for the review queue

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entries_status")
        batch_op.create_index("ix_time_entries_status_started", ["status", "started_utc"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entries_status_started")
        batch_op.create_index("ix_time_entries_status", ["status"], unique=False)
