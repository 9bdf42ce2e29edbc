from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ctct.db import Database, schema_is_current
from ctct.db.models import Base


def test_migrations_create_exactly_the_models(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert schema_is_current(database.engine)


def test_opening_a_migrated_database_again_is_a_no_op(database_url):
    first = Database(database_url)
    tables = set(inspect(first.engine).get_table_names())
    first.dispose()
    second = Database(database_url)
    assert set(inspect(second.engine).get_table_names()) == tables
    assert {"companies", "contacts", "email_lists", "list_memberships", "sync_runs"} <= tables
    second.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(sqlite_url):
    database = Database(sqlite_url)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()


def test_fresh_sqlite_file_is_created_and_migrated(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'sub' / 'new.db'}")
    assert (tmp_path / "sub" / "new.db").exists()
    assert schema_is_current(database.engine)
    database.dispose()
