"""inserted entries checked against their hash and kept in the history once per statement (PostgreSQL)

Revision ID: c0005
Revises: c0004

The rules stay those of c0002; a push's one INSERT of its batch is checked by one statement-level
trigger over its new rows instead of two row triggers (~60 us a row). Updates keep the row triggers.
"""

from alembic import op

from softclock.sync import security

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    security.install_v3(op.get_bind())


def downgrade() -> None:
    security.uninstall_v3(op.get_bind())
