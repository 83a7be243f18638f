"""audit chain checkpoint: the last event a check found intact

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checked_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("checked_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("checked_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("checked_utc", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("checked_utc")
        batch_op.drop_column("checked_count")
        batch_op.drop_column("checked_hash")
        batch_op.drop_column("checked_id")
