"""The CTCT v3 client: one `request` path that every call takes — rate limit, daily budget,
bearer token (refreshed once on a 401), retries with backoff — and a namespace per API noun.

Which requests are retried (docs/decisions/0005-which-requests-are-retried.md): GET, PUT and
DELETE always may be; a POST only when a repeat cannot duplicate anything — a 429 `throttled`
(CTCT refused it unprocessed), a connection that never opened, or a POST whose effect is
idempotent (bulk activities: importing, adding or removing the same members twice ends the same;
sign-up form: create-or-update). Creating a list is repeated only after looking its name up;
creating a contact is never blindly repeated. Retries go on while the request's time budget lasts
(2 minutes by default), not for a fixed number of attempts: CTCT's bursts of 429 and 503 pass.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from ctct.api.account import Account
from ctct.api.activities import Activities
from ctct.api.contacts import Contacts
from ctct.api.errors import (
    CtctConnectionError,
    NotEmulated,
    QuotaExceeded,
    ServerError,
    Throttled,
    from_response,
)
from ctct.api.exports import Exports
from ctct.api.limits import DailyBudget, FirstTrip, RateLimiter
from ctct.api.lists import Lists
from ctct.api.oauth import Authorization, OAuthClient
from ctct.api.stores import TokenStore, UsageStore
from ctct.api.vault import TokenVault
from ctct.config import Settings

log = logging.getLogger(__name__)

# How long one request may keep retrying, in seconds of waiting and sending.
RETRY_BUDGET = 120.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 16.0
# Failures after which the request surely never reached CTCT, so even a POST may be repeated.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class CtctClient:
    """CTCT's v3 API for one connection: its tokens kept in a `TokenStore`, its requests counted in
    a `UsageStore` — the console's database for both, or anything else that offers them."""

    def __init__(
        self,
        *,
        api_base: str,
        authorization: Authorization,
        http: httpx.Client,
        limiter: RateLimiter,
        budget: DailyBudget,
        sleep: Callable[[float], None] = time.sleep,
        retry_budget: float = RETRY_BUDGET,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        parts = urlsplit(self.api_base)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.authorization = authorization
        self.http = http
        self.limiter = limiter
        self.budget = budget
        self.sleep = sleep
        self.retry_budget = retry_budget

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        tokens: TokenStore,
        usage: UsageStore,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> CtctClient:
        http = http or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        authorization = Authorization(
            tokens, TokenVault.from_settings(settings), OAuthClient(settings, http), wait=sleep
        )
        return cls(
            api_base=settings.api_base,
            authorization=authorization,
            http=http,
            limiter=limiter or RateLimiter(settings.rate_limit, sleep=sleep),
            budget=DailyBudget(usage, settings.daily_quota),
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

    @property
    def exports(self) -> Exports:
        return Exports(self)

    # The one request path

    def _url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        if path.startswith("/v3/"):  # CTCT's `next` links are host-relative
            return self._origin + path
        return self.api_base + path

    def retry_window(self) -> RetryWindow:
        return RetryWindow(self.retry_budget, self.sleep)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        repeatable_post: bool = False,
        window: RetryWindow | None = None,
        trip: FirstTrip | None = None,
    ) -> httpx.Response:
        repeatable = method != "POST" or repeatable_post
        url = self._url(path)
        where = f"{method} {urlsplit(url).path}"
        window = window or self.retry_window()
        refreshed = False
        while True:
            token = self.authorization.access_token()
            self.budget.record(1)
            prepared = self.http.build_request(
                method, url, params=params, json=json, headers={"Authorization": f"Bearer {token}"}
            )
            # Last before the send, all else done first (even encoding the body): the limiter's
            # record of when the request left is only as true as the gap from here to the socket.
            self.limiter.acquire()
            started = time.monotonic()
            try:
                response = self._send(prepared, trip)
            except httpx.TransportError as error:
                window.spend(time.monotonic() - started)
                retry = repeatable or isinstance(error, NEVER_SENT)
                if not retry or not window.wait(None):
                    raise CtctConnectionError(
                        f"Constant Contact could not be reached for {where} after {window.attempts + 1} "
                        f"attempt(s) in {window.spent:.0f} s: {type(error).__name__}"
                    ) from None
                log.info("CTCT %s: %s, retrying", where, type(error).__name__)
                continue
            window.spend(time.monotonic() - started)
            if response.is_success:
                return response
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self.authorization.refresh(token)
                continue
            refusal = from_response(response)
            if isinstance(refusal, QuotaExceeded | NotEmulated):
                raise refusal
            if isinstance(refusal, Throttled):
                self.limiter.throttled()
            retry = isinstance(refusal, Throttled) or (isinstance(refusal, ServerError) and repeatable)
            if not retry or not window.wait(retry_after(response)):
                raise refusal
            log.info("CTCT %s: %s, retrying", where, response.status_code)

    def _send(self, prepared: httpx.Request, trip: FirstTrip | None) -> httpx.Response:
        """One attempt, sent as the limiter let it go; `trip` is told when it leaves and is back."""
        if trip is None:
            return self.http.send(prepared)
        trip.left.set()
        try:
            return self.http.send(prepared)
        finally:
            trip.back.set()

    def get(self, path: str, **params: Any) -> Any:
        clean = {key: value for key, value in params.items() if value is not None}
        return self.request("GET", path, params=clean or None).json()

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a listing, following `_links.next.href` to the last one."""
        page = self.get(path, **params)
        while True:
            yield page
            next_link = page.get("_links", {}).get("next", {}).get("href")
            if not next_link:
                return
            page = self.get(next_link)

    def paginate(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a listing, across all its pages."""
        for page in self.pages(path, **params):
            yield from page.get(key, [])


class RetryWindow:
    """The time one request (or one create-and-look-up) may spend on retries: capped exponential
    backoff with jitter, or the wait CTCT asks for in `Retry-After`, while the budget lasts."""

    def __init__(self, budget: float, sleep: Callable[[float], None]) -> None:
        self.budget = budget
        self.sleep = sleep
        self.spent = 0.0
        self.attempts = 0

    def spend(self, seconds: float) -> None:
        self.spent += max(seconds, 0.0)

    def wait(self, asked: float | None) -> bool:
        """Waits before the next attempt; False (no wait) when the budget would be overrun."""
        if asked is None:
            ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**self.attempts)
            delay = random.uniform(ceiling / 2, ceiling)  # jitter keeps parallel clients apart
        else:
            delay = asked
        if self.spent + delay > self.budget:
            return False
        self.attempts += 1
        self.sleep(delay)
        self.spent += delay
        return True


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date), when the answer carries one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)
