"""CRM revision: one counter that database triggers bump on every change to contacts, companies,
email lists and list memberships, so a commit's stale check is one SELECT

Every writer counts — the console, a bulk import, raw SQL in a shell — because the database
itself bumps the counter. The trigger inserts the row when it is missing (a TRUNCATE of every
table, say), so the counter never stops counting. SQLite has row triggers only (a bulk insert of
100,000 rows bumps it 100,000 times, a microsecond or two each); PostgreSQL once per statement
that changed rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CRM_TABLES = ("contacts", "companies", "email_lists", "list_memberships")
BUMP = (
    "INSERT INTO crm_revision (id, revision) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET revision = crm_revision.revision + 1"
)


def upgrade() -> None:
    op.create_table(
        "crm_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_revision")),
    )
    op.execute("INSERT INTO crm_revision (id, revision) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        # Once per transaction: a transaction-local setting remembers the bump (a savepoint
        # rolled back forgets it with the bump), since updating one row again and again in one
        # transaction grows its chain of row versions — 20,000 inserts took 12 s instead of 2.
        # Only a statement that changed rows counts (its transition table is not empty).
        once = (
            "IF current_setting('ctct.crm_revision_bumped', true) IS DISTINCT FROM 'yes' THEN "
            f"{BUMP}; PERFORM set_config('ctct.crm_revision_bumped', 'yes', true); END IF;"
        )
        op.execute(
            "CREATE FUNCTION crm_revision_bump_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF EXISTS (SELECT FROM changed) THEN {once} END IF; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE FUNCTION crm_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{once} RETURN NULL; END $$"
        )
        for table in CRM_TABLES:
            for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                op.execute(
                    f"CREATE TRIGGER {table}_crm_revision_{event.lower()} AFTER {event} ON {table} "
                    f"REFERENCING {rows} TABLE AS changed "
                    "FOR EACH STATEMENT EXECUTE FUNCTION crm_revision_bump_changed()"
                )
            op.execute(
                f"CREATE TRIGGER {table}_crm_revision_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION crm_revision_bump()"
            )
        return
    for table in CRM_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_crm_revision_{event.lower()} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in CRM_TABLES:
        for event in ("insert", "update", "delete", *(("truncate",) if postgresql else ())):
            op.execute(f"DROP TRIGGER {table}_crm_revision_{event}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION crm_revision_bump_changed()")
        op.execute("DROP FUNCTION crm_revision_bump()")
    op.drop_table("crm_revision")
