"""token refresh lease: a refresh holds no transaction across CTCT's answer; room for the
run status "completed_with_errors"

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ctct_connections") as table:
        table.add_column(sa.Column("refresh_holder", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("refresh_started_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sync_runs") as table:
        table.alter_column("status", existing_type=sa.String(length=20), type_=sa.String(length=32))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as table:
        table.alter_column("status", existing_type=sa.String(length=32), type_=sa.String(length=20))
    with op.batch_alter_table("ctct_connections") as table:
        table.drop_column("refresh_started_at")
        table.drop_column("refresh_holder")
