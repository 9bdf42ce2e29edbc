"""CTCT mirror: the contacts, memberships and state an incremental read of CTCT merges into

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ctct_mirror_contacts",
        sa.Column("ctct_contact_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("job_title", sa.String(length=255), nullable=True),
        sa.Column("company_name", sa.String(length=255), nullable=True),
        sa.Column("permission", sa.String(length=32), nullable=True),
        sa.Column("opt_out_source", sa.String(length=32), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("ctct_contact_id", name=op.f("pk_ctct_mirror_contacts")),
    )
    op.create_table(
        "ctct_mirror_members",
        sa.Column("ctct_contact_id", sa.String(length=64), nullable=False),
        sa.Column("ctct_list_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ctct_contact_id", "ctct_list_id", name=op.f("pk_ctct_mirror_members")),
    )
    op.create_table(
        "ctct_mirror_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=600), nullable=False),
        sa.Column("newest_updated_at", sa.String(length=40), nullable=True),
        sa.Column("full_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("list_ids", sa.JSON(), nullable=False),
        sa.Column("needs_full_read", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ctct_mirror_state")),
    )


def downgrade() -> None:
    op.drop_table("ctct_mirror_state")
    op.drop_table("ctct_mirror_members")
    op.drop_table("ctct_mirror_contacts")
