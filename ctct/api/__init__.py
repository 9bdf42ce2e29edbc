"""The Constant Contact v3 client: OAuth2 + PKCE, rate limits, retries, pagination, bulk activities."""

from ctct.api.client import CtctClient

__all__ = ["CtctClient"]
