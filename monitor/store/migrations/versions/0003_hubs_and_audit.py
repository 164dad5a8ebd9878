"""Hubs and the audit log: the device registry, sessions keyed by their hub's id, numbered events.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("patient_pseudonym", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_patient_pseudonym", "audit_event", ["patient_pseudonym"])
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("session_event") as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_session_event_session_id_seq", ["session_id", "seq"])
    with op.batch_alter_table("training_session") as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("hub_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_training_session_uid", ["uid"])
        batch_op.create_foreign_key(
            "fk_training_session_hub_id_device", "device", ["hub_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("training_session") as batch_op:
        batch_op.drop_constraint("fk_training_session_hub_id_device", type_="foreignkey")
        batch_op.drop_constraint("uq_training_session_uid", type_="unique")
        batch_op.drop_column("hub_id")
        batch_op.drop_column("uid")
    with op.batch_alter_table("session_event") as batch_op:
        batch_op.drop_constraint("uq_session_event_session_id_seq", type_="unique")
        batch_op.drop_column("seq")
    op.drop_table("device")
    op.drop_index("ix_audit_event_patient_pseudonym", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
