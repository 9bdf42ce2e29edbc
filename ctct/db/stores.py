"""The CTCT client's token and usage stores in the console's database, and the client wired to them.

This module is the only code that writes the `ctct_connections` row: the OAuth flow, the token
refresh, activation and deactivation all go through `SqlTokenStore`. Every operation is one short
transaction, so none stays open while CTCT answers, and the refresh lease is taken by one
conditional UPDATE — atomic on SQLite and PostgreSQL — so that two processes never spend the
(rotating, single-use) refresh token twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import httpx
from sqlalchemy import ScalarSelect, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ctct.api.client import CtctClient
from ctct.api.limits import RateLimiter
from ctct.api.stores import PendingSignIn, SealedTokens, StoredConnection
from ctct.config import Settings
from ctct.db import Database
from ctct.db.models import ApiUsage, CtctConnection, OAuthPending


def open_client(
    settings: Settings,
    database: Database,
    *,
    http: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    limiter: RateLimiter | None = None,
) -> CtctClient:
    """The console's CTCT client: its tokens and its request counts kept in `database`."""
    return CtctClient.from_settings(
        settings, SqlTokenStore(database), SqlUsageStore(database), http=http, sleep=sleep, limiter=limiter
    )


def forget_connection(session: Session) -> None:
    """Deletes the connection, the sign-ins in progress and the request counts, as in a database
    that was never activated (the demo's reset)."""
    for model in (OAuthPending, ApiUsage, CtctConnection):
        session.execute(delete(model))


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


# The console holds one connection; should a database hold more, the first is the one used.
def _first_connection(session: Session) -> CtctConnection | None:
    return session.scalar(select(CtctConnection).order_by(CtctConnection.id))


def _first_connection_id() -> ScalarSelect[int | None]:
    return select(func.min(CtctConnection.id)).scalar_subquery()


def _stored(connection: CtctConnection) -> StoredConnection:
    expires_at = connection.access_token_expires_at
    return StoredConnection(
        access_token=connection.encrypted_access_token,
        refresh_token=connection.encrypted_refresh_token,
        expires_at=_as_utc(expires_at) if expires_at is not None else None,
        scope=connection.scopes,
        reauthorization_required=bool(connection.reauthorization_required),
        account_name=connection.account_name,
        account_email=connection.account_email,
    )


class SqlTokenStore:
    """The `TokenStore` in the `ctct_connections` and `oauth_pending` tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def __repr__(self) -> str:
        return "SqlTokenStore(<tokens sealed in the console's database>)"

    def add_pending(self, pending: PendingSignIn, *, discard_started_before: dt.datetime) -> None:
        with self._database.session() as session:
            session.execute(delete(OAuthPending).where(OAuthPending.created_at < discard_started_before))
            session.add(
                OAuthPending(
                    state=pending.state,
                    encrypted_verifier=pending.sealed_verifier,
                    redirect_uri=pending.redirect_uri,
                    created_at=pending.started_at,
                )
            )

    def take_pending(self, state: str) -> PendingSignIn | None:
        with self._database.session() as session:
            row = session.get(OAuthPending, state)
            if row is None:
                return None
            session.delete(row)
            return PendingSignIn(row.state, row.encrypted_verifier, row.redirect_uri, _as_utc(row.created_at))

    def connection(self) -> StoredConnection | None:
        with self._database.session() as session:
            connection = _first_connection(session)
            return _stored(connection) if connection is not None else None

    def save_activation(self, tokens: SealedTokens, activated_at: dt.datetime) -> None:
        with self._database.session() as session:
            connection = _first_connection(session) or CtctConnection()
            connection.encrypted_access_token = tokens.access_token
            connection.encrypted_refresh_token = tokens.refresh_token
            connection.access_token_expires_at = tokens.expires_at
            connection.scopes = tokens.scope
            connection.reauthorization_required = False
            connection.activated_at = activated_at
            session.add(connection)

    def record_account(self, name: str | None, email: str | None) -> None:
        with self._database.session() as session:
            session.execute(update(CtctConnection).values(account_name=name, account_email=email))

    def claim_refresh(self, access_token: bytes, holder: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        claim = (
            update(CtctConnection)
            .where(
                CtctConnection.id == _first_connection_id(),
                CtctConnection.encrypted_access_token == access_token,
                CtctConnection.refresh_started_at.is_(None) | (CtctConnection.refresh_started_at < now - lease),
            )
            .values(refresh_holder=holder, refresh_started_at=now)
        )
        with self._database.session() as session:
            # Decided by the database alone: the row may be held by another process.
            return session.connection().execute(claim).rowcount == 1

    def save_refreshed(self, holder: str, tokens: SealedTokens) -> None:
        with self._database.session() as session:
            session.execute(
                update(CtctConnection)
                .where(CtctConnection.refresh_holder == holder)
                .values(
                    encrypted_access_token=tokens.access_token,
                    encrypted_refresh_token=tokens.refresh_token or CtctConnection.encrypted_refresh_token,
                    access_token_expires_at=tokens.expires_at,
                    refresh_holder=None,
                    refresh_started_at=None,
                )
            )

    def release_refresh(self, holder: str) -> None:
        with self._database.session() as session:
            session.execute(
                update(CtctConnection)
                .where(CtctConnection.refresh_holder == holder)
                .values(refresh_holder=None, refresh_started_at=None)
            )

    def forget_tokens(self) -> None:
        with self._database.session() as session:
            session.execute(
                update(CtctConnection).values(
                    encrypted_access_token=None,
                    encrypted_refresh_token=None,
                    reauthorization_required=True,
                    refresh_holder=None,
                    refresh_started_at=None,
                )
            )

    def delete_connection(self) -> StoredConnection | None:
        with self._database.session() as session:
            connection = _first_connection(session)
            if connection is None:
                return None
            session.delete(connection)
            return _stored(connection)


class SqlUsageStore:
    """The `UsageStore` in the `api_usage` table: one row per UTC day."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def requests_on(self, day: str) -> int:
        with self._database.session() as session:
            return session.scalar(select(ApiUsage.requests).where(ApiUsage.day == day)) or 0

    def add_requests(self, day: str, requests: int) -> None:
        # An upsert: the first request of a day creates its row, in whichever process it is made.
        dialect_insert = postgresql.insert if self._database.engine.dialect.name == "postgresql" else sqlite.insert
        upsert = (
            dialect_insert(ApiUsage)
            .values(day=day, requests=requests)
            .on_conflict_do_update(index_elements=[ApiUsage.day], set_={"requests": ApiUsage.requests + requests})
        )
        with self._database.session() as session:
            session.execute(upsert)
