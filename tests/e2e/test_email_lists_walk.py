"""Seeded random walks over the Email Lists page against a model of its membership (see
tests/e2e/email_lists_walk.py); bench/walk_email_lists.py runs more seeds."""

import pytest

from ctct.sandbox.process import running_console
from tests.activated import activated
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.email_lists_walk import EmailListsPage, Walk, console_env, prepare_database

SEEDS = [11, 23, 37]
STEPS = 25


@pytest.mark.parametrize("seed", SEEDS)
def test_random_walk_keeps_the_page_and_the_database_equal_to_the_model(seed, page, tmp_path):
    database_path = tmp_path / "console.db"
    database = prepare_database(database_path, seed)
    try:
        env = console_env(database_path, tmp_path / "secret.key")
        # Email lists exist only while Constant Contact is activated.
        with (
            activated(env["CTCT_DATABASE_URL"], env["CTCT_SECRET_KEY_FILE"]) as connection,
            running_console({**env, **connection}) as url,
        ):
            Walk(EmailListsPage(page, url), database, seed, STEPS, SCREENSHOTS).run()
    finally:
        database.dispose()
