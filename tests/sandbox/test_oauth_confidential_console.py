"""The console's own OAuth client against a sandbox where it is a confidential client: it activates
and refreshes with the right CTCT_CLIENT_SECRET (sent as HTTP Basic), and a wrong or missing secret
fails the activation with CTCT's invalid_client, leaving nothing connected."""

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from ctct.activation import connection_status
from ctct.api.errors import OAuthFlowError
from ctct.api.limits import RateLimiter
from ctct.db.stores import open_client
from ctct.sandbox import SandboxConfig, create_app
from tests.sandbox.conftest import FakeClock
from tests.sandbox_client import activate, sandbox_http

SECRET = "the-console-secret"


@pytest.fixture
def confidential_sandbox(settings):
    clock = FakeClock()
    app = create_app(SandboxConfig(clock=clock, client_secrets={settings.client_id: SECRET}))
    app.clock = clock
    return app


@pytest.fixture
def confidential_http(confidential_sandbox) -> Iterator[httpx.Client]:
    with sandbox_http(confidential_sandbox) as client:
        yield client


def console(settings, database, http, clock, secret):
    configured = replace(settings, client_secret=secret)
    limiter = RateLimiter(configured.rate_limit, clock=clock, sleep=clock.advance)
    return open_client(configured, database, http=http, sleep=clock.advance, limiter=limiter)


def test_the_console_activates_and_refreshes_with_its_client_secret(
    settings, database, confidential_sandbox, confidential_http
):
    sandbox = confidential_sandbox.state.sandbox
    client = console(settings, database, confidential_http, confidential_sandbox.clock, SECRET)
    status = activate(client)
    assert status.active and status.account_name == "Demo Company"
    stale = client.authorization.access_token()
    sandbox.tokens.expire_all(sandbox.now())
    fresh = client.authorization.refresh(stale)  # the refresh authenticates with the secret too
    assert fresh != stale and sandbox.tokens.grant_for(fresh, sandbox.now()) is not None


@pytest.mark.parametrize(
    ("secret", "wording"),
    [("not-the-secret", "secret supplied for a confidential client is invalid"), (None, "confidential")],
)
def test_a_wrong_or_missing_client_secret_fails_the_activation_clearly(
    settings, database, confidential_sandbox, confidential_http, secret, wording
):
    client = console(settings, database, confidential_http, confidential_sandbox.clock, secret)
    with pytest.raises(OAuthFlowError, match=rf"refused the sign-in \(invalid_client\): .*{wording}"):
        activate(client)
    assert not connection_status(client).active
    sandbox = confidential_sandbox.state.sandbox
    assert sandbox.tokens.access == {} and sandbox.tokens.refresh == {}


def test_deactivation_revokes_the_grant_with_the_client_secret(
    settings, database, confidential_sandbox, confidential_http
):
    from ctct.activation import deactivate

    sandbox = confidential_sandbox.state.sandbox
    client = console(settings, database, confidential_http, confidential_sandbox.clock, SECRET)
    activate(client)
    token = client.authorization.access_token()
    deactivate(client, database)
    assert sandbox.tokens.grant_for(token, sandbox.now()) is None  # revoked at the sandbox, not just forgotten
