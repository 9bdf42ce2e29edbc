"""The console's side of the sandbox's demo account: signing in to it as a person would, and the
demo's "Reset demo". Nothing here works against Constant Contact itself, where the account owner
logs in in a browser and there is no reset."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import delete

from ctct.api.client import CtctClient
from ctct.api.errors import OAuthFlowError
from ctct.crm.demo import clear_crm, load_demo_data
from ctct.db import Database
from ctct.db.models import BaselineContact, BaselineList, BaselineMember, RowChange, SyncLock, SyncRun, SyncStep
from ctct.db.stores import forget_connection


class _LoginForm(HTMLParser):
    """The sandbox login page's form: its action, its hidden fields, and the error it shows."""

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


def reset_demo(client: CtctClient, database: Database) -> None:
    """Demo mode's "Reset demo": the sandbox account and the demo CRM as on first start."""
    parts = urlsplit(client.api_base)
    client.http.post(f"{parts.scheme}://{parts.netloc}/_sandbox/reset", json={"what": "all"})
    with database.session() as session:
        for model in (RowChange, SyncStep, SyncRun, SyncLock, BaselineMember, BaselineList, BaselineContact):
            session.execute(delete(model))
        forget_connection(session)
        clear_crm(session)
        load_demo_data(session)
