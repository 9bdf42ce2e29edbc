"""membership journal: every change to a list's members made in the console, the CLI or Python;
contacts indexed by the time they were last saved

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

HOW = ("tick", "untick", "select_all", "clear_all", "undo", "cli", "python")


def upgrade() -> None:
    op.create_table(
        "membership_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_by", sa.String(length=255), nullable=False),
        sa.Column(
            "how",
            sa.Enum(*HOW, name="membership_change_how", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("list_name", sa.String(length=255), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["email_lists.id"],
            name=op.f("fk_membership_changes_list_id_email_lists"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["undoes_id"],
            ["membership_changes.id"],
            name=op.f("fk_membership_changes_undoes_id_membership_changes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_changes")),
    )
    op.create_index(op.f("ix_membership_changes_made_at"), "membership_changes", ["made_at"])
    op.create_index(op.f("ix_membership_changes_list_id"), "membership_changes", ["list_id"])
    op.create_table(
        "membership_change_rows",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("added", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["membership_changes.id"],
            name=op.f("fk_membership_change_rows_change_id_membership_changes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("change_id", "contact_id", name=op.f("pk_membership_change_rows")),
    )

    op.create_index(op.f("ix_contacts_updated_at"), "contacts", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_contacts_updated_at"), table_name="contacts")
    op.drop_table("membership_change_rows")
    op.drop_index(op.f("ix_membership_changes_list_id"), table_name="membership_changes")
    op.drop_index(op.f("ix_membership_changes_made_at"), table_name="membership_changes")
    op.drop_table("membership_changes")
