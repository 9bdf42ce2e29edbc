"""Authentication, rate limit, daily quota, media types — and the injectable faults."""

import asyncio
import json
import time

import httpx
import pytest

from ctct.sandbox import SandboxConfig
from ctct.sandbox.app import ConnectionDropped
from ctct.sandbox.state import SAVE_PIECE, Sandbox, _json_pieces

UNAUTHORIZED = {"error_key": "unauthorized", "error_message": "Unauthorized"}


def test_a_bearer_token_is_required(http):
    assert http.get("/v3/contacts").json() == UNAUTHORIZED
    response = http.get("/v3/contacts", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_a_token_without_contact_data_is_403(http):
    from tests.sandbox.conftest import tokens_for

    token = tokens_for(http, scope="contact_data")["access_token"]
    app = http._transport.app  # the same sandbox: strip the scope from the issued token
    app.state.sandbox.tokens.access[token]["scope"] = "account_read"
    response = http.get("/v3/contacts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json()["error_key"] == "forbidden"


def test_more_than_four_requests_a_second_are_throttled(api, clock):
    clock.advance(5)
    http_hooks = api.event_hooks["request"]
    api.event_hooks["request"] = []  # the clock stands still: all in the same second
    statuses = [api.get("/v3/contact_lists").status_code for _ in range(6)]
    api.event_hooks["request"] = http_hooks
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert api.get("/v3/contact_lists").json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
    clock.advance(1)
    assert api.get("/v3/contact_lists").status_code == 200


def test_a_request_counts_against_the_rate_as_it_arrives_not_once_served(app, api, clock):
    """CTCT counts requests at its edge: one held up on its way in (here by the injected latency)
    is counted when it arrived, with the four before it, not two seconds later once served."""
    clock.advance(5)
    hooks = api.event_hooks["request"]
    api.event_hooks["request"] = []  # the clock stands still: all in the same second
    assert [api.get("/v3/contact_lists").status_code for _ in range(4)] == [200] * 4
    api.event_hooks["request"] = hooks
    app.state.sandbox.faults.latency_ms = 100

    async def fifth() -> httpx.Response:
        arriving = asyncio.Event()

        async def arrival(scope, receive, send):
            arriving.set()
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=arrival)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=api.headers) as client:
            answer = asyncio.create_task(client.get("/v3/contact_lists"))
            await arriving.wait()  # resumed once the app has gone as far as the latency
            clock.advance(2)
            return await answer

    refused = asyncio.run(fifth())
    assert refused.status_code == 429 and refused.json()["error_key"] == "throttled"


def test_the_rate_window_holds_arrivals_whatever_order_they_are_admitted_in(sandbox_config):
    sandbox = Sandbox(sandbox_config)
    # In arrival order: four in a second, a fifth inside it refused, one a second after the first let in.
    assert [sandbox.admit("console", at) for at in (0.0, 0.25, 0.5, 0.75, 0.99, 1.0)] == [None] * 4 + [
        "throttled",
        None,
    ]
    # Served after their latency, on worker threads: the first to arrive may be admitted last.
    assert [sandbox.admit("other", at) for at in (10.1, 10.2, 10.3, 10.4)] == [None] * 4
    assert sandbox.admit("other", 10.0) == "throttled"  # five arrivals within 0.4 s
    assert sandbox.admit("other", 9.3) is None  # 1.1 s from the fifth after it
    assert sandbox.admit("other", 9.45) == "throttled"  # 9.45 to 10.4: five within 0.95 s
    assert sandbox.quota_used_today("other") == 5


