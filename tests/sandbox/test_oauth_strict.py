"""The authorization server as strict as CTCT's: exactly the scopes asked for, known scopes only,
and confidential clients that must authenticate with their secret."""

import httpx
import pytest

from ctct import cli
from ctct.sandbox import create_app
from ctct.sandbox.inprocess import SandboxTransport
from tests.sandbox.conftest import (
    AUTHORIZE,
    CLIENT_ID,
    REDIRECT_URI,
    REVOKE,
    TOKEN,
    authorize_params,
    code_from,
    exchange_code,
    log_in,
    pkce_pair,
    query_of,
    tokens_for,
)

SECRET = "s3cret-of-the-console"
EVERY_KNOWN_SCOPE = "account_read account_update contact_data campaign_data offline_access openid profile"


def granted_scope(app, access_token: str) -> str:
    grant = app.state.sandbox.tokens.grant_for(access_token, app.state.sandbox.now())
    return grant.scope


# Scopes


@pytest.mark.parametrize(
    "scope",
    [
        "account_read contact_data offline_access",  # what the console asks for (SPEC §5)
        "account_read offline_access",  # no contact_data: once refused
        "openid profile",
        EVERY_KNOWN_SCOPE,
    ],
)
def test_the_grant_carries_exactly_the_scopes_asked_for(http, app, scope):
    tokens = tokens_for(http, scope=scope)
    assert tokens["scope"] == scope
    assert granted_scope(app, tokens["access_token"]) == scope
    assert ("refresh_token" in tokens) == ("offline_access" in scope.split())


def test_a_scope_asked_for_twice_is_granted_once(http, app):
    tokens = tokens_for(http, scope="contact_data account_read contact_data")
    assert tokens["scope"] == "contact_data account_read"
    assert granted_scope(app, tokens["access_token"]) == "contact_data account_read"


def test_a_refresh_keeps_exactly_the_granted_scopes(http, app):
    tokens = tokens_for(http, scope="account_read contact_data offline_access")
    refreshed = http.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}
    ).json()
    assert refreshed["scope"] == "account_read contact_data offline_access"
    assert granted_scope(app, refreshed["access_token"]) == "account_read contact_data offline_access"


def test_unknown_scopes_are_refused_with_invalid_scope(http):
    _, challenge = pkce_pair()
    page = http.get(AUTHORIZE, params=authorize_params(challenge, scope="contact_data contacts_write"))
    assert page.status_code == 302
    refusal = query_of(page)
    assert refusal["error"] == "invalid_scope" and refusal["state"] == "state-123"
    assert "contacts_write" in refusal["error_description"] and "contact_data" not in refusal["error_description"]
    # The login form re-checks what it was posted: no code for an unknown scope.
    submitted = log_in(http, scope="contact_data Contact_Data")
    assert submitted.status_code == 302 and query_of(submitted)["error"] == "invalid_scope"
    assert "code" not in query_of(submitted)


def test_a_request_without_scopes_is_refused(http):
    _, challenge = pkce_pair()
    page = http.get(AUTHORIZE, params=authorize_params(challenge, scope=""))
    assert query_of(page)["error"] == "invalid_scope"


# Confidential clients


@pytest.fixture
def confidential(sandbox_config):
    """A sandbox where CLIENT_ID is confidential (secret SECRET); every other client stays public."""
    sandbox_config.client_secrets = {CLIENT_ID: SECRET}
    app = create_app(sandbox_config)
    transport = SandboxTransport(app)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    transport.close()


def exchange(client: httpx.Client, auth=None, **form: str) -> httpx.Response:
    login = log_in(client)
    data = {
        "grant_type": "authorization_code",
        "code": code_from(login),
        "redirect_uri": REDIRECT_URI,
        "code_verifier": login.verifier,  # type: ignore[attr-defined]
    } | form
    return client.post(TOKEN, data=data, auth=auth)


def assert_invalid_client(response: httpx.Response, wording: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == "invalid_client"
    assert wording in body["error_description"]
    assert response.headers["www-authenticate"].startswith("Basic")


def test_a_confidential_client_gets_tokens_with_its_secret_as_basic_auth(confidential):
    response = exchange(confidential, auth=(CLIENT_ID, SECRET))
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] and response.json()["refresh_token"]


def test_a_wrong_basic_secret_is_invalid_client_and_spends_no_code(confidential):
    login = log_in(confidential)
    code, verifier = code_from(login), login.verifier  # type: ignore[attr-defined]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    assert_invalid_client(confidential.post(TOKEN, data=data, auth=(CLIENT_ID, "not-the-secret")), "secret")
    assert confidential.post(TOKEN, data=data, auth=(CLIENT_ID, SECRET)).status_code == 200


