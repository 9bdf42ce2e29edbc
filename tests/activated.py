"""A console database with Constant Contact activated, for tests of pages that exist only while it
is (SPEC §2: email lists). The activation is the real one — the sandbox's login over HTTP, the
token exchange, the account summary — without the initial import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ctct import activation
from ctct.config import Settings
from ctct.db import Database
from ctct.db.stores import open_client
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.process import running_sandbox


def sandbox_env(sandbox_url: str, console_port: int = 8501) -> dict[str, str]:
    return {
        "CTCT_API_BASE": f"{sandbox_url}/v3",
        "CTCT_AUTH_BASE": f"{sandbox_url}/oauth2/default/v1",
        "CTCT_REDIRECT_URI": f"http://127.0.0.1:{console_port}/",
    }


def activate_database(database_url: str, sandbox_url: str, secret_key_file: str) -> None:
    env = sandbox_env(sandbox_url)
    settings = replace(
        Settings.load(),
        database_url=database_url,
        api_base=env["CTCT_API_BASE"],
        auth_base=env["CTCT_AUTH_BASE"],
        redirect_uri=env["CTCT_REDIRECT_URI"],
        secret_key=None,
        secret_key_file=Path(secret_key_file),
    )
    database = Database(database_url)
    try:
        client = open_client(settings, database)
        redirected = sign_in_to_sandbox(client.http, client.authorization.start(), "demo", "demo")
        activation.complete_activation(client, redirected)
        client.http.close()
    finally:
        database.dispose()


@contextmanager
def activated(database_url: str, secret_key_file: str) -> Iterator[dict[str, str]]:
    """Activates the database against a sandbox of its own; yields the environment a console
    needs to use that connection (the sandbox keeps running until the block ends)."""
    with running_sandbox() as url:
        activate_database(database_url, url, secret_key_file)
        yield {**sandbox_env(url), "CTCT_DATABASE_URL": database_url, "CTCT_SECRET_KEY_FILE": secret_key_file}
