"""`activate` and `deactivate` when the sandbox (or CTCT) does not answer: one line on stderr naming
what could not be reached and what to do, exit 1 — and a deactivation never claims a revoke that
did not happen. In process against the sandbox, each request of the path failing in turn; and as
a real process against a port nothing listens on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ctct.sandbox.inprocess import SandboxTransport
from ctct.sandbox.process import free_port
from tests.sandbox_client import BASE

ROOT = Path(__file__).resolve().parents[2]


class FailingTransport(httpx.BaseTransport):
    """The sandbox, except that requests named in `failing` ((method, path) → "down" or an HTTP
    status) fail: "down" as a refused connection, a status as that answer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.failing: dict[tuple[str, str], str | int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        failure = self.failing.get((request.method, request.url.path))
        if failure == "down":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if failure is not None:
            return httpx.Response(int(failure), request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def transport(sandbox_app) -> Iterator[FailingTransport]:
    inner = SandboxTransport(sandbox_app)
    yield FailingTransport(inner)
    inner.close()


@pytest.fixture
def http(transport) -> Iterator[httpx.Client]:
    """tests.sandbox_client's `http`, through the failing transport (cli_run uses this one)."""
    with httpx.Client(transport=transport, base_url=BASE) as client:
        yield client


OAUTH = "/oauth2/default/v1"


@pytest.mark.parametrize(
    "request_down",
    [
        ("GET", f"{OAUTH}/authorize"),  # the sandbox's login page (demo_account.sign_in_to_sandbox, plain httpx)
        ("POST", f"{OAUTH}/authorize"),  # its login form
        ("POST", f"{OAUTH}/token"),  # the code exchange
        ("GET", "/v3/account/summary"),  # which account was connected
        ("GET", "/v3/contact_lists"),  # the initial import's plan
    ],
)
def test_activate_with_the_sandbox_down_is_one_line_with_the_next_step(cli_run, transport, request_down):
    transport.failing[request_down] = "down"
    code, _, err = cli_run("activate", "--yes")
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert "is the sandbox at http://sandbox running?" in err, err


def test_activate_against_a_port_nothing_listens_on(tmp_path):
    """As a process, where the 69-line httpx.ConnectError traceback was seen."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTCT_")} | {
        "CTCT_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
        "CTCT_API_BASE": f"http://127.0.0.1:{port}/v3",
        "CTCT_AUTH_BASE": f"http://127.0.0.1:{port}{OAUTH}",
        "CTCT_REDIRECT_URI": "http://127.0.0.1:8501/",
        "CTCT_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ctct", "activate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: the Constant Contact sandbox cannot be reached (ConnectError")
    assert f"is the sandbox at http://127.0.0.1:{port} running?" in done.stderr
    assert f"start it with `python -m ctct sandbox --port {port}`" in done.stderr


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("down", "the token could not be revoked at Constant Contact (not reachable): it was deleted here"),
        (503, "Constant Contact did not accept the token's revocation: it was deleted here"),
        (None, "token revoked at Constant Contact"),
    ],
)
def test_deactivate_says_whether_the_token_was_revoked(cli_run, transport, answer, said):
    assert cli_run("activate", "--yes")[0] == 0
    if answer is not None:
        transport.failing[("POST", f"{OAUTH}/revoke")] = answer
    code, out, err = cli_run("deactivate", "--yes")
    assert code == 0 and err == ""
    assert out.count("\n") == 1 and out.startswith(f"Deactivated: {said}") and "kept" in out
    assert json.loads(cli_run("status", "--json")[1])["active"] is False  # deleted here in every case
    if answer is not None:
        assert "token revoked" not in out


def test_deactivate_json_tells_the_revocation(cli_run, transport):
    assert cli_run("activate", "--yes")[0] == 0
    transport.failing[("POST", f"{OAUTH}/revoke")] = "down"
    code, out, _ = cli_run("deactivate", "--yes", "--json")
    assert code == 0 and json.loads(out)["token"] == "not_reached"
    code, out, _ = cli_run("deactivate", "--yes", "--json")  # nothing left to revoke
    assert code == 0 and json.loads(out)["token"] == "no_token"
    code, out, _ = cli_run("deactivate", "--yes")
    assert out.startswith("Deactivated: no token was stored;")
