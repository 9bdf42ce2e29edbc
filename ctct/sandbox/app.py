"""The sandbox as one ASGI app: OAuth server, /v3 API and /_sandbox controls.

Run it with `python -m ctct sandbox`, or in-process through `httpx.ASGITransport(app=create_app())`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ctct.sandbox import api, oauth, validation
from ctct.sandbox.config import SandboxConfig
from ctct.sandbox.model import ACTIVITY_ADD, ACTIVITY_REMOVE, Account, SandboxError
from ctct.sandbox.seed import SeedError, seed_account
from ctct.sandbox.state import Faults, Sandbox
from ctct.sandbox.tokens import Grant

_ID_SEGMENT = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=/|$)")
_OBJECT_ERRORS = frozenset({401, 403, 429})

Handler = Callable[[Sandbox, Account, Request, Any, int], "api.Reply"]


class ConnectionDropped(httpx.RemoteProtocolError):
    """The sandbox hung up mid-response (fault injection). Over real HTTP the client sees the
    same thing: a response cut short."""


def endpoint_key(method: str, path: str) -> str:
    """`GET /v3/contacts/{id}` for `GET /v3/contacts/1b0…`: the key of /_sandbox/stats."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


def error_response(status: int, error_key: str, message: str) -> JSONResponse:
    # CTCT answers auth and rate-limit errors with one object, every other error with an array.
    body: Any = {"error_key": error_key, "error_message": message}
    return JSONResponse(body if status in _OBJECT_ERRORS else [body], status_code=status)


def _not_emulated(message: str) -> JSONResponse:
    return error_response(501, "sandbox.not_emulated", message)


