"""Activation and deactivation of the Constant Contact integration (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from ctct import display
from ctct.api.client import CtctClient
from ctct.api.errors import Forbidden, OAuthFlowError
from ctct.api.vault import SecretKeyError
from ctct.config import SCOPES
from ctct.db import Database
from ctct.db.models import BaselineContact, BaselineList, BaselineMember, Contact, EmailList, ListMembership
from ctct.sync import mirror


@dataclass
class ConnectionStatus:
    active: bool
    account_name: str | None
    account_email: str | None
    token_expires_at: str | None
    reauthorization_required: bool
    requests_used_today: int
    requests_remaining_today: int
    daily_quota: int
    # Set when tokens are stored but the key that sealed them is missing or wrong: activate again.
    key_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.key_error:
            return f"Inactive: {self.key_error}"
        if self.active:
            return f"Connected to Constant Contact: {self.account_name} ({self.account_email}); {describe_expiry(self)}"
        if self.reauthorization_required:
            return f"Inactive: {self.account_name} needs to be activated again"
        return "Not connected to Constant Contact"

    def __repr__(self) -> str:
        return f"<{self.describe()}; {self.requests_used_today:,} of {self.daily_quota:,} requests used today>"

    def _repr_html_(self) -> str:
        return display.card(
            display.heading(self.describe()),
            display.paragraph(
                f"Requests today: {self.requests_used_today:,} used, {self.requests_remaining_today:,} "
                f"of {self.daily_quota:,} left."
            ),
        )


def connection_status(client: CtctClient) -> ConnectionStatus:
    connection = client.authorization.tokens.connection()
    sealed_access = connection.access_token if connection is not None else None
    key_error = None
    if sealed_access is not None:
        try:
            client.authorization.vault.open(sealed_access)
        except SecretKeyError as error:
            key_error = str(error)
    active = sealed_access is not None and key_error is None
    expires = connection.expires_at if connection is not None and active else None
    used = client.budget.used()
    return ConnectionStatus(
        active=active,
        account_name=connection.account_name if connection else None,
        account_email=connection.account_email if connection else None,
        token_expires_at=expires.isoformat() if expires else None,
        reauthorization_required=bool(connection and connection.reauthorization_required),
        requests_used_today=used,
        requests_remaining_today=max(client.budget.quota - used, 0),
        daily_quota=client.budget.quota,
        key_error=key_error,
    )


def complete_activation(client: CtctClient, redirected_url: str) -> ConnectionStatus:
    """Finishes the sign-in, then records which account was connected (GET /account/summary)."""
    tokens = client.authorization.complete(redirected_url)
    try:
        summary = client.account.summary()
    except Forbidden:
        # The grant lacks account_read (a permission left out on CTCT's consent page, or an app
        # registered without it): nothing is kept, rather than an activation with no account.
        client.authorization.revoke_and_forget()
        missing = sorted(set(SCOPES.split()) - set(tokens.scope.split())) or ["account_read"]
        raise OAuthFlowError(
            "Constant Contact did not grant access to the account's details "
            f"(the {', '.join(missing)} permission): nothing was connected. Activate again and allow "
            "every permission the console asks for."
        ) from None
    client.authorization.tokens.record_account(
        summary.get("organization_name") or summary.get("contact_email"), summary.get("contact_email")
    )
    return connection_status(client)


@dataclass
class DeactivationSummary:
    lists_deleted: int
    memberships_deleted: int
    contacts_unlinked: int

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    def __repr__(self) -> str:
        return (
            f"<Deactivated: token revoked; {self.lists_deleted:,} lists and {self.memberships_deleted:,} "
            f"memberships deleted, {self.contacts_unlinked:,} contacts unlinked; companies and contacts kept>"
        )

    def _repr_html_(self) -> str:
        return display.card(
            display.heading("Deactivated: the token is revoked; companies and contacts are kept"),
            display.counts_table(
                [
                    ("email lists deleted", self.lists_deleted),
                    ("memberships deleted", self.memberships_deleted),
                    ("contacts unlinked from Constant Contact", self.contacts_unlinked),
                ],
                ("", "count"),
            ),
        )


def deactivate(client: CtctClient, database: Database) -> DeactivationSummary:
    """Revokes the token, deletes every local list, membership, CTCT link and the baseline.
    Companies and contacts — also those an import created — stay."""
    client.authorization.revoke_and_forget()
    with database.session() as session:
        memberships = session.scalar(select(func.count()).select_from(ListMembership)) or 0
        lists = session.scalar(select(func.count()).select_from(EmailList)) or 0
        unlinked = (
            session.connection()
            .execute(update(Contact).where(Contact.ctct_contact_id.is_not(None)).values(ctct_contact_id=None))
            .rowcount
        )
        for model in (ListMembership, EmailList, BaselineMember, BaselineList, BaselineContact):
            session.execute(delete(model))
        # What CTCT showed is of an account no longer connected.
        mirror.drop(session.connection())
    return DeactivationSummary(lists, memberships, int(unlinked or 0))


def list_count(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(EmailList)) or 0


def describe_expiry(status: ConnectionStatus) -> str:
    if not status.token_expires_at:
        return "no token"
    expires = dt.datetime.fromisoformat(status.token_expires_at)
    return f"token valid until {expires:%Y-%m-%d %H:%M} UTC (refreshed automatically)"
