"""/_sandbox statistics, reset and persistence to a state file."""

import httpx

from ctct.sandbox import create_app
from ctct.sandbox.inprocess import SandboxTransport
from tests.sandbox.conftest import tokens_for


def test_stats_count_requests_per_endpoint(api):
    api.post("/_sandbox/reset", json={"what": "stats"})
    list_id = api.get("/v3/contact_lists").json()["lists"][0]["list_id"]
    api.get(f"/v3/contact_lists/{list_id}")
    api.get(f"/v3/contact_lists/{list_id}")
    api.get("/v3/contacts", headers={"Authorization": "Bearer nope"})
    stats = api.get("/_sandbox/stats").json()
    assert stats["requests_by_endpoint"] == {
        "GET /v3/contact_lists": 1,
        "GET /v3/contact_lists/{id}": 2,
        "GET /v3/contacts": 1,
    }
    assert stats["requests_total"] == 4
    assert stats["quota_used_today"] >= 3 and stats["daily_quota"] == 10_000


def test_controls_are_not_under_v3(api):
    assert api.get("/v3/_sandbox/stats").status_code == 404
    assert "_sandbox" not in str(api.get("/_sandbox/stats").json()["requests_by_endpoint"])


def test_reset_all_restores_a_fresh_account(api):
    api.post("/v3/contact_lists", json={"name": "Temporary"})
    assert api.post("/_sandbox/reset").json()["reset"] == "all"
    assert api.get("/v3/contact_lists").status_code == 401  # tokens are gone too
    api.headers["Authorization"] = f"Bearer {tokens_for(api)['access_token']}"
    assert [item["name"] for item in api.get("/v3/contact_lists").json()["lists"]] == ["General Interest"]


def test_accounts_are_separate(http):
    demo = {"Authorization": f"Bearer {tokens_for(http)['access_token']}"}
    other = {"Authorization": f"Bearer {tokens_for(http, 'other', 'secret')['access_token']}"}
    http.post("/v3/contact_lists", json={"name": "Demo only"}, headers=demo)
    assert [item["name"] for item in http.get("/v3/contact_lists", headers=other).json()["lists"]] == [
        "General Interest"
    ]
    assert http.get("/v3/account/summary", headers=other).json()["organization_name"] == "Other Company"


def test_state_survives_a_restart(sandbox_config, clock, tmp_path):
    sandbox_config.state_file = tmp_path / "sandbox.json"
    first = create_app(sandbox_config)
    transport = SandboxTransport(first)
    with httpx.Client(
        transport=transport, base_url="http://sandbox", event_hooks={"request": [lambda _r: clock.advance(0.3)]}
    ) as client:
        tokens = tokens_for(client)
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        list_id = client.post("/v3/contact_lists", json={"name": "Kept"}).json()["list_id"]
        client.post(
            "/v3/contacts",
            json={
                "email_address": {"address": "ann@acme.com"},
                "create_source": "Account",
                "list_memberships": [list_id],
            },
        )
        assert client.post("/_sandbox/save").status_code == 200
    transport.close()

    second = create_app(sandbox_config)
    transport = SandboxTransport(second)
    with httpx.Client(
        transport=transport, base_url="http://sandbox", event_hooks={"request": [lambda _r: clock.advance(0.3)]}
    ) as client:
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"  # the token survived too
        contacts = client.get("/v3/contacts", params={"lists": list_id, "include": "list_memberships"}).json()
        assert [c["email_address"]["address"] for c in contacts["contacts"]] == ["ann@acme.com"]
        new = client.post(
            "/v3/contacts", json={"email_address": {"address": "bo@acme.com"}, "create_source": "Account"}
        )
        assert new.status_code == 201  # ids and order continue after a restart
        assert (
            client.post(
                "/v3/contacts", json={"email_address": {"address": "ann@acme.com"}, "create_source": "Account"}
            ).status_code
            == 409
        )
    transport.close()


def test_save_without_a_state_file_is_refused(http):
    assert http.post("/_sandbox/save").status_code == 400