class _Refused(Exception):
    """A /v3 request answered before it reaches its operation; `response` is the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refused(status: int, error_key: str, message: str) -> _Refused:
    return _Refused(error_response(status, error_key, message))


# The answer to an admitted /v3 request: its operation's, or why the sandbox does not serve it.
Answer = Callable[[Sandbox, Account, Request, bytes], Response]


def v3(route: V3Route | None) -> Callable[[Request], Awaitable[Response]]:
    """Wraps a /v3 handler in what every CTCT request goes through, in CTCT's order: faults, the
    token, its scopes, the rate limit; then what the sandbox does not emulate (501), the media type,
    the JSON, the request against the OpenAPI description (400); only then the handler.

    A route without a handler is the sandbox's answer to everything else under /v3, after the same
    token and rate-limit checks: 501 for an operation of the description it does not serve;
    `route` None is any other path: 404, or 405 for another method of a described path.
    """
    operation = validation.operations().get((route.method, route.spec_path)) if route is not None else None
    answer: Answer
    if route is not None and route.handler is not None and operation is not None:
        answer = _Served(route, operation, route.handler)
    else:
        answer = _Unserved(route, operation)

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        arrived = request.scope.get(ARRIVED)
        latency = sandbox.faults.latency_ms  # one attribute: the event loop takes no lock
        if latency:
            await asyncio.sleep(latency / 1000)
        raw = await request.body()
        # On a worker thread: the event loop, which stamps every arrival (`StampedArrivals`), never
        # waits for the sandbox's lock nor for a page of 500 contacts being built.
        return await asyncio.to_thread(serve, sandbox, request, raw, arrived)

    def serve(sandbox: Sandbox, request: Request, raw: bytes, arrived: float | None) -> Response:
        with sandbox.lock:
            if route is not None:
                # Per endpoint: a path that is none is not counted (it still counts against the quota).
                sandbox.count(endpoint_key(request.method, request.url.path))
            try:
                account = _admit(sandbox, request, operation, arrived)
                return answer(sandbox, account, request, raw)
            except _Refused as refused:
                return refused.response

    return endpoint


def _admit(
    sandbox: Sandbox, request: Request, operation: validation.Operation | None, arrived: float | None
) -> Account:
    """The account a request acts on, once past the injected faults, the token, its scopes and the
    rate limit (counted at `arrived`); its activities brought up to now."""
    _take_injected_error(sandbox.faults)
    grant = _grant(sandbox, request)
    _check_scope(grant, operation)
    _check_rate_limit(sandbox, grant.client_id, arrived)
    account = sandbox.account(grant.username)
    account.advance(sandbox.now())
    return account


def _take_injected_error(faults: Faults) -> None:
    """One of the armed 503s or 429s, if any is left."""
    if faults.server_errors > 0:
        faults.server_errors -= 1
        raise _refused(503, "server_error", "Service Unavailable (injected by the sandbox)")
    if faults.throttle_burst > 0:
        faults.throttle_burst -= 1
        raise _refused(429, "throttled", "Too Many Requests")


def _grant(sandbox: Sandbox, request: Request) -> Grant:
    authorization = request.headers.get("authorization", "")
    grant = None
    if authorization.lower().startswith("bearer "):
        grant = sandbox.tokens.grant_for(authorization[7:].strip(), sandbox.now())
    if grant is None:
        raise _refused(401, "unauthorized", "Unauthorized")
    return grant


def _check_scope(grant: Grant, operation: validation.Operation | None) -> None:
    lacking = operation.missing_scope(grant.scope.split()) if operation is not None else None
    if lacking is not None:
        raise _refused(403, "forbidden", f"The access token lacks the {lacking} scope")


def _check_rate_limit(sandbox: Sandbox, client_id: str, arrived: float | None) -> None:
    refusal = sandbox.admit(client_id, arrived)
    if refusal == "quota_exceeded":
        raise _refused(429, "quota_exceeded", "Limit Exceeded")
    if refusal == "throttled":
        raise _refused(429, "throttled", "Too Many Requests")


def _shadows_literal_path(route: V3Route | None, request: Request) -> bool:
    # `DELETE /v3/contacts/counts` is another method on the counts, not a contact id.
    return route is not None and "{" in route.path and request.url.path in _LITERAL_PATHS


@dataclass(frozen=True)
class _Served:
    """An operation the sandbox serves: what it does not emulate (501), the media type, the JSON,
    the request against the description; then the handler."""

    route: V3Route
    operation: validation.Operation
    handler: Handler

    def __call__(self, sandbox: Sandbox, account: Account, request: Request, raw: bytes) -> Response:
        if _shadows_literal_path(self.route, request):
            return _unserved(request, None)
        query = _query(request)
        self._refuse_unemulated(request, query)
        body = _json_body(request, raw)
        self._check(request, query, body)
        try:
            status, reply = self.handler(sandbox, account, request, body, len(raw))
        except SandboxError as error:
            return error_response(error.status, error.error_key, error.message)
        if request.method != "GET":
            sandbox.dirty = True
        if status == 204:
            return Response(status_code=204)
        if self.route.media_type != "application/json":
            return Response(reply, status_code=status, media_type=self.route.media_type)
        return JSONResponse(reply, status_code=status)

    def _refuse_unemulated(self, request: Request, query: dict[str, str]) -> None:
        unemulated = self.route.unemulated(query, self.operation)
        if unemulated:
            raise _Refused(
                _not_emulated(
                    f"The sandbox does not emulate the query parameter(s) {', '.join(unemulated)} of "
                    f"{request.method} /v3{self.route.spec_path}: it would answer as if they were not given"
                )
            )

    def _check(self, request: Request, query: dict[str, str], body: Any) -> None:
        operation = self.operation
        try:
            operation.check_path(request.path_params)
        except validation.Invalid as invalid:
            # The description documents no 400 on the list routes with a path parameter: a list id
            # that cannot exist is not found, as CTCT answers a malformed id.
            raise _refused(404, f"{operation.resource}.api.not_found", invalid.message) from None
        try:
            operation.check_query(query)
            operation.check_body(body)
        except validation.Invalid as invalid:
            raise _refused(400, f"{operation.resource}.api.validation.error", invalid.message) from None


def _json_body(request: Request, raw: bytes) -> Any:
    """The JSON a POST or PUT sends; None for the other methods."""
    if request.method not in {"POST", "PUT"}:
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise _refused(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise _refused(400, "malformed_json", "The request body is not valid JSON") from None


@dataclass(frozen=True)
class _Unserved:
    """Everything under /v3 the sandbox does not serve: 501 for an operation of the description,
    404 or 405 for any other path."""

    route: V3Route | None
    operation: validation.Operation | None

    def __call__(self, sandbox: Sandbox, account: Account, request: Request, raw: bytes) -> Response:
        return _unserved(request, None if _shadows_literal_path(self.route, request) else self.operation)


def _unserved(request: Request, operation: validation.Operation | None) -> Response:
    path = request.url.path
    if operation is not None:
        return _not_emulated(
            f"{request.method} {path} ({operation.method} /v3{operation.path}) is not emulated by the sandbox"
        )
    matching = [(template, method) for template, pattern, method in _V3_PATHS if pattern.fullmatch(path)]
    # As in routing, a literal path wins over a template: /v3/contacts/counts is not a contact id.
    fewest = min((template.count("{") for template, _method in matching), default=0)
    allowed = sorted({method for template, method in matching if template.count("{") == fewest})
    if allowed:
        refusal = error_response(405, "method_not_allowed", f"{request.method} is not allowed on {path}")
        refusal.headers["Allow"] = ", ".join(allowed)  # RFC 9110 §15.5.6
        return refusal
    return error_response(404, "not_found", f"No resource at {path}")


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _take_fail(sandbox: Sandbox) -> bool:
    fail, sandbox.faults.fail_next_activity = sandbox.faults.fail_next_activity, False
    return fail


def _summary(sandbox: Sandbox, account: Account, request: Request, body: Any, size: int) -> api.Reply:
    owner = sandbox.accounts_by_username[account.username]
    return api.account_summary(
        account, owner.username, owner.name, owner.contact_email, owner.first_name, owner.last_name
    )


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])


@dataclass(frozen=True)
class V3Route:
    """One operation the sandbox serves: `path` as CTCT's, under /v3."""

    path: str
    method: str
    handler: Handler | None
    # The query parameters of the description the handler implements; the others answer 501.
    query: frozenset[str] = frozenset()
    # What a successful answer is: JSON, or a file's text (a contact export's CSV).
    media_type: str = "application/json"

    @property
    def spec_path(self) -> str:
        return self.path.removeprefix("/v3")

    def unemulated(self, query: dict[str, str], operation: validation.Operation) -> list[str]:
        return sorted(
            name
            for name, value in query.items()
            if name in operation.query_parameters
            and name not in self.query
            and value.strip().lower() not in DEFAULT_VALUES.get(name, ())
        )


