"""Sandbox test fixtures: the in-process sandbox on a test clock, a logged-in client, and the OpenAPI
contract check applied to every /v3 exchange a test makes (skipped when the description is absent)."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from openapi_core import OpenAPI

from ctct.sandbox import SandboxAccount, SandboxConfig, create_app
from ctct.sandbox.inprocess import SandboxTransport
from ctct.sandbox.tokens import s256
from ctct.sandbox.validation import load_fragments, with_fragments
from tests.sandbox.openapi_contract import OPENAPI_FILE, load_spec, validate_response

OPENAPI_SKIP = "OpenAPI contract tests skipped: ../shared/reference/ctct-v3-openapi.yaml not found"


@pytest.fixture(scope="session")
def openapi_spec() -> OpenAPI:
    if not OPENAPI_FILE.is_file():
        pytest.skip(OPENAPI_SKIP)
    return load_spec()


# The sandbox in process, on a clock the tests move.

START = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC).timestamp()
REDIRECT_URI = "http://127.0.0.1:8501/oauth/callback"
CLIENT_ID = "customer-focus-tests"


@dataclass
class FakeClock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Exchanges:
    """Every /v3 exchange of a test, checked against the OpenAPI description at the end."""

    seen: list[tuple[httpx.Request, httpx.Response]] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        if response.request.url.path.startswith("/v3"):
            response.read()
            self.seen.append((response.request, response))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox_config(clock: FakeClock) -> SandboxConfig:
    return SandboxConfig(
        accounts=[
            SandboxAccount("demo", "demo", "Demo Company", "owner@demo-company.example"),
            SandboxAccount("other", "secret", "Other Company"),
        ],
        clock=clock,
    )


@pytest.fixture
def app(sandbox_config: SandboxConfig):
    return create_app(sandbox_config)


@pytest.fixture
def exchanges() -> Exchanges:
    return Exchanges()


@pytest.fixture
def http(app, clock: FakeClock, exchanges: Exchanges) -> Iterator[httpx.Client]:
    """A client of the in-process sandbox. Each request moves the clock 0.26 s, so tests stay
    under 4 requests/s unless they mean not to; every /v3 response is contract-checked."""
    transport = SandboxTransport(app)

    def tick(_request: httpx.Request) -> None:
        clock.advance(0.26)

    client = httpx.Client(
        transport=transport,
        base_url="http://sandbox",
        event_hooks={"request": [tick], "response": [exchanges.record]},
    )
    yield client
    client.close()
    transport.close()
    if OPENAPI_FILE.is_file():
        check_contract(exchanges)


@functools.cache
def _spec_paths() -> dict:
    with OPENAPI_FILE.open(encoding="utf-8") as stream:
        return with_fragments(yaml.safe_load(stream), load_fragments())["paths"]


def check_contract(exchanges: Exchanges) -> None:
    load_spec()
    for request, response in exchanges.seen:
        if _documented(_spec_paths(), request, response.status_code):
            validate_response(request, response)
        else:
            # CTCT sends 400/415/429 on every endpoint, but the description lists them only on some;
            # paths outside the description answer 404/405, what the sandbox does not emulate 501.
            # Those must still carry CTCT's error body: one object for 401/403/429, else an array.
            expected = {400, 401, 403, 404, 405, 415, 429, 501, 503}
            assert response.status_code in expected, (request.url, response.status_code)
            assert_ctct_error(response)


def assert_ctct_error(response: httpx.Response) -> None:
    body = response.json()
    errors = [body] if response.status_code in {401, 403, 429} else body
    assert isinstance(errors, list) and errors, (response.request.url, body)
    for error in errors:
        assert isinstance(error, dict) and set(error) == {"error_key", "error_message"}, (response.request.url, body)
        assert all(isinstance(value, str) and value for value in error.values()), (response.request.url, body)


def _documented(spec_paths: dict, request: httpx.Request, status: int) -> bool:
    path = request.url.path.removeprefix("/v3").strip("/").split("/")
    matches = [template for template in spec_paths if _matches(template.strip("/").split("/"), path)]
    if not matches:
        return False
    # A literal route (/activities/list_delete) wins over a template one (/activities/{activity_id}).
    template = min(matches, key=lambda candidate: candidate.count("{"))
    operation = spec_paths[template].get(request.method.lower())
    return operation is not None and str(status) in operation["responses"]


def _matches(template: list[str], path: list[str]) -> bool:
    return len(template) == len(path) and all(
        part.startswith("{") or part == actual for part, actual in zip(template, path, strict=True)
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


# What the console asks for (ctct.config.SCOPES): the account summary needs account_read, every
# contact, list and activity route contact_data, and a refresh token offline_access.
CONSOLE_SCOPES = "account_read contact_data offline_access"


AUTHORIZE = "/oauth2/default/v1/authorize"
TOKEN = "/oauth2/default/v1/token"
REVOKE = "/oauth2/default/v1/revoke"


def query_of(response: httpx.Response) -> dict[str, str]:
    """The query of the address a response redirects to."""
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["location"]).query).items()}


def authorize_params(challenge: str, **overrides: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": CONSOLE_SCOPES,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    } | overrides


def log_in(http: httpx.Client, username: str = "demo", password: str = "demo", **overrides: str) -> httpx.Response:
    """Submits the sandbox's login form as a browser would."""
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge, **overrides)
    response = http.post(AUTHORIZE, data={**params, "username": username, "password": password, "decision": "allow"})
    response.verifier = verifier  # type: ignore[attr-defined]
    return response


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def exchange_code(http: httpx.Client, code: str, verifier: str, **overrides: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
    } | overrides
    return http.post(TOKEN, data=data)


def tokens_for(http: httpx.Client, username: str = "demo", password: str = "demo", **overrides: str) -> dict:
    login = log_in(http, username, password, **overrides)
    response = exchange_code(http, code_from(login), login.verifier)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def api(http: httpx.Client) -> httpx.Client:
    """The same client, logged in to the demo account."""
    http.headers["Authorization"] = f"Bearer {tokens_for(http)['access_token']}"
    return http


def access_token_over_http(base_url: str) -> str:
    """Logs in to a running sandbox (demo / demo) the way a browser would; returns an access token."""
    verifier, challenge = pkce_pair()
    params = authorize_params(challenge)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        login = client.post(AUTHORIZE, data={**params, "username": "demo", "password": "demo", "decision": "allow"})
        code = parse_qs(urlsplit(login.headers["location"]).query)["code"][0]
        tokens = client.post(
            TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": params["redirect_uri"],
                "client_id": params["client_id"],
                "code_verifier": verifier,
            },
        ).json()
    return tokens["access_token"]
