"""The Constant Contact v3 client: OAuth2 + PKCE, rate limits, retries, pagination, bulk activities.

It keeps its tokens and request counts in the stores it is given (`TokenStore`, `UsageStore`);
the console's are in its database."""

from ctct.api.client import CtctClient
from ctct.api.stores import TokenStore, UsageStore

__all__ = ["CtctClient", "TokenStore", "UsageStore"]