# A parameter the sandbox does not implement is harmless at the value that asks for what it does
# anyway: e.g. lists by `channel_type=email`, CTCT's default.
DEFAULT_VALUES = {"channel_type": frozenset({"email"}), "include_sms_membership_count": frozenset({"false"})}
LIST_FILTERS = frozenset({"limit", "include_count", "include_membership_count", "name", "status"})


ROUTES_V3: list[V3Route] = [
    V3Route("/v3/account/summary", "GET", _summary),
    V3Route("/v3/contact_lists", "GET", lambda s, a, r, b, n: api.get_lists(a, _query(r), s.now()), LIST_FILTERS),
    V3Route("/v3/contact_lists", "POST", lambda s, a, r, b, n: api.create_list(a, b, s.now())),
    V3Route(
        "/v3/contact_lists/{list_id}",
        "GET",
        lambda s, a, r, b, n: api.get_list(a, _path(r, "list_id"), _query(r)),
        frozenset({"include_membership_count"}),
    ),
    V3Route(
        "/v3/contact_lists/{list_id}",
        "PUT",
        lambda s, a, r, b, n: api.update_list(a, _path(r, "list_id"), b, s.now()),
    ),
    V3Route(
        "/v3/contact_lists/{list_id}",
        "DELETE",
        lambda s, a, r, b, n: api.delete_list(a, _path(r, "list_id"), s.now(), _take_fail(s)),
    ),
    V3Route("/v3/contacts", "GET", lambda s, a, r, b, n: api.get_contacts(a, _query(r), s.now()), api.CONTACT_FILTERS),
    V3Route("/v3/contacts", "POST", lambda s, a, r, b, n: api.create_contact(a, b, s.now())),
    V3Route("/v3/contacts/sign_up_form", "POST", lambda s, a, r, b, n: api.sign_up_form(a, b, s.now())),
    V3Route(
        "/v3/contacts/{contact_id}",
        "GET",
        lambda s, a, r, b, n: api.get_contact(a, _path(r, "contact_id"), _query(r)),
        frozenset({"include"}),
    ),
    V3Route(
        "/v3/contacts/{contact_id}",
        "PUT",
        lambda s, a, r, b, n: api.update_contact(a, _path(r, "contact_id"), b, s.now()),
    ),
    V3Route(
        "/v3/contacts/{contact_id}",
        "DELETE",
        lambda s, a, r, b, n: api.delete_contact(a, _path(r, "contact_id"), s.now()),
    ),
    V3Route(
        "/v3/activities/contacts_json_import",
        "POST",
        lambda s, a, r, b, n: api.import_contacts(a, b, n, s.now(), _take_fail(s)),
    ),
    V3Route(
        "/v3/activities/add_list_memberships",
        "POST",
        lambda s, a, r, b, n: api.membership_activity(a, ACTIVITY_ADD, b, s.now(), _take_fail(s)),
    ),
    V3Route(
        "/v3/activities/remove_list_memberships",
        "POST",
        lambda s, a, r, b, n: api.membership_activity(a, ACTIVITY_REMOVE, b, s.now(), _take_fail(s)),
    ),
    V3Route(
        "/v3/activities/contact_delete",
        "POST",
        lambda s, a, r, b, n: api.delete_contacts_activity(a, b, s.now(), _take_fail(s)),
    ),
    V3Route(
        "/v3/activities/list_delete",
        "POST",
        lambda s, a, r, b, n: api.delete_lists_activity(a, b, s.now(), _take_fail(s)),
    ),
    V3Route(
        "/v3/activities", "GET", lambda s, a, r, b, n: api.get_activities(a, _query(r)), frozenset({"limit", "state"})
    ),
    V3Route("/v3/activities/{activity_id}", "GET", lambda s, a, r, b, n: api.get_activity(a, _path(r, "activity_id"))),
    V3Route(
        "/v3/activities/contact_exports", "POST", lambda s, a, r, b, n: api.start_export(a, b, s.now(), _take_fail(s))
    ),
    V3Route(
        "/v3/contact_exports/{file_export_id}",
        "GET",
        lambda s, a, r, b, n: api.export_file(a, _path(r, "file_export_id")),
        media_type="text/csv",
    ),
]


