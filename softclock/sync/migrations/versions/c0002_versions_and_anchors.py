"""entry content checked against its hash, every entry version kept, audit chain anchors

Revision ID: c0002
Revises: c0001
"""

import sqlalchemy as sa
from alembic import op

from softclock.sync import security

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_versions",
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=63), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("started_utc", sa.DateTime(), nullable=False),
        sa.Column("raw_seconds", sa.Float(), nullable=False),
        sa.Column("hold_seconds", sa.Float(), nullable=False),
        sa.Column("billed_units", sa.Integer(), nullable=False),
        sa.Column("unit_minutes", sa.Integer(), nullable=False),
        sa.Column("activity_code", sa.String(length=8), nullable=False),
        sa.Column("task_code", sa.String(length=8), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("remote_number", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("recorded_utc", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "version"),
    )
    with op.batch_alter_table("entry_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_versions_timekeeper_id"), ["timekeeper_id"], unique=False)

    op.create_table(
        "chain_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=63), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("device_label", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("anchored_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chain_anchors", schema=None) as batch_op:
        batch_op.create_index("ix_chain_anchors_device", ["timekeeper_id", "device_id", "seq"], unique=False)
    security.install_v2(op.get_bind())


def downgrade() -> None:
    security.uninstall_v2(op.get_bind())
    with op.batch_alter_table("chain_anchors", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_anchors_device")
    op.drop_table("chain_anchors")
    with op.batch_alter_table("entry_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_versions_timekeeper_id"))
    op.drop_table("entry_versions")
