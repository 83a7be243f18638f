"""every call a laptop captured (pushed by call id and version), the firm's number-hashing key

Revision ID: c0004
Revises: c0003

On PostgreSQL: a timekeeper inserts, updates and reads only their own calls; billing and
admins read all. The key that hashes numbers under ``[central] privacy = true`` is made
here, once, and kept in ``firm_settings`` (every login reads it: laptops hash with it).
"""

import secrets

import sqlalchemy as sa
from alembic import op

from softclock.sync.security import _run

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None

_PG_GRANTS_V4 = """
REVOKE ALL ON {s}.calls FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON {s}.calls TO softclock_timekeeper;
GRANT SELECT ON {s}.calls TO softclock_billing, softclock_admin;
GRANT UPDATE (remote_hash) ON {s}.pbx_calls TO softclock_admin;

ALTER TABLE {s}.calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_reads_own ON {s}.calls FOR SELECT TO softclock_timekeeper
  USING (timekeeper_id = current_user);
CREATE POLICY timekeeper_adds_own ON {s}.calls FOR INSERT TO softclock_timekeeper
  WITH CHECK (timekeeper_id = current_user);
CREATE POLICY timekeeper_updates_own ON {s}.calls FOR UPDATE TO softclock_timekeeper
  USING (timekeeper_id = current_user) WITH CHECK (timekeeper_id = current_user);
CREATE POLICY staff_read ON {s}.calls FOR SELECT TO softclock_billing, softclock_admin USING (true);
"""


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("timekeeper_id", sa.String(length=63), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("remote_number", sa.String(length=64), nullable=False),
        sa.Column("number_hashed", sa.Boolean(), nullable=False),
        sa.Column("start_utc", sa.DateTime(), nullable=False),
        sa.Column("answer_utc", sa.DateTime(), nullable=True),
        sa.Column("end_utc", sa.DateTime(), nullable=True),
        sa.Column("ring_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("hold_seconds", sa.Float(), nullable=False),
        sa.Column("disposition", sa.String(length=16), nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=False),
        sa.Column("recovered", sa.Boolean(), nullable=False),
        sa.Column("entries_json", sa.Text(), nullable=False),
        sa.Column("pushed_utc", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calls_timekeeper_start", "calls", ["timekeeper_id", "start_utc"], unique=False)
    op.create_index("ix_calls_sip_call_id", "calls", ["sip_call_id"], unique=False)
    with op.batch_alter_table("pbx_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_hash", sa.String(length=64), nullable=True))
    op.execute(
        sa.text("INSERT INTO firm_settings (key, value) VALUES ('number_hash_key', :v)").bindparams(
            v=secrets.token_hex(32)
        )
    )
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        _run(conn, _PG_GRANTS_V4, s=conn.dialect.identifier_preparer.quote_identifier(schema))


def downgrade() -> None:
    op.execute("DELETE FROM firm_settings WHERE key = 'number_hash_key'")
    with op.batch_alter_table("pbx_calls", schema=None) as batch_op:
        batch_op.drop_column("remote_hash")
    op.drop_index("ix_calls_sip_call_id", table_name="calls")
    op.drop_index("ix_calls_timekeeper_start", table_name="calls")
    op.drop_table("calls")
