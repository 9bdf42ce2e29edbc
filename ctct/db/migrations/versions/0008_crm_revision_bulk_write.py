"""CRM revision on SQLite: a bulk write bumps it once, not once per row

SQLite has row triggers only, so 100,000 imported contacts bumped the counter 100,000 times — a
third of the insert's cost. A writer that bumps the revision itself marks its transaction with a
row in `crm_revision_bulk_write` (inserted after its own bump and deleted before its commit, so no
other connection ever sees it: SQLite has one writer at a time and readers see committed rows
only); while the row is there the triggers skip. Every other writer still bumps per row. On
PostgreSQL the statement triggers of 0007 are kept and the table stays empty.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CRM_TABLES = ("contacts", "companies", "email_lists", "list_memberships")
BUMP = (
    "INSERT INTO crm_revision (id, revision) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET revision = crm_revision.revision + 1"
)
UNMARKED = "WHEN NOT EXISTS (SELECT 1 FROM crm_revision_bulk_write) "


def _row_triggers(when: str) -> None:
    for table in CRM_TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_crm_revision_{event}")
            op.execute(
                f"CREATE TRIGGER {table}_crm_revision_{event} AFTER {event.upper()} ON {table} "
                f"FOR EACH ROW {when}BEGIN {BUMP}; END"
            )


def upgrade() -> None:
    op.create_table(
        "crm_revision_bulk_write",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_revision_bulk_write")),
    )
    if op.get_bind().dialect.name == "sqlite":
        _row_triggers(UNMARKED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _row_triggers("")
    op.drop_table("crm_revision_bulk_write")
