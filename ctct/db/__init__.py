"""Engine, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Statement journals (every statement the CRM revision triggers run in) in memory, not in
    # temporary files: a bulk insert of contacts costs half as much.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def private_file(path: Path) -> None:
    """`path` readable and writable by its owner only: created so (mode 600, no moment when others
    could read it), or tightened when it exists and is ours. It holds the CRM's personal data."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        status = path.stat()
        if os.name != "nt" and status.st_uid == os.getuid() and status.st_mode & 0o077:
            path.chmod(0o600)
    else:
        os.close(descriptor)


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url`; a SQLite file's folder is created when missing, and the file
    itself with mode 600 (SQLite gives its -wal and -shm files the database file's mode)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            database_file = Path(url.database)
            database_file.parent.mkdir(parents=True, exist_ok=True)
            for path in (database_file, Path(f"{database_file}-wal"), Path(f"{database_file}-shm")):
                if path == database_file or path.exists():
                    private_file(path)
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def schema_is_current(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; cheap when it already is."""
    if not schema_is_current(engine):
        command.upgrade(alembic_config(engine), "head")


def insert_ignoring_duplicates(connection: Connection, table: Table) -> Insert:
    """An INSERT that skips rows whose key is already there (SQLite and PostgreSQL alike)."""
    if connection.dialect.name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


class Database:
    """An engine plus its session factory: what every service takes."""

    def __init__(self, database_url: str, *, run_migrations: bool = True) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        if run_migrations:
            migrate(self.engine)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()
