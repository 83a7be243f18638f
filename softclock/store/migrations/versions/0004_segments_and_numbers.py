"""held seconds per entry, contact numbers

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_seconds", sa.Float(), nullable=False, server_default="0"))
    op.create_table(
        "contact_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"]),
        sa.ForeignKeyConstraint(["matter_id"], ["matters.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_numbers_number"), ["number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_numbers_number"))
    op.drop_table("contact_numbers")
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_column("hold_seconds")
