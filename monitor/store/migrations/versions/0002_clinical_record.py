"""The clinical record: profiles, versioned prescriptions, reports, session load, advice decisions.

With 0001, the schema of Dosis 316c8ec, the release users run, which still created its
tables without Alembic; ``monitor.store.migrations.migrate`` stamps such a database with
this revision.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clinical_profile",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("hr_rest_bpm", sa.Float(), nullable=True),
        sa.Column("hr_max_bpm", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patient_id"),
    )
    op.create_table(
        "prescription_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["clinician.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "version"),
    )
    op.create_index("ix_prescription_version_patient_id", "prescription_version", ["patient_id"])
    op.create_table(
        "session_report",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("pain_before", sa.Float(), nullable=True),
        sa.Column("pain_during", sa.Float(), nullable=True),
        sa.Column("pain_after", sa.Float(), nullable=True),
        sa.Column("effort_cr10", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("red_flags", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["training_session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_table(
        "morning_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("pain", sa.Float(), nullable=True),
        sa.Column("stiffness", sa.Float(), nullable=True),
        sa.Column("red_flags", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "day"),
    )
    op.create_index("ix_morning_report_patient_id", "morning_report", ["patient_id"])
    op.create_table(
        "session_load",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("trimp_banister", sa.Float(), nullable=True),
        sa.Column("trimp_edwards", sa.Float(), nullable=True),
        sa.Column("time_above_ceiling_s", sa.Float(), nullable=True),
        sa.Column("ceiling_bpm", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["training_session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_table(
        "advice_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("advice", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("prescription_version_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["clinician.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["prescription_version_id"], ["prescription_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "week_start"),
    )
    op.create_index("ix_advice_decision_patient_id", "advice_decision", ["patient_id"])


def downgrade() -> None:
    for table in (
        "advice_decision",
        "session_load",
        "morning_report",
        "session_report",
        "prescription_version",
        "clinical_profile",
    ):
        op.drop_table(table)
