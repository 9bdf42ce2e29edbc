"""The real client against the sandbox in process, both on one test clock: the client's waits
(rate limiter, backoff, activity polling) move the clock instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from cryptography.fernet import Fernet

from ctct import cli
from ctct.activation import complete_activation
from ctct.api.client import CtctClient
from ctct.api.limits import RateLimiter
from ctct.config import Settings
from ctct.db.stores import open_client
from ctct.sandbox import SandboxConfig, create_app
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.inprocess import SandboxTransport
from tests.sandbox.conftest import FakeClock

BASE = "http://sandbox"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox_config(clock: FakeClock) -> SandboxConfig:
    return SandboxConfig(clock=clock, activity_seconds=2.0)


@pytest.fixture
def sandbox_app(sandbox_config: SandboxConfig):
    return create_app(sandbox_config)


@pytest.fixture
def sandbox(sandbox_app):
    return sandbox_app.state.sandbox


def sandbox_settings(database_url: str, key_dir) -> Settings:
    """The console's settings for the in-process sandbox, with a fresh key of its own."""
    return Settings(
        database_url=database_url,
        api_base=f"{BASE}/v3",
        auth_base=f"{BASE}/oauth2/default/v1",
        client_id="console-tests",
        redirect_uri="http://127.0.0.1:8501/",
        secret_key=Fernet.generate_key().decode(),
        secret_key_file=key_dir / "unused.key",
    )


@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:
    return sandbox_settings(database_url, tmp_path)


@contextmanager
def sandbox_http(app) -> Iterator[httpx.Client]:
    """An HTTP client whose requests the in-process sandbox `app` answers."""
    transport = SandboxTransport(app)
    with httpx.Client(transport=transport, base_url=BASE) as client:
        yield client
    transport.close()


@pytest.fixture
def http(sandbox_app) -> Iterator[httpx.Client]:
    with sandbox_http(sandbox_app) as client:
        yield client


@pytest.fixture
def client(settings: Settings, database, http: httpx.Client, clock: FakeClock) -> CtctClient:
    limiter = RateLimiter(settings.rate_limit, clock=clock, sleep=clock.advance)
    return open_client(settings, database, http=http, sleep=clock.advance, limiter=limiter)


def activate(client: CtctClient, username: str = "demo", password: str = "demo"):
    url = client.authorization.start()
    return complete_activation(client, sign_in_to_sandbox(client.http, url, username, password))


@pytest.fixture
def active_client(client: CtctClient) -> CtctClient:
    activate(client)
    return client


@pytest.fixture
def cli_run(settings, http, clock, monkeypatch, capsys):
    """Runs the CLI with its CTCT client wired to the in-process sandbox."""

    build = open_client

    def wired(_settings, database):
        limiter = RateLimiter(4, clock=clock, sleep=clock.advance)
        return build(settings, database, http=http, sleep=clock.advance, limiter=limiter)

    monkeypatch.setattr(cli, "open_client", wired)
    monkeypatch.setattr(cli.Settings, "load", classmethod(lambda cls: settings))

    def run(*args):
        code = cli.main(["--db", settings.database_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
