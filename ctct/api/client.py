"""The CTCT v3 client: one `request` path that every call takes — rate limit, daily budget,
bearer token (refreshed once on a 401), retries with backoff — and a namespace per API noun.

Which requests are retried (docs/decisions/0005-which-requests-are-retried.md): GET, PUT and
DELETE always may be; a POST only when a repeat cannot duplicate anything — a 429 `throttled`
(CTCT refused it unprocessed), a connection that never opened, or a POST whose effect is
idempotent (bulk activities: importing, adding or removing the same members twice ends the same;
sign-up form: create-or-update). Creating a list or a contact is never blindly repeated.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from ctct.api.activities import Activities
from ctct.api.errors import CtctConnectionError, QuotaExceeded, ServerError, Throttled, from_response
from ctct.api.limits import DailyBudget, RateLimiter
from ctct.api.oauth import Authorization, OAuthClient
from ctct.api.resources import Account, Contacts, Lists
from ctct.api.vault import TokenVault
from ctct.config import Settings
from ctct.db import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
# Failures after which the request surely never reached CTCT, so even a POST may be repeated.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class CtctClient:
    def __init__(
        self,
        *,
        api_base: str,
        authorization: Authorization,
        http: httpx.Client,
        limiter: RateLimiter,
        budget: DailyBudget,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        parts = urlsplit(self.api_base)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.authorization = authorization
        self.http = http
        self.limiter = limiter
        self.budget = budget
        self.sleep = sleep
        self.max_attempts = max_attempts

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        database: Database,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> CtctClient:
        http = http or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        authorization = Authorization(
            database, TokenVault.from_settings(settings), OAuthClient(settings, http), wait=sleep
        )
        return cls(
            api_base=settings.api_base,
            authorization=authorization,
            http=http,
            limiter=limiter or RateLimiter(settings.rate_limit, sleep=sleep),
            budget=DailyBudget(database, settings.daily_quota),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"CtctClient(api_base={self.api_base!r})"

    # Namespaces, one per API noun

    @property
    def account(self) -> Account:
        return Account(self)

    @property
    def lists(self) -> Lists:
        return Lists(self)

    @property
    def contacts(self) -> Contacts:
        return Contacts(self)

    @property
    def activities(self) -> Activities:
        return Activities(self)

    # The one request path

    def _url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        if path.startswith("/v3/"):  # CTCT's `next` links are host-relative
            return self._origin + path
        return self.api_base + path

    def _backoff(self, attempt: int) -> None:
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
        self.sleep(random.uniform(delay / 2, delay))  # jitter keeps parallel clients apart

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        repeatable_post: bool = False,
    ) -> httpx.Response:
        repeatable = method != "POST" or repeatable_post
        url = self._url(path)
        refreshed = False
        attempt = 0
        while True:
            token = self.authorization.access_token()
            self.limiter.acquire()
            self.budget.record(1)
            try:
                response = self.http.request(
                    method, url, params=params, json=json, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as error:
                attempt += 1
                if attempt >= self.max_attempts or not (repeatable or isinstance(error, NEVER_SENT)):
                    raise CtctConnectionError(
                        f"Constant Contact could not be reached for {method} {urlsplit(url).path} "
                        f"after {attempt} attempt(s): {type(error).__name__}"
                    ) from None
                log.info("CTCT %s %s: %s, retrying", method, urlsplit(url).path, type(error).__name__)
                self._backoff(attempt)
                continue
            if response.is_success:
                return response
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.authorization.refresh(token)
                continue
            error = from_response(response)
            if isinstance(error, QuotaExceeded):
                raise error
            attempt += 1
            retry = isinstance(error, Throttled) or (isinstance(error, ServerError) and repeatable)
            if not retry or attempt >= self.max_attempts:
                raise error
            log.info("CTCT %s %s: %s, retrying", method, response.request.url.path, response.status_code)
            self._backoff(attempt)

    def get(self, path: str, **params: Any) -> Any:
        clean = {key: value for key, value in params.items() if value is not None}
        return self.request("GET", path, params=clean or None).json()

    def paginate(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a listing, following `_links.next.href` to the last page."""
        page = self.get(path, **params)
        while True:
            yield from page.get(key, [])
            next_link = page.get("_links", {}).get("next", {}).get("href")
            if not next_link:
                return
            page = self.get(next_link)
