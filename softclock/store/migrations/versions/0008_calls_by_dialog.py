"""calls are keyed by their dialog: the SIP Call-ID and the far end's tag

A second INVITE that reuses a live call's Call-ID with another From tag is
another dialog, hence another call; a unique Call-ID alone made the second
one end the first one's record.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The Call-ID's unique constraint was created unnamed (0001); this names it for batch mode.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.add_column(sa.Column("dialog_tag", sa.String(length=128), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_calls_sip_call_id", type_="unique")
        batch_op.create_unique_constraint("uq_calls_dialog", ["sip_call_id", "dialog_tag"])


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None, naming_convention=_NAMES) as batch_op:
        batch_op.drop_constraint("uq_calls_dialog", type_="unique")
        batch_op.create_unique_constraint("uq_calls_sip_call_id", ["sip_call_id"])
        batch_op.drop_column("dialog_tag")
