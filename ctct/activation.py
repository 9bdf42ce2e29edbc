"""Activation and deactivation of the Constant Contact integration (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import delete, func, select, update

from ctct import display
from ctct.api.client import CtctClient
from ctct.api.errors import Forbidden, OAuthFlowError
from ctct.api.oauth import as_utc
from ctct.api.vault import SecretKeyError
from ctct.config import SCOPES
from ctct.crm.demo import clear_crm, load_demo_data
from ctct.db import Database
from ctct.db.models import (
    ApiUsage,
    BaselineContact,
    BaselineList,
    BaselineMember,
    Contact,
    CtctConnection,
    EmailList,
    ListMembership,
    OAuthPending,
    RowChange,
    SyncLock,
    SyncRun,
    SyncStep,
)


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
    with client.authorization.database.session() as session:
        connection = session.scalar(select(CtctConnection).order_by(CtctConnection.id))
        active = connection is not None and connection.encrypted_access_token is not None
        expires = as_utc(connection.access_token_expires_at) if connection else None
        key_error = None
        if active:
            try:
                client.authorization.vault.open(connection.encrypted_access_token)
            except SecretKeyError as error:
                key_error, active = str(error), False
        status = ConnectionStatus(
            active=active,
            account_name=connection.account_name if connection else None,
            account_email=connection.account_email if connection else None,
            token_expires_at=expires.isoformat() if active and expires else None,
            reauthorization_required=bool(connection and connection.reauthorization_required),
            requests_used_today=0,
            requests_remaining_today=0,
            daily_quota=client.budget.quota,
            key_error=key_error,
        )
    status.requests_used_today = client.budget.used()
    status.requests_remaining_today = max(client.budget.quota - status.requests_used_today, 0)
    return status


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
    with client.authorization.database.session() as session:
        session.execute(
            update(CtctConnection).values(
                account_name=summary.get("organization_name") or summary.get("contact_email"),
                account_email=summary.get("contact_email"),
            )
        )
    return connection_status(client)


class _LoginForm(HTMLParser):
    """The sandbox login page's form: its action and hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.error: str | None = None
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values.get("name", "")] = values.get("value", "")
        elif values.get("role") == "alert":
            self._in_error = True

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip():
            self.error, self._in_error = data.strip(), False


def sign_in_to_sandbox(http: httpx.Client, authorize_url: str, username: str, password: str) -> str:
    """Fills in the sandbox's login form as a person would; returns the address it redirects to."""
    page = http.get(authorize_url)
    form = _LoginForm()
    form.feed(page.text)
    if page.status_code != 200 or form.action is None:
        raise OAuthFlowError(f"The sandbox did not show its login form (HTTP {page.status_code}).")
    answer = http.post(
        urljoin(str(page.url), form.action),
        data={**form.fields, "username": username, "password": password, "decision": "allow"},
    )
    if answer.status_code in {301, 302, 303, 307} and "location" in answer.headers:
        return answer.headers["location"]
    refused = _LoginForm()
    refused.feed(answer.text)
    raise OAuthFlowError(f"The sandbox refused the sign-in: {refused.error or f'HTTP {answer.status_code}'}")


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


def deactivate(client: CtctClient) -> DeactivationSummary:
    """Revokes the token, deletes every local list, membership, CTCT link and the baseline.
    Companies and contacts — also those an import created — stay."""
    client.authorization.revoke_and_forget()
    with client.authorization.database.session() as session:
        memberships = session.scalar(select(func.count()).select_from(ListMembership)) or 0
        lists = session.scalar(select(func.count()).select_from(EmailList)) or 0
        unlinked = session.execute(
            update(Contact).where(Contact.ctct_contact_id.is_not(None)).values(ctct_contact_id=None)
        ).rowcount
        for model in (ListMembership, EmailList, BaselineMember, BaselineList, BaselineContact):
            session.execute(delete(model))
    return DeactivationSummary(lists, memberships, int(unlinked or 0))


def list_count(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(EmailList)) or 0


def describe_expiry(status: ConnectionStatus) -> str:
    if not status.token_expires_at:
        return "no token"
    expires = dt.datetime.fromisoformat(status.token_expires_at)
    return f"token valid until {expires:%Y-%m-%d %H:%M} UTC (refreshed automatically)"


def reset_demo(client: CtctClient) -> None:
    """Demo mode's "Reset demo": the sandbox account and the demo CRM as on first start."""
    parts = urlsplit(client.api_base)
    client.http.post(f"{parts.scheme}://{parts.netloc}/_sandbox/reset", json={"what": "all"})
    with client.authorization.database.session() as session:
        for model in (
            RowChange,
            SyncStep,
            SyncRun,
            SyncLock,
            OAuthPending,
            ApiUsage,
            CtctConnection,
            BaselineMember,
            BaselineList,
            BaselineContact,
        ):
            session.execute(delete(model))
        clear_crm(session)
        load_demo_data(session)
