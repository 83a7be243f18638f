"""firm settings (LAW_FIRM_ID), timekeeper classification and extension, the PBX's own call records

Revision ID: c0003
Revises: c0002

On PostgreSQL: everyone reads the firm's settings, admins change them; admins import PBX
calls; a timekeeper reads only the PBX calls on their own extension, billing and admins all.
"""

import sqlalchemy as sa
from alembic import op

from softclock.sync.security import _run

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None

_PG_GRANTS_V3 = """
REVOKE ALL ON {s}.firm_settings, {s}.pbx_calls FROM PUBLIC;
GRANT SELECT ON {s}.firm_settings TO softclock_timekeeper, softclock_billing, softclock_admin;
GRANT INSERT, UPDATE ON {s}.firm_settings TO softclock_admin;
GRANT SELECT ON {s}.pbx_calls TO softclock_timekeeper, softclock_billing, softclock_admin;
GRANT INSERT ON {s}.pbx_calls TO softclock_admin;
GRANT USAGE ON SEQUENCE {s}.pbx_calls_id_seq TO softclock_admin;

ALTER TABLE {s}.pbx_calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_reads_own ON {s}.pbx_calls FOR SELECT TO softclock_timekeeper
  USING (timekeeper_id = current_user);
CREATE POLICY staff_read ON {s}.pbx_calls FOR SELECT TO softclock_billing, softclock_admin USING (true);
CREATE POLICY admin_imports ON {s}.pbx_calls FOR INSERT TO softclock_admin WITH CHECK (true);
"""


def upgrade() -> None:
    with op.batch_alter_table("timekeepers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("classification", sa.String(length=10), server_default="", nullable=False))
        batch_op.add_column(sa.Column("extension", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_timekeepers_extension", ["extension"])
    op.create_table(
        "firm_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "pbx_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dedup_key", sa.String(length=80), nullable=False),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("source_file", sa.String(length=300), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(), nullable=False),
        sa.Column("answer_utc", sa.DateTime(), nullable=True),
        sa.Column("end_utc", sa.DateTime(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("billsec", sa.Integer(), nullable=True),
        sa.Column("caller", sa.String(length=128), nullable=False),
        sa.Column("callee", sa.String(length=128), nullable=False),
        sa.Column("remote_e164", sa.String(length=32), nullable=True),
        sa.Column("extension", sa.String(length=32), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=True),
        sa.Column("pbx_unique_id", sa.String(length=64), nullable=True),
        sa.Column("timekeeper_id", sa.String(length=63), nullable=True),
        sa.Column("imported_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    op.create_index("ix_pbx_calls_timekeeper_start", "pbx_calls", ["timekeeper_id", "start_utc"], unique=False)
    op.create_index("ix_pbx_calls_sip_call_id", "pbx_calls", ["sip_call_id"], unique=False)
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        _run(conn, _PG_GRANTS_V3, s=conn.dialect.identifier_preparer.quote_identifier(schema))


def downgrade() -> None:
    op.drop_index("ix_pbx_calls_sip_call_id", table_name="pbx_calls")
    op.drop_index("ix_pbx_calls_timekeeper_start", table_name="pbx_calls")
    op.drop_table("pbx_calls")
    op.drop_table("firm_settings")
    with op.batch_alter_table("timekeepers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_timekeepers_extension", type_="unique")
        batch_op.drop_column("extension")
        batch_op.drop_column("classification")