def not_emulated_operations() -> list[tuple[str, str]]:
    """(method, /v3 path) of every operation of the description the sandbox answers with 501."""
    served = {(route.method, route.spec_path) for route in ROUTES_V3}
    return sorted((method, f"/v3{path}") for method, path in validation.operations() if (method, path) not in served)


def _path_pattern(template: str) -> re.Pattern[str]:
    """`/v3/contacts/{contact_id}` as a pattern: a `{name}` segment is any one segment."""
    return re.compile("/".join("[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/")))


_LITERAL_PATHS = frozenset(f"/v3{path}" for _method, path in validation.operations() if "{" not in path)
# Every path of the description, with one of its methods.
_V3_PATHS = [(path, _path_pattern(f"/v3{path}"), method) for method, path in validation.operations()]


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


def _v3_routes() -> list[Route]:
    """The served operations, 501 for the other operations of the description, and a last route
    for everything else under /v3. Literal paths go before templates: `/v3/contacts/counts` is not
    the contact `counts`."""
    unserved = [V3Route(path, method, None) for method, path in not_emulated_operations()]
    ordered = sorted([*ROUTES_V3, *unserved], key=lambda route: route.path.count("{"))
    return [
        *(Route(route.path, v3(route), methods=[route.method]) for route in ordered),
        Route("/v3/{anything:path}", v3(None), methods=ALL_METHODS),
    ]


# /_sandbox controls (never under /v3)

FAULT_FIELDS = {
    "latency_ms": int,
    "throttle_burst": int,
    "server_errors": int,
    "drop_connections": int,
    "fail_next_activity": bool,
}


