"""The emulated authorization server: login page, PKCE code flow, rotating refresh, revoke."""

from tests.sandbox.conftest import (
    AUTHORIZE,
    CLIENT_ID,
    REDIRECT_URI,
    TOKEN,
    authorize_params,
    code_from,
    exchange_code,
    log_in,
    pkce_pair,
    query_of,
    tokens_for,
)


def test_authorize_renders_a_login_form(http):
    _, challenge = pkce_pair()
    page = http.get(AUTHORIZE, params=authorize_params(challenge))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for needle in ('name="username"', 'name="password"', 'type="password"', "Log in", 'value="state-123"'):
        assert needle in page.text


def test_login_redirects_with_code_and_state(http):
    response = log_in(http)
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert query_of(response)["state"] == "state-123" and query_of(response)["code"]


def test_wrong_password_shows_the_form_again_with_an_error(http):
    response = log_in(http, password="nope")
    assert response.status_code == 200
    assert "not correct" in response.text and 'name="password"' in response.text and 'value="demo"' in response.text


def test_deny_returns_access_denied(http):
    _, challenge = pkce_pair()
    response = http.post(AUTHORIZE, data={**authorize_params(challenge), "decision": "deny"})
    assert response.status_code == 302
    assert query_of(response) | {"error_description": ""} == {
        "error": "access_denied",
        "state": "state-123",
        "error_description": "",
    }


def test_html_in_parameters_is_escaped(http):
    _, challenge = pkce_pair()
    page = http.get(AUTHORIZE, params=authorize_params(challenge, state='"><script>alert(1)</script>'))
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_code_exchange_checks_the_pkce_verifier(http):
    login = log_in(http)
    wrong = exchange_code(http, code_from(login), "x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert set(wrong.json()) == {"error", "error_description"}
    missing = exchange_code(http, code_from(log_in(http)), "")
    assert missing.status_code == 400 and "code_verifier" in missing.json()["error_description"]


def test_codes_are_single_use_and_a_replay_revokes_the_first_tokens(http):
    login = log_in(http)
    code = code_from(login)
    first = exchange_code(http, code, login.verifier)
    assert first.status_code == 200
    replay = exchange_code(http, code, login.verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    access = first.json()["access_token"]
    assert http.get("/v3/account/summary", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_codes_expire_after_five_minutes(http, clock):
    login = log_in(http)
    clock.advance(301)
    late = exchange_code(http, code_from(login), login.verifier)
    assert late.status_code == 400 and "expired" in late.json()["error_description"]


def test_the_code_is_bound_to_client_and_redirect_uri(http):
    login = log_in(http)
    assert exchange_code(http, code_from(login), login.verifier, client_id="someone-else").status_code == 400
    login = log_in(http)
    other = exchange_code(http, code_from(login), login.verifier, redirect_uri="http://127.0.0.1:1/elsewhere")
    assert other.status_code == 400 and "redirect_uri" in other.json()["error_description"]


def test_token_response_shape(http):
    tokens = tokens_for(http)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86_400
    assert set(tokens["scope"].split()) == {"account_read", "contact_data", "offline_access"}
    assert tokens["refresh_token"] and tokens["access_token"]


def test_no_refresh_token_without_offline_access(http):
    assert "refresh_token" not in tokens_for(http, scope="contact_data")


def test_refresh_tokens_rotate(http):
    tokens = tokens_for(http)
    refreshed = http.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"] and new["access_token"] != tokens["access_token"]
    old_again = http.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}
    )
    assert old_again.status_code == 400 and old_again.json()["error"] == "invalid_grant"
    newest = http.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"], "client_id": CLIENT_ID}
    )
    assert newest.status_code == 200


def test_client_credentials_may_come_as_basic_auth(http):
    tokens = tokens_for(http)
    refreshed = http.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CLIENT_ID, "secret-is-not-checked"),
    )
    assert refreshed.status_code == 200


def test_revoke_ends_the_grant(http):
    tokens = tokens_for(http)
    assert http.post("/oauth2/default/v1/revoke", data={"token": tokens["refresh_token"]}).status_code == 200
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get("/v3/account/summary", headers=headers).status_code == 401
    refreshed = http.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_access_tokens_expire(http, clock):
    tokens = tokens_for(http)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get("/v3/account/summary", headers=headers).status_code == 200
    clock.advance(86_400)
    expired = http.get("/v3/account/summary", headers=headers)
    assert expired.status_code == 401 and expired.json() == {
        "error_key": "unauthorized",
        "error_message": "Unauthorized",
    }


def test_unknown_grant_type_and_missing_client(http):
    assert (
        http.post(TOKEN, data={"grant_type": "password", "client_id": "x"}).json()["error"] == "unsupported_grant_type"
    )
    missing = http.post(TOKEN, data={"grant_type": "authorization_code"})
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_client"


def test_redirect_uri_must_be_loopback(http):
    _, challenge = pkce_pair()
    page = http.get(AUTHORIZE, params=authorize_params(challenge, redirect_uri="https://evil.example/cb"))
    assert page.status_code == 400 and "redirect_uri" in page.text
    assert "location" not in page.headers
    for loopback in ("http://localhost:8501/cb", "http://[::1]:8501/cb"):
        assert log_in(http, redirect_uri=loopback).status_code == 302


def test_unsupported_response_type_and_plain_challenge_are_refused(http):
    _, challenge = pkce_pair()
    response = http.get(AUTHORIZE, params=authorize_params(challenge, response_type="token"))
    assert query_of(response)["error"] == "unsupported_response_type"
    response = http.get(AUTHORIZE, params=authorize_params(challenge, code_challenge_method="plain"))
    assert query_of(response)["error"] == "invalid_request"


def test_client_allow_list_and_configured_redirects(sandbox_config, clock):
    import httpx

    from ctct.sandbox import create_app
    from ctct.sandbox.inprocess import SandboxTransport

    sandbox_config.client_ids = frozenset({"known"})
    sandbox_config.redirect_uris = frozenset({"https://console.example.com/oauth"})
    transport = SandboxTransport(create_app(sandbox_config))
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        _, challenge = pkce_pair()
        assert client.get(AUTHORIZE, params=authorize_params(challenge)).status_code == 400
        allowed = log_in(client, client_id="known", redirect_uri="https://console.example.com/oauth")
        assert allowed.status_code == 302
    transport.close()
