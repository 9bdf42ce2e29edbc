"""SPEC §5: the console asks for account_read, contact_data and offline_access. A grant without
account_read fails the activation with a clear message and leaves nothing connected (real CTCT
answers GET /account/summary with 403 without it, and so does the sandbox)."""

import pytest

from ctct.activation import connection_status
from ctct.api import oauth
from ctct.api.errors import OAuthFlowError
from ctct.config import SCOPES
from tests.sandbox_client import activate


def test_the_console_asks_for_the_scopes_of_spec_section_5(client, sandbox):
    assert SCOPES.split() == ["account_read", "contact_data", "offline_access"]
    status = activate(client)
    assert status.active and status.account_name == "Demo Company"
    assert set(oauth_scopes(client)) == {"account_read", "contact_data", "offline_access"}


def test_a_grant_without_account_read_fails_activation_clearly(client, sandbox, monkeypatch):
    monkeypatch.setattr(oauth, "SCOPES", "contact_data offline_access")  # as if left out at consent
    with pytest.raises(OAuthFlowError, match=r"account_read permission\): nothing was connected"):
        activate(client)
    status = connection_status(client)
    assert not status.active and status.account_name is None
    assert sandbox.stats["GET /v3/account/summary"] == 1  # refused with 403, not retried


def oauth_scopes(client):
    return client.authorization.tokens.connection().scope.split()