def test_a_confidential_client_without_a_secret_is_invalid_client(confidential):
    # Form client_id and a correct PKCE verifier are what a public client sends: not enough here.
    assert_invalid_client(exchange(confidential, client_id=CLIENT_ID), "confidential")


def test_the_secret_may_come_in_the_form_as_okta_accepts(confidential):
    assert exchange(confidential, client_id=CLIENT_ID, client_secret=SECRET).status_code == 200
    assert_invalid_client(exchange(confidential, client_id=CLIENT_ID, client_secret="wrong"), "secret")
    assert_invalid_client(exchange(confidential, client_id=CLIENT_ID, client_secret=""), "secret")


def test_one_client_authentication_method_per_request(confidential):
    both = exchange(confidential, auth=(CLIENT_ID, SECRET), client_secret=SECRET)
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    other_id = exchange(confidential, auth=(CLIENT_ID, SECRET), client_id="someone-else")
    assert_invalid_client(other_id, "does not match")
    malformed = confidential.post(
        TOKEN, data={"grant_type": "refresh_token"}, headers={"Authorization": "Basic bm8tY29sb24="}
    )
    assert_invalid_client(malformed, "malformed")


def test_a_refresh_needs_the_secret_and_a_refused_one_spends_nothing(confidential):
    tokens = exchange(confidential, auth=(CLIENT_ID, SECRET)).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert_invalid_client(confidential.post(TOKEN, data=refresh, auth=(CLIENT_ID, "wrong")), "secret")
    assert_invalid_client(confidential.post(TOKEN, data={**refresh, "client_id": CLIENT_ID}), "confidential")
    assert confidential.post(TOKEN, data=refresh, auth=(CLIENT_ID, SECRET)).status_code == 200


def test_revoking_a_confidential_clients_token_needs_its_secret(confidential):
    tokens = exchange(confidential, auth=(CLIENT_ID, SECRET)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    anonymous = confidential.post(REVOKE, data={"token": tokens["refresh_token"]})
    assert_invalid_client(anonymous, "must authenticate")
    named = confidential.post(REVOKE, data={"token": tokens["refresh_token"], "client_id": CLIENT_ID})
    assert_invalid_client(named, "confidential")
    wrong = confidential.post(REVOKE, data={"token": tokens["refresh_token"]}, auth=(CLIENT_ID, "wrong"))
    assert_invalid_client(wrong, "secret")
    assert confidential.get("/v3/account/summary", headers=headers).status_code == 200  # nothing was revoked
    revoked = confidential.post(REVOKE, data={"token": tokens["refresh_token"]}, auth=(CLIENT_ID, SECRET))
    assert revoked.status_code == 200
    assert confidential.get("/v3/account/summary", headers=headers).status_code == 401


def test_other_clients_stay_public_beside_a_confidential_one(confidential):
    login = log_in(confidential, client_id="public-app")
    tokens = exchange_code(confidential, code_from(login), login.verifier, client_id="public-app")  # type: ignore[attr-defined]
    assert tokens.status_code == 200
    refreshed = confidential.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]},
        auth=("public-app", "any-secret"),  # a public client's secret is not looked at, as before
    )
    assert refreshed.status_code == 200
    assert confidential.post(REVOKE, data={"token": refreshed.json()["refresh_token"]}).status_code == 200


def test_a_confidential_client_is_a_known_client_beside_an_allow_list(sandbox_config):
    sandbox_config.client_ids = frozenset({"known"})
    sandbox_config.client_secrets = {"backend": SECRET}
    transport = SandboxTransport(create_app(sandbox_config))
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        _, challenge = pkce_pair()
        assert client.get(AUTHORIZE, params=authorize_params(challenge, client_id="backend")).status_code == 200
        assert client.get(AUTHORIZE, params=authorize_params(challenge, client_id="stranger")).status_code == 400
    transport.close()


# The command line


def test_client_secret_option_makes_confidential_clients(monkeypatch):
    import uvicorn

    import ctct.sandbox

    seen = {}

    def capture(config):
        seen["config"] = config
        return "app"

    monkeypatch.setattr(ctct.sandbox, "create_app", capture)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    args = cli.build_parser().parse_args(
        ["sandbox", "--client-secret", "console:s3cret", "--client-secret", "backend:with:colons"]
    )
    assert cli.cmd_sandbox(args) == 0
    assert seen["config"].client_secrets == {"console": "s3cret", "backend": "with:colons"}


@pytest.mark.parametrize("value", ["console", "console:", ":s3cret"])
def test_client_secret_option_needs_id_and_secret(value):
    with pytest.raises(cli.UsageError, match="ID:SECRET"):
        cli.build_parser().parse_args(["sandbox", "--client-secret", value])
