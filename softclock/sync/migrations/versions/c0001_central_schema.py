"""central schema: tables, change-sequence triggers, and on PostgreSQL roles and row-level security

Revision ID: c0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from softclock.sync import security

revision = "c0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_json", sa.Text(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("billing_policy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_billing_policy_change_seq"), ["change_seq"], unique=False)

    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("policy_json", sa.Text(), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_change_seq"), ["change_seq"], unique=False)

    op.create_table(
        "codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_codes_change_seq"), ["change_seq"], unique=False)

    op.create_table(
        "entry_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=63), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("entry_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_conflicts_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "sync_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=63), nullable=False),
        sa.Column("at_utc", sa.DateTime(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_log_timekeeper_id"), ["timekeeper_id"], unique=False)

    op.create_table(
        "timekeepers",
        sa.Column("id", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("office", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("rate", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.String(length=36), nullable=False),
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
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pushed_utc", sa.DateTime(), nullable=False),
        sa.Column("invoiced_utc", sa.DateTime(), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["timekeeper_id"],
            ["timekeepers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_timekeeper_change", ["timekeeper_id", "change_seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_entries_work_date"), ["work_date"], unique=False)

    op.create_table(
        "matters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy_json", sa.Text(), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("matters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matters_change_seq"), ["change_seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_matters_client_id"), ["client_id"], unique=False)

    op.create_table(
        "contact_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_numbers_change_seq"), ["change_seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_numbers_number"), ["number"], unique=False)
    security.install_v1(op.get_bind())


def downgrade() -> None:
    security.uninstall_v1(op.get_bind())
    with op.batch_alter_table("contact_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_numbers_number"))
        batch_op.drop_index(batch_op.f("ix_contact_numbers_change_seq"))

    op.drop_table("contact_numbers")
    with op.batch_alter_table("matters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matters_client_id"))
        batch_op.drop_index(batch_op.f("ix_matters_change_seq"))

    op.drop_table("matters")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_work_date"))
        batch_op.drop_index("ix_entries_timekeeper_change")

    op.drop_table("entries")
    op.drop_table("timekeepers")
    with op.batch_alter_table("sync_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_log_timekeeper_id"))

    op.drop_table("sync_log")
    with op.batch_alter_table("entry_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_conflicts_entry_id"))

    op.drop_table("entry_conflicts")
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_codes_change_seq"))

    op.drop_table("codes")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_change_seq"))

    op.drop_table("clients")
    with op.batch_alter_table("billing_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_policy_change_seq"))

    op.drop_table("billing_policy")
