"""The sandbox as its own process over real HTTP: `python -m ctct sandbox` on a free port."""

import time

import httpx
import pytest

from ctct.sandbox.process import running_sandbox
from tests.sandbox.conftest import access_token_over_http, authorize_params, pkce_pair


def test_login_form_token_and_paging_over_http(tmp_path):
    state = str(tmp_path / "state.json")
    with (
        running_sandbox("--activity-seconds", "0.2", "--state", state) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        _, challenge = pkce_pair()
        params = authorize_params(challenge)
        form = client.get("/oauth2/default/v1/authorize", params=params)
        assert 'name="password"' in form.text
        tokens = {"access_token": access_token_over_http(base)}
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        for number in range(3):
            client.post("/v3/contact_lists", json={"name": f"List {number}"})
            time.sleep(0.26)  # 4 requests a second
        names, url = [], "/v3/contact_lists?limit=2"
        while url:
            page = client.get(url).json()
            names += [item["name"] for item in page["lists"]]
            url = page.get("_links", {}).get("next", {}).get("href")
            time.sleep(0.26)
        assert names == ["General Interest", "List 0", "List 1", "List 2"]
        stats = client.get("/_sandbox/stats").json()
        assert stats["requests_by_endpoint"]["GET /v3/contact_lists"] == 2
        client.post("/_sandbox/faults", json={"drop_connections": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/v3/contacts")  # cut mid-response, as a lost network would
        assert client.get("/v3/contacts").status_code == 200
    assert (tmp_path / "state.json").exists()  # saved at shutdown
