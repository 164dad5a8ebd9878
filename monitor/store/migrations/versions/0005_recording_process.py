"""Sessions marked with the process recording them, so one it left live when it died can be ended.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_session") as batch_op:
        batch_op.add_column(sa.Column("recorder", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_session") as batch_op:
        batch_op.drop_column("recorder")
