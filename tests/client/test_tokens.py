"""Refresh ahead of expiry and on a 401, rotation, revocation, concurrency — and secrecy."""

import datetime as dt
import logging
import os
import threading

import pytest
from sqlalchemy import update

from ctct.activation import connection_status, deactivate
from ctct.api.errors import ReauthorizationRequired
from ctct.api.vault import SecretKeyError, TokenVault
from ctct.cli import main
from ctct.crm.services import create_company, create_contact
from ctct.db.models import CtctConnection
from ctct.lists import add_members, create_list


def stored_tokens(client):
    connection = client.authorization.tokens.connection()
    vault = client.authorization.vault
    refresh = vault.open(connection.refresh_token) if connection.refresh_token else None
    access = vault.open(connection.access_token) if connection.access_token else None
    return access, refresh


def test_a_401_refreshes_once_and_rotates_the_refresh_token(active_client, sandbox):
    access, refresh = stored_tokens(active_client)
    sandbox.tokens.expire_all(sandbox.now())
    assert active_client.account.summary()["organization_name"] == "Demo Company"
    new_access, new_refresh = stored_tokens(active_client)
    assert new_access != access and new_refresh != refresh
    assert refresh not in sandbox.tokens.refresh and new_refresh in sandbox.tokens.refresh


def test_tokens_are_refreshed_ahead_of_expiry(active_client, sandbox, database):
    access, _ = stored_tokens(active_client)
    with database.session() as session:
        session.execute(
            update(CtctConnection).values(access_token_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
        )
    active_client.account.summary()
    assert stored_tokens(active_client)[0] != access
    assert sandbox.stats["GET /v3/account/summary"] == 2  # no failed request first


def test_a_revoked_refresh_token_asks_to_activate_again_and_loses_nothing(active_client, sandbox, database):
    with database.session() as session:
        company = create_company(session, "Acme")
        create_contact(session, company.id, email="ann@acme.com")
        create_list(session, "News")
        add_members(session, "News", ["ann@acme.com"])
    _, refresh = stored_tokens(active_client)
    sandbox.tokens.revoke(refresh)
    with pytest.raises(ReauthorizationRequired, match="Activate again") as caught:
        active_client.account.summary()
    assert "nothing stored was lost" in str(caught.value)
    status = connection_status(active_client)
    assert not status.active and status.reauthorization_required and status.account_name == "Demo Company"
    with pytest.raises(ReauthorizationRequired):
        active_client.account.summary()
    from ctct.lists import all_lists

    with database.session() as session:
        assert [(item.name, members) for item, members in all_lists(session)] == [("News", 1)]


def test_two_concurrent_refreshes_spend_the_refresh_token_once(active_client, sandbox):
    stale, _ = stored_tokens(active_client)
    results, errors = [], []

    def refresh():
        try:
            results.append(active_client.authorization.refresh(stale))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1 and results[0] != stale
    assert results[0] == stored_tokens(active_client)[0]
    assert len(sandbox.tokens.refresh) == 1  # one rotation: the new refresh token is the only one


def test_deactivation_revokes_and_keeps_companies_and_contacts(active_client, sandbox, database):
    with database.session() as session:
        company = create_company(session, "Acme")
        contact = create_contact(session, company.id, email="ann@acme.com")
        contact.ctct_contact_id = "c-1"
        create_list(session, "News")
        add_members(session, "News", ["ann@acme.com"])
    summary = deactivate(active_client, database)
    assert (summary.lists_deleted, summary.memberships_deleted, summary.contacts_unlinked) == (1, 1, 1)
    assert sandbox.tokens.refresh == {} and sandbox.tokens.access == {}
    assert not connection_status(active_client).active
    from ctct.crm.export import export_data

    with database.session() as session:
        data = export_data(session)
    assert [c["name"] for c in data["companies"]] == ["Acme"] and data["lists"] == []
    assert data["contacts"][0]["ctct_contact_id"] is None


def test_tokens_never_show_in_logs_reprs_errors_or_cli_output(active_client, sandbox, caplog, capsys, settings):
    caplog.set_level(logging.DEBUG)
    active_client.account.summary()
    sandbox.tokens.expire_all(sandbox.now())
    active_client.lists.create("News")  # a refresh on the way
    _, refresh = stored_tokens(active_client)
    sandbox.tokens.revoke(refresh)
    with pytest.raises(ReauthorizationRequired) as caught:
        active_client.account.summary()
    main(["--db", settings.database_url, "status", "--json"])
    texts = [
        caplog.text,
        capsys.readouterr().out,
        str(caught.value),
        repr(active_client),
        repr(active_client.authorization.vault),
        repr(settings),
    ]
    issued = set(ISSUED)
    assert len(issued) >= 4, "the test must have seen the first and the refreshed tokens"
    for text in texts:
        for token in issued:
            assert token not in text


ISSUED: list[str] = []


@pytest.fixture(autouse=True)
def remember_issued_tokens(sandbox, monkeypatch):
    """Records every token the sandbox hands out, so the secrecy test can look for them."""
    original = sandbox.tokens.issue_tokens

    def issue(*args, **kwargs):
        body = original(*args, **kwargs)
        ISSUED.extend(token for token in (body.get("access_token"), body.get("refresh_token")) if token)
        return body

    monkeypatch.setattr(sandbox.tokens, "issue_tokens", issue)
    yield
    ISSUED.clear()


def test_the_generated_key_file_is_private(tmp_path, settings):
    from dataclasses import replace

    key_file = tmp_path / "data" / "secret.key"
    vault = TokenVault.from_settings(replace(settings, secret_key=None, secret_key_file=key_file))
    assert not key_file.exists()  # made when the first secret is sealed (an activation), not before
    sealed = vault.seal("secret")
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    assert (
        TokenVault.from_settings(replace(settings, secret_key=None, secret_key_file=key_file)).open(sealed) == "secret"
    )
    with pytest.raises(SecretKeyError, match="activate again"):
        TokenVault.from_settings(settings).open(sealed)


def _second_process_client(settings, database, http, clock):
    """Another console process's client: its own database connections and its own locks."""
    from ctct.api.limits import RateLimiter
    from ctct.db.stores import open_client

    limiter = RateLimiter(settings.rate_limit, clock=clock, sleep=clock.advance)
    return open_client(settings, database, http=http, sleep=clock.advance, limiter=limiter)


def test_refreshes_in_two_processes_spend_the_refresh_token_once(
    active_client, sandbox, settings, database_url, http, clock
):
    from ctct.db import Database

    other_database = Database(database_url)  # another process's own connections
    other = _second_process_client(settings, other_database, http, clock)
    stale, _ = stored_tokens(active_client)
    results, errors = [], []

    def refresh(client):
        try:
            results.append(client.authorization.refresh(stale))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=refresh, args=(client,)) for client in (active_client, other) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1 and results[0] != stale
    assert len(sandbox.tokens.refresh) == 1
    other_database.dispose()


def test_no_database_transaction_is_held_while_constant_contact_answers_a_refresh(active_client, sandbox, database_url):
    """Other writers (a tick on Email Lists, another process) go on during the token request, and
    the new tokens are committed by themselves the moment it is answered."""
    import sqlite3

    from sqlalchemy import create_engine, make_url, text

    oauth = active_client.authorization.oauth
    answer = oauth.refresh
    writes = []

    def refresh_while_someone_writes(refresh_token):
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            other = sqlite3.connect(url.database, timeout=0.5)
            other.execute("UPDATE ctct_connections SET scopes = scopes")
            other.commit()
            other.close()
        else:
            engine = create_engine(url)
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '500ms'"))
                connection.execute(text("UPDATE ctct_connections SET scopes = scopes"))
            engine.dispose()
        writes.append("done")
        return answer(refresh_token)

    oauth.refresh = refresh_while_someone_writes
    stale, _ = stored_tokens(active_client)
    new = active_client.authorization.refresh(stale)
    assert writes == ["done"] and new != stale and stored_tokens(active_client)[0] == new
