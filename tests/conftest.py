"""Shared fixtures: a migrated, empty database on SQLite always and on PostgreSQL when
CTCT_TEST_DATABASE_URL is set (each test run gets its own PostgreSQL schema)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, make_url, text

from ctct.db import Database
from ctct.db.models import Base

# The in-process sandbox and a client wired to it, for the client and sync tests.
pytest_plugins = ["tests.sandbox_client"]

# Properties check results, not timings: on a loaded two-core CI machine an example's first run
# (pandas warming up) can pass Hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("console", deadline=None)
settings.load_profile("console")

POSTGRES_URL = os.environ.get("CTCT_TEST_DATABASE_URL")
POSTGRES_SKIP = "PostgreSQL tests skipped: set CTCT_TEST_DATABASE_URL (bash .ci/run does) to run them"


@pytest.fixture(autouse=True)
def private_secret_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps tests from generating data/secret.key in the working tree."""
    monkeypatch.setenv("CTCT_SECRET_KEY_FILE", str(tmp_path / "secret.key"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    Database(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    schema = f"ctct_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    Database(rendered).dispose()
    yield rendered
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "console.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_schema_url")
    engine = create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "console.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"