def test_the_state_is_saved_in_short_encoder_calls(sandbox_config, clock, tmp_path):
    """The encoder holds the interpreter for a whole call: one call for every contact would keep
    the event loop from stamping arrivals while a large state is saved."""
    sandbox = Sandbox(sandbox_config)
    account = sandbox.account("demo")
    for number in range(1000):
        account.new_contact(f"p{number}@acme.example", clock() + number, "Account", "implicit")
    state = sandbox.state()
    pieces = list(_json_pieces(state))
    assert "".join(pieces) == json.dumps(state, separators=(",", ":"))
    assert max(piece.count('"contact_id"') for piece in pieces) == SAVE_PIECE
    sandbox.save(tmp_path / "state.json")
    loaded = Sandbox(SandboxConfig(accounts=sandbox_config.accounts, state_file=tmp_path / "state.json"))
    assert len(loaded.account("demo").contacts) == 1000


def test_the_daily_quota_stops_requests_until_midnight_utc(sandbox_config, clock):
    from ctct.sandbox import create_app
    from ctct.sandbox.inprocess import SandboxTransport
    from tests.sandbox.conftest import tokens_for

    sandbox_config.daily_quota = 3
    transport = SandboxTransport(create_app(sandbox_config))
    with httpx.Client(
        transport=transport, base_url="http://sandbox", event_hooks={"request": [lambda _r: clock.advance(0.3)]}
    ) as client:
        client.headers["Authorization"] = f"Bearer {tokens_for(client)['access_token']}"
        statuses = [client.get("/v3/account/summary").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert client.get("/v3/account/summary").json() == {
            "error_key": "quota_exceeded",
            "error_message": "Limit Exceeded",
        }
        assert client.get("/_sandbox/stats").json()["quota_resets_at"] == "2026-11-30T00:00:00+00:00"
        clock.advance(12 * 3600)  # 12:00 → past 00:00 UTC
        assert client.get("/v3/account/summary").status_code == 200
    transport.close()


def test_non_json_bodies_are_415(api):
    response = api.post("/v3/contact_lists", content="name=News", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and response.json()[0]["error_key"] == "unsupported_media_type"
    malformed = api.post("/v3/contact_lists", content="{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()[0]["error_key"] == "malformed_json"


def set_faults(http, **faults):
    response = http.post("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_burst_of_429s(api):
    set_faults(api, throttle_burst=2)
    assert [api.get("/v3/contact_lists").status_code for _ in range(3)] == [429, 429, 200]


def test_server_errors(api):
    set_faults(api, server_errors=2)
    responses = [api.get("/v3/contacts") for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 200]
    assert responses[0].json()[0]["error_key"] == "server_error"


def test_dropped_connections(api):
    set_faults(api, drop_connections=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/v3/contacts")
    assert api.get("/v3/contacts").status_code == 200
    assert issubclass(ConnectionDropped, httpx.TransportError)


def test_added_latency(api):
    set_faults(api, latency_ms=150)
    started = time.perf_counter()
    api.get("/v3/contacts")
    assert time.perf_counter() - started >= 0.15
    assert set_faults(api, clear=True)["latency_ms"] == 0


def test_the_next_activity_fails(api, clock):
    set_faults(api, fail_next_activity=True)
    list_id = api.get("/v3/contact_lists").json()["lists"][0]["list_id"]
    first = api.post(
        "/v3/activities/contacts_json_import", json={"import_data": [{"email": "a@acme.com"}], "list_ids": [list_id]}
    ).json()
    second = api.post(
        "/v3/activities/contacts_json_import", json={"import_data": [{"email": "b@acme.com"}], "list_ids": [list_id]}
    ).json()
    clock.advance(30)
    failed = api.get(f"/v3/activities/{first['activity_id']}").json()
    assert failed["state"] == "failed" and failed["activity_errors"]
    assert api.get(f"/v3/activities/{second['activity_id']}").json()["state"] == "completed"
    emails = [c["email_address"]["address"] for c in api.get("/v3/contacts").json()["contacts"]]
    assert emails == ["b@acme.com"]


def test_expire_all_tokens_now(api):
    set_faults(api, expire_tokens=True)
    assert api.get("/v3/contacts").json() == UNAUTHORIZED


def test_unknown_faults_are_refused(http):
    response = http.post("/_sandbox/faults", json={"meteor_strike": 1})
    assert response.status_code == 400 and "meteor_strike" in response.json()["error"]