async def stats(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    with sandbox.lock:
        return JSONResponse(sandbox.stats_json())


async def reset(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    raw = await request.body()
    what = (json.loads(raw) if raw else {}).get("what", "all")
    if what not in {"all", "stats"}:
        return JSONResponse({"error": "what must be 'all' or 'stats'"}, status_code=400)
    with sandbox.lock:
        if what == "all":
            sandbox.reset()
        else:
            sandbox.reset_stats()
        return JSONResponse({"reset": what, **sandbox.stats_json()})


async def faults(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if request.method == "POST":
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("a JSON object is expected")
        except ValueError as error:
            return JSONResponse({"error": f"body is not valid: {error}"}, status_code=400)
        unknown = set(changes) - set(FAULT_FIELDS) - {"expire_tokens", "clear"}
        if unknown:
            return JSONResponse({"error": f"unknown fault(s): {', '.join(sorted(unknown))}"}, status_code=400)
        with sandbox.lock:
            if changes.get("clear"):
                sandbox.faults = type(sandbox.faults)()
            for name, kind in FAULT_FIELDS.items():
                if name in changes:
                    setattr(sandbox.faults, name, kind(changes[name]))
            if changes.get("expire_tokens"):
                sandbox.tokens.expire_all(sandbox.now())
                sandbox.dirty = True
    with sandbox.lock:
        return JSONResponse(sandbox.faults.to_json())


async def save(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if sandbox.config.state_file is None:
        return JSONResponse({"error": "the sandbox was started without --state"}, status_code=400)
    sandbox.save()
    return JSONResponse({"saved": str(sandbox.config.state_file)})


async def seed(request: Request) -> Response:
    """Existing data for an account (see ctct.sandbox.seed); `account` defaults to the first one."""
    sandbox: Sandbox = request.app.state.sandbox
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as error:
        return JSONResponse({"error": f"body is not valid JSON: {error}"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "the body must be a JSON object with 'contacts'"}, status_code=400)
    username = body.pop("account", sandbox.config.accounts[0].username)
    with sandbox.lock:
        if not isinstance(username, str) or username not in sandbox.accounts:
            return JSONResponse({"error": f"account: no sandbox account {username!r}"}, status_code=400)
        try:
            created = seed_account(sandbox.account(username), body, sandbox.now())
        except (SeedError, SandboxError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        sandbox.dirty = True
        return JSONResponse({"account": username, **created})


async def index(request: Request) -> Response:
    return JSONResponse(
        {
            "service": "Constant Contact v3 sandbox",
            "api": "/v3",
            "oauth": "/oauth2/default/v1/authorize",
            "controls": [
                "/_sandbox/stats",
                "/_sandbox/reset",
                "/_sandbox/faults",
                "/_sandbox/save",
                "/_sandbox/seed",
            ],
        }
    )


# The scope key of the time a request reached the sandbox, on the sandbox's clock.
ARRIVED = "ctct.sandbox.arrived"


class StampedArrivals:
    """Outermost layer: notes when each request arrived, before anything else is done for it. CTCT
    counts a request against its rate limit as it reaches its edge; counted once served (after the
    injected latency, behind a state save or another request's page), arrivals the client spaced
    out came bunched. Measured (bench/bench_client_rate.py, one thread, no latency): a save of
    20,000 contacts held the event loop, one request was counted 0.56 s after it was sent and the
    four after it within 0.72 s: a 429 the client's pacing never caused. Stamped here (and served
    off the event loop), five arrivals spanned at least 1.012 s where the time of admission gave
    0.967 s."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox, state: State) -> None:
        self.app = app
        self.sandbox = sandbox
        self.state = state  # the Starlette app's: `state.sandbox` for whoever holds the app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[ARRIVED] = self.sandbox.now()
        await self.app(scope, receive, send)


class DroppingConnections:
    """Hangs up on /v3 requests while the drop_connections fault is armed."""

    def __init__(self, app: Starlette, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The fault read without the lock first: the event loop must not wait for it on every request.
        if scope["type"] == "http" and scope["path"].startswith("/v3") and self.sandbox.faults.drop_connections > 0:
            with self.sandbox.lock:
                drop = self.sandbox.faults.drop_connections > 0
                if drop:
                    self.sandbox.faults.drop_connections -= 1
                    self.sandbox.count(endpoint_key(scope["method"], scope["path"]))
            if drop:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"contacts": [', "more_body": True})
                raise ConnectionDropped("the sandbox dropped the connection (injected fault)")
        await self.app(scope, receive, send)


def create_app(config: SandboxConfig | None = None) -> StampedArrivals:
    sandbox = Sandbox(config or SandboxConfig())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        saver = asyncio.create_task(_save_periodically(sandbox)) if sandbox.config.state_file else None
        try:
            yield
        finally:
            if saver is not None:
                saver.cancel()
            sandbox.save()

    routes = _v3_routes()
    routes += [
        Route("/", index),
        Route("/oauth2/default/v1/authorize", oauth.authorize_page, methods=["GET"]),
        Route("/oauth2/default/v1/authorize", oauth.authorize_submit, methods=["POST"]),
        Route("/oauth2/default/v1/token", oauth.token, methods=["POST"]),
        Route("/oauth2/default/v1/revoke", oauth.revoke, methods=["POST"]),
        Route("/oauth2/default/v1/keys", oauth.keys, methods=["GET"]),
        Route("/_sandbox/stats", stats),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/save", save, methods=["POST"]),
        Route("/_sandbox/seed", seed, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.sandbox = sandbox
    return StampedArrivals(DroppingConnections(app, sandbox), sandbox, app.state)


async def _not_found(request: Request, _error: Exception) -> Response:
    return error_response(404, "not_found", f"No resource at {request.url.path}")


async def _method_not_allowed(request: Request, error: Exception) -> Response:
    refusal = error_response(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")
    refusal.headers.update(getattr(error, "headers", None) or {})  # Starlette's `Allow`
    return refusal


async def _save_periodically(sandbox: Sandbox) -> None:
    while True:
        await asyncio.sleep(sandbox.config.save_every)
        if sandbox.dirty:
            await asyncio.to_thread(sandbox.save)
