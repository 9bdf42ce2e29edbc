"""baseline by email, sync locks

The baseline tables were never written before this revision, so they are recreated with their
new keys rather than altered.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 20:00:00
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
        "sync_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_locks")),
    )
    op.drop_table("sync_baseline_members")
    op.drop_table("sync_baseline_contacts")
    op.create_table(
        "sync_baseline_members",
        sa.Column("ctct_list_id", sa.String(length=64), nullable=False),
        sa.Column("email_key", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["ctct_list_id"],
            ["sync_baseline_lists.ctct_list_id"],
            name=op.f("fk_sync_baseline_members_ctct_list_id_sync_baseline_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ctct_list_id", "email_key", name=op.f("pk_sync_baseline_members")),
    )
    op.create_table(
        "sync_baseline_contacts",
        sa.Column("email_key", sa.String(length=80), nullable=False),
        sa.Column("first_name", sa.String(length=50), nullable=True),
        sa.Column("last_name", sa.String(length=50), nullable=True),
        sa.Column("company_name", sa.String(length=255), nullable=True),
        sa.Column("job_title", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("email_key", name=op.f("pk_sync_baseline_contacts")),
    )


def downgrade() -> None:
    op.drop_table("sync_baseline_contacts")
    op.drop_table("sync_baseline_members")
    op.drop_table("sync_locks")
