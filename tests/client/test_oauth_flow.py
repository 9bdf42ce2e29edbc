"""Activation through the sandbox's login page: PKCE, state, one-time codes, token storage."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from ctct.activation import complete_activation, connection_status
from ctct.api.errors import NotActivated, OAuthFlowError
from ctct.db.models import CtctConnection, OAuthPending
from ctct.sandbox.demo_account import sign_in_to_sandbox
from tests.sandbox_client import activate


def stored_connection(database):
    with database.session() as session:
        return session.scalar(select(CtctConnection))


def test_the_full_pkce_flow(client, database, sandbox):
    url = client.authorization.start()
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert (
        query["scope"] == "account_read contact_data offline_access"
        and query["redirect_uri"] == "http://127.0.0.1:8501/"
    )
    with database.session() as session:
        pending = session.get(OAuthPending, query["state"])
        assert pending is not None and b"" not in {pending.encrypted_verifier}
    status = complete_activation(client, sign_in_to_sandbox(client.http, url, "demo", "demo"))
    assert status.active and status.account_name == "Demo Company"
    assert status.account_email == "owner@demo-company.example"
    connection = stored_connection(database)
    issued = set(sandbox.tokens.access) | set(sandbox.tokens.refresh)
    assert all(token.encode() not in connection.encrypted_access_token for token in issued)
    assert client.authorization.vault.open(connection.encrypted_access_token) in sandbox.tokens.access
    with database.session() as session:
        assert session.scalars(select(OAuthPending)).all() == []  # the state is spent


def test_a_forged_state_is_refused(client, database):
    url = client.authorization.start()
    redirected = sign_in_to_sandbox(client.http, url, "demo", "demo")
    state = parse_qs(urlsplit(redirected).query)["state"][0]
    forged = redirected.replace(state, "forged-state")
    with pytest.raises(OAuthFlowError, match="unknown state"):
        complete_activation(client, forged)
    assert stored_connection(database) is None


def test_a_replayed_redirect_is_refused(client):
    url = client.authorization.start()
    redirected = sign_in_to_sandbox(client.http, url, "demo", "demo")
    complete_activation(client, redirected)
    with pytest.raises(OAuthFlowError, match="unknown state"):
        complete_activation(client, redirected)


def test_a_replayed_code_is_refused_by_the_server(client, database):
    first = client.authorization.start()
    redirected = sign_in_to_sandbox(client.http, first, "demo", "demo")
    code = parse_qs(urlsplit(redirected).query)["code"][0]
    complete_activation(client, redirected)
    second = client.authorization.start()  # a real, pending state carrying the used code
    state = parse_qs(urlsplit(second).query)["state"][0]
    with pytest.raises(OAuthFlowError, match="invalid_grant"):
        complete_activation(client, f"http://127.0.0.1:8501/?code={code}&state={state}")


def test_denied_consent_is_explained(client):
    client.authorization.start()
    with pytest.raises(OAuthFlowError, match="denied"):
        complete_activation(client, "http://127.0.0.1:8501/?error=access_denied&state=x")


def test_wrong_password_is_explained(client):
    with pytest.raises(OAuthFlowError, match="not correct"):
        sign_in_to_sandbox(client.http, client.authorization.start(), "demo", "wrong")


def test_a_sign_in_older_than_ten_minutes_expires(client, database):
    url = client.authorization.start()
    redirected = sign_in_to_sandbox(client.http, url, "demo", "demo")
    with database.session() as session:
        session.execute(update(OAuthPending).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)))
    with pytest.raises(OAuthFlowError, match="10 minutes"):
        complete_activation(client, redirected)


def test_not_a_redirect_at_all(client):
    with pytest.raises(OAuthFlowError, match="no code and state"):
        complete_activation(client, "http://127.0.0.1:8501/somewhere")


def test_requests_need_an_activation(client):
    with pytest.raises(NotActivated):
        client.account.summary()
    assert not connection_status(client).active


def test_status_after_activation(client):
    status = activate(client)
    assert status.active and status.token_expires_at and status.requests_used_today == 1
    assert status.requests_remaining_today == 9_999
