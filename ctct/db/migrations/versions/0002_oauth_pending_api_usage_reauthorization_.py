"""oauth pending, api usage, reauthorization flag

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:49:04.955336
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
        "api_usage",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_api_usage")),
    )
    op.create_table(
        "oauth_pending",
        sa.Column("state", sa.String(length=128), nullable=False),
        sa.Column("encrypted_verifier", sa.LargeBinary(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_oauth_pending")),
    )
    with op.batch_alter_table("ctct_connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reauthorization_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("ctct_connections", schema=None) as batch_op:
        batch_op.drop_column("reauthorization_required")

    op.drop_table("oauth_pending")
    op.drop_table("api_usage")
