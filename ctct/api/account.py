"""The connected account: `GET /account/summary`, read once to name the connection."""

# No `from __future__ import annotations`: a TypedDict tells its Required keys from the evaluated annotations.
from typing import TypedDict

from ctct.api.resources import Resource


class AccountSummary(TypedDict, total=False):
    """The summary fields the console keeps; CTCT leaves out the ones the account never filled in."""

    organization_name: str
    contact_email: str


class Account(Resource):
    def summary(self) -> AccountSummary:
        return self.client.get("/account/summary")
