"""`ctct.connect`: one object over the console's services, against a sandbox it started itself."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import ctct
from ctct.config import DEFAULT_AUTH_BASE
from ctct.errors import ConsoleError, IneligibleContacts, SyncRefused
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.process import SandboxServer
from ctct.session import Console
from ctct.sync.history import RunDetail, RunHistory


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with ctct.start_sandbox(activity_seconds=0.2) as server:
        yield server


@pytest.fixture
def console(sqlite_url: str, sandbox: SandboxServer, tmp_path) -> Iterator[Console]:
    httpx.post(sandbox.url + "/_sandbox/reset", json={"what": "all"})
    with ctct.connect(sqlite_url, sandbox=sandbox, secret_key_file=tmp_path / "key", rate_limit=50) as opened:
        yield opened


def test_connect_applies_settings_by_name_and_refuses_unknown_ones(sqlite_url, sandbox, tmp_path):
    with ctct.connect(sqlite_url, sandbox=sandbox, secret_key_file=str(tmp_path / "key"), daily_quota=500) as console:
        assert console.settings.api_base == sandbox.api_base and console.settings.auth_base == sandbox.auth_base
        assert console.settings.daily_quota == 500 and console.status().daily_quota == 500
        assert console.settings.secret_key_file == tmp_path / "key"
        assert "Not connected to Constant Contact" in console._repr_html_()
    with pytest.raises(TypeError, match="unknown setting\\(s\\): api_key"):
        ctct.connect(sqlite_url, api_key="x")


def test_settings_given_as_text_are_read_as_the_environment_would_be(sqlite_url, tmp_path):
    with ctct.connect(
        sqlite_url, role_addresses="Info, sales", api_base="http://127.0.0.1:1/v3/", rate_limit="2.5"
    ) as console:
        assert console.settings.role_addresses == frozenset({"info", "sales"})
        assert console.settings.api_base == "http://127.0.0.1:1/v3" and console.settings.rate_limit == 2.5


def test_a_sandbox_rehearsal_names_its_database_and_ignores_a_production_redirect(
    sqlite_url, sandbox, tmp_path, monkeypatch
):
    with pytest.raises(ConsoleError, match="needs its own database"):
        ctct.connect(sandbox=sandbox)
    monkeypatch.setenv("CTCT_REDIRECT_URI", "https://console.example.com/")  # what production sets
    with ctct.connect(sqlite_url, sandbox=sandbox, secret_key_file=tmp_path / "key") as console:
        assert console.activate().active


def test_against_constant_contact_itself_a_person_logs_in(sqlite_url, tmp_path):
    with ctct.connect(sqlite_url, secret_key_file=tmp_path / "key", auth_base=DEFAULT_AUTH_BASE) as console:
        with pytest.raises(ConsoleError, match="activation_link"):
            console.activate()
        link = console.activation_link()
        assert link.startswith("https://authz.constantcontact.com/oauth2/default/v1/authorize?")
        assert "&amp;" in link._repr_html_() and 'target="_blank"' in link._repr_html_()


def test_a_migration_through_the_session(console, sandbox):
    assert console.crm.load_demo_data(companies=6).companies == 6
    companies = console.crm.companies()
    assert len(companies) == 6 and set(companies["kind"]) <= {"customer", "prospect"}
    exported = {company["name"]: company["tags"] for company in console.crm.export()["companies"]}
    assert companies.set_index("name")["tags"].to_dict() == {name: ", ".join(tags) for name, tags in exported.items()}
    link = console.activation_link()
    status = console.finish_activation(sign_in_to_sandbox(console.client.http, link, "demo", "demo"))
    assert status.active and status.account_name == "Demo Company"
    assert console.commit(console.plan_import()).counts["lists_create"] == 1  # General Interest

    customers = console.crm.contacts(contact_type="customer")
    assert len(customers) and set(customers["company_kind"]) == {"customer"}
    tag = console.crm.tags()[0]
    tagged = console.crm.contacts(tags=[tag])
    assert len(tagged) and tagged["tags"].str.contains(tag, regex=False).all()
    with pytest.raises(ConsoleError, match="contact_type must be all, customer or prospect"):
        console.crm.contacts(contact_type="partner")

    console.lists.create("Tagged")
    added = console.lists.add_matching("Tagged", tags=[tag])
    assert added.added == int(tagged["eligible"].sum()) and added.list_name == "Tagged"
    assert sorted(console.lists.members("Tagged")["email"]) == sorted(tagged.loc[tagged["eligible"], "email"])
    with pytest.raises(IneligibleContacts, match="no contact has this email"):
        console.lists.add("Tagged", ["nobody@nowhere.example"])

    with pytest.raises(ConsoleError, match="direction must be one of import, push, pull"):
        console.plan("sideways")
    push = console.plan_push()
    assert len(push["memberships_add"]) == added.added
    result = console.commit(push)
    assert result.status == "completed" and result.direction == "push"
    assert console.plan_pull().is_empty

    # A plan made before a change on either side is refused, not applied.
    stale = console.plan_push()
    first = console.lists.members("Tagged")["email"].iloc[0]
    assert console.lists.remove("Tagged", [first]).removed == 1
    with pytest.raises(SyncRefused, match="changed since this preview"):
        console.commit(stale)

    history = console.history()
    assert isinstance(history, RunHistory) and [run["direction"] for run in history] == ["push", "import"]
    detail = console.history(result.run_id)
    assert isinstance(detail, RunDetail)
    assert (detail.changes["change"] == "member added").sum() == added.added

    console.lists.rename("Tagged", "Tagged customers")
    assert "Tagged customers" in set(console.lists.all()["name"])
    assert console.deactivate().lists_deleted == 2
    assert not console.status().active
