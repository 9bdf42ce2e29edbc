"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 19:09:36.908442
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "customer",
                "prospect",
                name="company_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=80), nullable=True),
        sa.Column("email_key", sa.String(length=80), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("created_by_import", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_companies_email_key"), ["email_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_companies_name_key"), ["name_key"], unique=False)

    op.create_table(
        "ctct_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=True),
        sa.Column("account_email", sa.String(length=255), nullable=True),
        sa.Column("encrypted_access_token", sa.LargeBinary(), nullable=True),
        sa.Column("encrypted_refresh_token", sa.LargeBinary(), nullable=True),
        sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scopes", sa.String(length=255), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ctct_connections")),
    )
    op.create_table(
        "email_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("ctct_list_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_lists")),
        sa.UniqueConstraint("ctct_list_id", name=op.f("uq_email_lists_ctct_list_id")),
        sa.UniqueConstraint("name_key", name=op.f("uq_email_lists_name_key")),
    )
    op.create_table(
        "marketing_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_tags")),
        sa.UniqueConstraint("name_key", name=op.f("uq_marketing_tags_name_key")),
    )
    op.create_table(
        "sync_baseline_contacts",
        sa.Column("ctct_contact_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=80), nullable=False),
        sa.Column("first_name", sa.String(length=50), nullable=True),
        sa.Column("last_name", sa.String(length=50), nullable=True),
        sa.Column("company_name", sa.String(length=255), nullable=True),
        sa.Column("job_title", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("ctct_contact_id", name=op.f("pk_sync_baseline_contacts")),
    )
    op.create_table(
        "sync_baseline_lists",
        sa.Column("ctct_list_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ctct_list_id", name=op.f("pk_sync_baseline_lists")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_by", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("requests_used", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_table(
        "company_tags",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_tags_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["marketing_tags.id"],
            name=op.f("fk_company_tags_tag_id_marketing_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "tag_id", name=op.f("pk_company_tags")),
    )
    with op.batch_alter_table("company_tags", schema=None) as batch_op:
        batch_op.create_index("ix_company_tags_tag_id", ["tag_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=50), nullable=True),
        sa.Column("last_name", sa.String(length=50), nullable=True),
        sa.Column("email", sa.String(length=80), nullable=True),
        sa.Column("email_key", sa.String(length=80), nullable=True),
        sa.Column("job_title", sa.String(length=50), nullable=True),
        sa.Column(
            "email_status",
            sa.Enum(
                "active",
                "unsubscribed",
                name="email_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribe_source", sa.String(length=40), nullable=True),
        sa.Column("ctct_contact_id", sa.String(length=64), nullable=True),
        sa.Column("created_by_import", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_contacts_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("ctct_contact_id", name=op.f("uq_contacts_ctct_contact_id")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_email_key"), ["email_key"], unique=False)

    op.create_table(
        "sync_baseline_members",
        sa.Column("ctct_list_id", sa.String(length=64), nullable=False),
        sa.Column("ctct_contact_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ctct_list_id"],
            ["sync_baseline_lists.ctct_list_id"],
            name=op.f("fk_sync_baseline_members_ctct_list_id_sync_baseline_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ctct_list_id", "ctct_contact_id", name=op.f("pk_sync_baseline_members")),
    )
    op.create_table(
        "sync_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("activity_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_steps_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_steps")),
    )
    with op.batch_alter_table("sync_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_steps_run_id"), ["run_id"], unique=False)

    op.create_table(
        "list_memberships",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_list_memberships_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["email_lists.id"],
            name=op.f("fk_list_memberships_list_id_email_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "contact_id", name=op.f("pk_list_memberships")),
    )
    with op.batch_alter_table("list_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_list_memberships_contact_id", ["contact_id"], unique=False)

    op.create_table(
        "sync_row_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("change_kind", sa.String(length=40), nullable=False),
        sa.Column("list_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=80), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_row_changes_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["sync_steps.id"],
            name=op.f("fk_sync_row_changes_step_id_sync_steps"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_row_changes")),
    )
    with op.batch_alter_table("sync_row_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_row_changes_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_row_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_row_changes_run_id"))

    op.drop_table("sync_row_changes")
    with op.batch_alter_table("list_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_list_memberships_contact_id")

    op.drop_table("list_memberships")
    with op.batch_alter_table("sync_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_steps_run_id"))

    op.drop_table("sync_steps")
    op.drop_table("sync_baseline_members")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_email_key"))
        batch_op.drop_index(batch_op.f("ix_contacts_company_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("company_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_company_tags_tag_id")

    op.drop_table("company_tags")
    op.drop_table("sync_runs")
    op.drop_table("sync_baseline_lists")
    op.drop_table("sync_baseline_contacts")
    op.drop_table("marketing_tags")
    op.drop_table("email_lists")
    op.drop_table("ctct_connections")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companies_name_key"))
        batch_op.drop_index(batch_op.f("ix_companies_email_key"))

    op.drop_table("companies")
