"""The CRM revision around the bulk writes of the CRM (a CSV import, the demo data): it moves for
every write a stale check could miss, once per write on SQLite (migration 0008), and every other
writer still bumps it."""

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ctct.crm import demo, importer
from ctct.db import Database
from ctct.db.models import Contact, CrmRevisionBulkWrite
from ctct.sync.local_read import crm_revision

CSV = (
    "Company,Kind,Company Email,First Name,Last Name,Email,Job Title,Tags\n"
    "Acme,customer,info@acme.com,Ann,Lee,ann@acme.com,Owner,VIP\n"
    "Acme,customer,,Bo,Berg,bo@acme.com,,\n"
    "Zeta,prospect,,Cy,Dee,cy@zeta.com,Buyer,VIP;Newsletter\n"
)


def plan(session):
    frame, ignored = importer.read_import_file("crm.csv", CSV.encode())
    return importer.plan_crm_import(session, frame, ignored_columns=ignored)


def revision_seen_elsewhere(database):
    """The revision as a second connection (a stale check, say) reads it."""
    other = Database(database.url, run_migrations=False)
    try:
        with other.session() as session:
            return crm_revision(session), session.scalar(select(func.count()).select_from(CrmRevisionBulkWrite))
    finally:
        other.dispose()


def test_an_import_moves_the_revision_other_connections_read(database):
    before, _ = revision_seen_elsewhere(database)
    with database.session() as session:
        importer.commit_crm_import(session, plan(session))
    after, marks = revision_seen_elsewhere(database)
    assert after != before
    assert marks == 0
    if database.is_sqlite:
        assert after == before + 1  # once for 2 companies and 3 contacts, not per row


def test_other_writers_still_bump_after_an_import(database):
    with database.session() as session:
        importer.commit_crm_import(session, plan(session))
    for statement in (
        "UPDATE contacts SET job_title = 'Chief' WHERE email = 'bo@acme.com'",
        "DELETE FROM contacts WHERE email = 'cy@zeta.com'",
        "UPDATE companies SET email = 'hello@zeta.com' WHERE name = 'Zeta'",
    ):
        before, _ = revision_seen_elsewhere(database)
        with database.session() as session:
            session.execute(text(statement))
        assert revision_seen_elsewhere(database)[0] != before, statement


class Interrupted(Exception):
    pass


def interrupt_after_companies(_fraction, message):
    if message == "tags assigned":
        raise Interrupted(message)


def test_a_failed_import_leaves_revision_and_mark_as_they_were(database):
    before = revision_seen_elsewhere(database)
    with pytest.raises(Interrupted), database.session() as session:
        importer.commit_crm_import(session, plan(session), progress=interrupt_after_companies)
    assert revision_seen_elsewhere(database) == before
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_writes_after_a_failed_import_in_the_same_transaction_still_bump(database):
    with database.session() as session:
        with pytest.raises(Interrupted):
            importer.commit_crm_import(session, plan(session), progress=interrupt_after_companies)
        assert session.scalar(select(func.count()).select_from(CrmRevisionBulkWrite)) == 0
        before = crm_revision(session)
        session.execute(text("UPDATE companies SET kind = 'prospect'"))
        assert crm_revision(session) != before or not database.is_sqlite


def test_downgrade_restores_the_per_row_triggers(sqlite_url):
    from alembic import command

    from ctct.db import alembic_config

    database = Database(sqlite_url)
    with database.session() as session:
        importer.commit_crm_import(session, plan(session))
    command.downgrade(alembic_config(database.engine), "0007")
    with database.session() as session:
        assert "crm_revision_bulk_write" not in {
            name for (name,) in session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        }
        before = crm_revision(session)
        session.execute(text("UPDATE companies SET kind = 'prospect'"))
        assert crm_revision(session) == before + 2  # one bump per company again
    database.dispose()


def test_an_import_that_changes_nothing_leaves_the_revision_alone(database):
    """The same file again creates and fills nothing: open previews must not turn stale."""
    with database.session() as session:
        importer.commit_crm_import(session, plan(session))
    before = revision_seen_elsewhere(database)
    with database.session() as session:
        summary = importer.commit_crm_import(session, plan(session))
    assert (summary.contacts_created, summary.contacts_updated, summary.companies_created) == (0, 0, 0)
    assert revision_seen_elsewhere(database) == before


def test_loading_the_demo_data_moves_the_revision_once(database):
    """The demo's companies, tags and contacts, and with --replace the deletion of what was there,
    in one bump on SQLite (the row triggers would bump once per row)."""
    for replace in (False, True):
        before, _ = revision_seen_elsewhere(database)
        with database.session() as session:
            loaded = demo.load_demo_data(session, companies=12, replace=replace)
        after, marks = revision_seen_elsewhere(database)
        assert loaded.contacts > 12 and after != before and marks == 0
        if database.is_sqlite:
            assert after == before + 1


