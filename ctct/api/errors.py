"""Every error the CTCT client raises: the CTCT branch under the console's one root, ctct.errors.ConsoleError.

Connection errors apart from status errors, one subclass per status the console acts on, built
from CTCT's answers by `from_response`. The client imports nothing else of the console's errors.

Messages say what happened and what to do; they never carry tokens or request bodies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from ctct.errors import ConsoleError


class CtctError(ConsoleError):
    """Base of every CTCT client error; a ConsoleError, as all the console raises on purpose."""


class CtctConnectionError(CtctError):
    """CTCT could not be reached, or the connection broke (after the retries)."""


class ReauthorizationRequired(CtctError):
    """CTCT no longer accepts the stored authorization: the account must be activated again."""

    def __init__(self, detail: str = "") -> None:
        message = (
            "Constant Contact no longer accepts this console's authorization"
            + (f" ({detail})" if detail else "")
            + ". Activate again (Settings → Constant Contact, or `python -m ctct activate`); "
            "nothing stored was lost."
        )
        super().__init__(message)


class NotActivated(CtctError):
    """No Constant Contact account is connected."""

    def __init__(self) -> None:
        super().__init__("No Constant Contact account is connected: run `python -m ctct activate` first.")


class OAuthFlowError(CtctError):
    """The authorization did not complete: denied consent, a bad state, an expired code."""


class BudgetExceeded(CtctError):
    """Work refused before it starts: it needs more requests than are left today."""

    def __init__(self, needed: int, remaining: int, resets_at: dt.datetime) -> None:
        self.needed, self.remaining, self.resets_at = needed, remaining, resets_at
        super().__init__(
            f"This needs about {needed:,} Constant Contact requests but only {remaining:,} are left today; "
            f"the daily budget resets at {resets_at:%Y-%m-%d %H:%M} UTC."
        )


class ApiStatusError(CtctError):
    """CTCT answered with an error status."""

    status_code = 0

    def __init__(self, message: str, *, status_code: int, error_key: str | None, method: str, path: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_key = error_key
        self.method = method
        self.path = path


class BadRequest(ApiStatusError):
    status_code = 400


class Unauthorized(ApiStatusError):
    status_code = 401


class Forbidden(ApiStatusError):
    status_code = 403


class NotFound(ApiStatusError):
    status_code = 404


class Conflict(ApiStatusError):
    status_code = 409


class UnsupportedMediaType(ApiStatusError):
    status_code = 415


class Throttled(ApiStatusError):
    """429 `throttled`: more than the per-second limit (retried with backoff)."""

    status_code = 429


class QuotaExceeded(ApiStatusError):
    """429 `quota_exceeded`: the 10,000-a-day budget is spent; nothing more until the reset."""

    status_code = 429

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resets_at = next_utc_midnight()


class NotEmulated(ApiStatusError):
    """501: the sandbox does not emulate this path or parameter (real CTCT never answers it)."""

    status_code = 501


class ServerError(ApiStatusError):
    """5xx from CTCT (retried with backoff)."""


_BY_STATUS: dict[int, type[ApiStatusError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    415: UnsupportedMediaType,
}

_ADVICE = {
    401: "the authorization was refused",
    403: "the account or app lacks permission (scope contact_data) or the app was deactivated",
    404: "it does not exist (any more) in Constant Contact",
    409: "it conflicts with what Constant Contact already holds",
    415: "the request was not JSON",
}


def next_utc_midnight(now: dt.datetime | None = None) -> dt.datetime:
    current = now or dt.datetime.now(dt.UTC)
    return current.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)


def error_details(response: httpx.Response) -> tuple[str | None, str]:
    """CTCT's (error_key, error_message): an array of them for most errors, one object for auth and limits."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200].strip()
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        key = first.get("error_key") or first.get("error")
        message = first.get("error_message") or first.get("error_description") or ""
        messages = [str(item.get("error_message", "")) for item in body[1:3]] if isinstance(body, list) else []
        return (str(key) if key else None), "; ".join(part for part in [str(message), *messages] if part)
    return None, str(body)[:200]


def from_response(response: httpx.Response) -> ApiStatusError:
    key, detail = error_details(response)
    status = response.status_code
    method, path = response.request.method, response.request.url.path
    where = f"{method} {path}"
    if status == 429 and key == "quota_exceeded":
        error: ApiStatusError = QuotaExceeded(
            f"Constant Contact's daily request quota is used up ({where}); it resets at 00:00 UTC.",
            status_code=status,
            error_key=key,
            method=method,
            path=path,
        )
        return error
    if status == 429:
        cls: type[ApiStatusError] = Throttled
    elif status == 501:
        cls = NotEmulated
    elif status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, ApiStatusError)
    advice = _ADVICE.get(status, "")
    text = f"Constant Contact answered {status} to {where}: {detail or advice}"
    if advice and detail:
        text += f" ({advice})"
    return cls(text, status_code=status, error_key=key, method=method, path=path)


def may_have_been_applied(error: Exception) -> bool:
    """After this error a POST may or may not have been applied: a 5xx, a read timeout, a drop."""
    if isinstance(error, NotEmulated):
        return False
    return isinstance(error, CtctConnectionError) or (isinstance(error, ApiStatusError) and error.status_code >= 500)
