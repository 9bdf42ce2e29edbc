"""The client against the sandbox running as its own process, over real HTTP and real time."""

from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet

from ctct.cli import main
from ctct.config import Settings
from ctct.db.stores import open_client
from ctct.sandbox.process import running_sandbox


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with running_sandbox("--activity-seconds", "0.3") as url:
        yield url


def test_activate_sync_a_little_and_survive_faults_over_http(sandbox_url, sqlite_url, monkeypatch, capsys):
    for name, value in {
        "CTCT_API_BASE": f"{sandbox_url}/v3",
        "CTCT_AUTH_BASE": f"{sandbox_url}/oauth2/default/v1",
        "CTCT_REDIRECT_URI": "http://127.0.0.1:8501/",
        "CTCT_SECRET_KEY": Fernet.generate_key().decode(),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["--db", sqlite_url, "activate"]) == 0
    assert "Demo Company" in capsys.readouterr().out

    settings = Settings.load()
    from ctct.db import Database

    client = open_client(settings, Database(sqlite_url))
    list_id = client.lists.create("Over HTTP")["list_id"]
    seen = []
    result = client.activities.import_contacts(
        [{"email": f"p{n}@acme.com"} for n in range(3)], [list_id], progress=seen.append
    )
    assert result.failed == [] and seen[-1].state == "completed"
    httpx.post(f"{sandbox_url}/_sandbox/faults", json={"throttle_burst": 2, "drop_connections": 1})
    assert len(list(client.contacts.iterate(lists=[list_id]))) == 3

    httpx.post(f"{sandbox_url}/_sandbox/faults", json={"expire_tokens": True})
    assert client.account.summary()["organization_name"] == "Demo Company"  # refreshed on the 401
    assert main(["--db", sqlite_url, "status", "--json"]) == 0
    assert '"active": true' in capsys.readouterr().out
