"""Background runs and schedules: a run's live progress, held plans, workers, schedules, firings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("every_minutes", sa.Integer(), nullable=True),
        sa.Column("daily_at", sa.String(length=5), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("resolutions", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_schedules")),
    )
    op.create_table(
        "sync_schedule_firings",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["sync_schedules.id"],
            name=op.f("fk_sync_schedule_firings_schedule_id_sync_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "due_at", name=op.f("pk_sync_schedule_firings")),
    )
    op.create_table(
        "sync_held_plans",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_sync_held_plans_run_id_sync_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_sync_held_plans")),
    )
    op.create_table(
        "sync_workers",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_workers")),
    )
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))
        batch.add_column(sa.Column("progress_message", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_sync_runs_schedule_id"), ["schedule_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_sync_runs_schedule_id_sync_schedules"),
            "sync_schedules",
            ["schedule_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_constraint(batch.f("fk_sync_runs_schedule_id_sync_schedules"), type_="foreignkey")
        batch.drop_index(batch.f("ix_sync_runs_schedule_id"))
        batch.drop_column("schedule_id")
        batch.drop_column("progress_message")
        batch.drop_column("progress")
    op.drop_table("sync_workers")
    op.drop_table("sync_held_plans")
    op.drop_table("sync_schedule_firings")
    op.drop_table("sync_schedules")