def trigger_definitions(session):
    return dict(session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())


def test_the_row_triggers_are_as_they_were_after_an_import_and_after_a_failed_one(sqlite_url):
    """The import drops the CRM's row triggers inside its transaction (they would run for every row
    only to skip): whether it commits or fails, every connection finds them again, unchanged."""
    database = Database(sqlite_url)
    with database.session() as session:
        triggers = trigger_definitions(session)
    assert len(triggers) >= 6
    with pytest.raises(Interrupted), database.session() as session:
        importer.commit_crm_import(session, plan(session), progress=interrupt_after_companies)
    with database.session() as session:
        assert trigger_definitions(session) == triggers
        importer.commit_crm_import(session, plan(session))
        assert trigger_definitions(session) == triggers
    other = Database(database.url, run_migrations=False)
    with other.session() as session:
        assert trigger_definitions(session) == triggers
    other.dispose()
    database.dispose()


def test_other_connections_see_the_triggers_while_an_import_has_them_dropped(sqlite_url):
    from ctct.db.bulk import crm_revision_bumped_once

    database = Database(sqlite_url)
    with database.session() as session:
        triggers = trigger_definitions(session)
    other = Database(database.url, run_migrations=False)
    with database.session() as session, crm_revision_bumped_once(session.connection()):
        assert trigger_definitions(session) == {}  # dropped in this transaction only
        with other.session() as elsewhere:
            assert trigger_definitions(elsewhere) == triggers
    other.dispose()
    database.dispose()


KILLED_INSIDE_THE_BLOCK = """
import os, sys
from sqlalchemy import text
from ctct.db import Database
from ctct.db.bulk import crm_revision_bumped_once

database = Database(sys.argv[1], run_migrations=False)
with database.session() as session, crm_revision_bumped_once(session.connection()):
    session.execute(text("UPDATE companies SET kind = 'prospect'"))
    session.flush()
    os._exit(3)  # killed with the triggers dropped and rows written: no finally, no rollback
"""


def test_a_process_killed_inside_a_bulk_write_leaves_the_triggers_and_the_revision(sqlite_url, tmp_path):
    import subprocess
    import sys

    database = Database(sqlite_url)
    with database.session() as session:
        importer.commit_crm_import(session, plan(session))
        triggers = trigger_definitions(session)
    before = revision_seen_elsewhere(database)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_INSIDE_THE_BLOCK)
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, str(script), sqlite_url], cwd=root, env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 3
    assert revision_seen_elsewhere(database) == before  # nothing of the killed block committed
    with database.session() as session:
        assert trigger_definitions(session) == triggers
        assert set(session.scalars(text("SELECT kind FROM companies"))) == {"customer", "prospect"}
        rising = crm_revision(session)
        session.execute(text("UPDATE companies SET kind = 'prospect'"))
        assert crm_revision(session) > rising  # the triggers work again
    database.dispose()


def test_a_bulk_write_that_sqlite_rolls_back_by_itself_raises_its_own_error(sqlite_url):
    """A full disk makes SQLite roll the whole transaction back, the dropped triggers with it: the
    error that says so reaches the caller (not one from making the triggers again), and the
    triggers, the mark and the revision are as committed."""
    from ctct.db.bulk import crm_revision_bumped_once

    database = Database(sqlite_url)
    with database.session() as session:
        triggers = trigger_definitions(session)
        revision = crm_revision(session)
    insert = (
        "INSERT INTO companies (name, name_key, kind, created_by_import, created_at, updated_at) "
        "VALUES (?, ?, 'customer', 1, '2026-01-01', '2026-01-01')"
    )
    with pytest.raises(Exception, match="full") as raised, database.session() as session:
        connection = session.connection()
        with crm_revision_bumped_once(connection):
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
            connection.exec_driver_sql(f"PRAGMA max_page_count = {pages + 2}")
            for number in range(5000):
                connection.exec_driver_sql(insert, (f"Company {number} " * 20, f"company {number} " * 20))
    assert "already exists" not in str(raised.value)
    database.dispose()
    reopened = Database(sqlite_url, run_migrations=False)
    with reopened.session() as session:
        assert trigger_definitions(session) == triggers
        assert crm_revision(session) == revision
        assert session.scalar(select(func.count()).select_from(CrmRevisionBulkWrite)) == 0
        assert session.scalar(text("SELECT count(*) FROM companies WHERE created_at = '2026-01-01'")) == 0
    reopened.dispose()
