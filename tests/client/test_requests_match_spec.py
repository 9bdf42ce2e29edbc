"""What the console itself sends to CTCT, checked against CTCT's published spec: every request of a whole session —
activation, the initial import, a push that creates, fills, empties, renames and deletes lists, and a pull — is
recorded on the client's own HTTP connection and each /v3 request validated (the OAuth requests are recorded too,
but the spec does not describe /oauth2). CTCT's own data is seeded straight into the sandbox, so every request
recorded is one the console decided to send."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ctct import lists
from ctct.crm import services
from ctct.sync.apply import SyncService
from tests.client.recorded_requests import RequestRecorder, spec_mismatches
from tests.sandbox.conftest import OPENAPI_SKIP
from tests.sandbox.openapi_contract import OPENAPI_FILE
from tests.sandbox_client import activate, sandbox_http

# A real address a CRM holds (the console stores up to 80 characters, as CTCT's email_address does).
LONG_EMAIL = "margaret.featherstonehaugh-worthington@northwind-logistics.example"
LIST_ID = "04fe9a97-a579-43c5-bb1a-58ed29bf0a6a"
SESSION_OPERATIONS = {
    "GET /account/summary",
    "GET /contact_lists",
    "POST /contact_lists",
    "PUT /contact_lists/{list_id}",
    "GET /contacts",
    "PUT /contacts/{contact_id}",
    "POST /activities/contacts_json_import",
    "POST /activities/add_list_memberships",
    "POST /activities/remove_list_memberships",
    "POST /activities/list_delete",
}


@pytest.fixture(autouse=True)
def reference_spec() -> None:
    if not OPENAPI_FILE.is_file():
        pytest.skip(OPENAPI_SKIP)


@pytest.fixture
def ctct_side(sandbox_app) -> Iterator[httpx.Client]:
    """The customer's own CTCT data, put in through the sandbox's controls: not requests of the console."""
    with sandbox_http(sandbox_app) as http:
        yield http


def seed(ctct_side: httpx.Client, list_names: list[str], contacts: list[dict]) -> None:
    response = ctct_side.post("/_sandbox/seed", json={"lists": list_names, "contacts": contacts})
    assert response.status_code == 200, response.text


def test_every_request_of_a_console_session_matches_the_spec(client, settings, database, ctct_side):
    recorder = RequestRecorder()
    recorder.attach(client.http)
    seed(
        ctct_side,
        ["Spring Newsletter", "VIP Customers", "Old Promo"],
        [
            {
                "email": "owner@acmesports.com",
                "first_name": "Olivia",
                "company_name": "Acme Sports",
                "lists": ["Spring Newsletter"],
            },
            {
                "email": "buyer@acmesports.com",
                "first_name": "Ben",
                "job_title": "Buyer",
                "company_name": "Acme Sports",
                "lists": ["Spring Newsletter", "VIP Customers"],
            },
            {
                "email": "chef@betafoods.com",
                "first_name": "Chloé",
                "last_name": "Dupré",
                "company_name": "Beta Foods",
                "lists": ["VIP Customers", "Old Promo"],
            },
            # More than one page of contacts (500), so the pull and the import follow `_links.next`.
            *({"email": f"reader{number}@readers.example", "lists": ["Spring Newsletter"]} for number in range(510)),
        ],
    )

    activate(client)
    service = SyncService(database, client, settings)
    service.commit(service.plan("import"))

    with database.session() as session:
        northwind = services.create_company(session, "Northwind Logistics")
        for email, first, last in (
            ("ann.lee@northwind-logistics.example", "Ann", "Lee"),
            (LONG_EMAIL, "Margaret", "Featherstonehaugh-Worthington"),
        ):
            services.create_contact(session, northwind.id, email=email, first_name=first, last_name=last)
        lists.create_list(session, "Autumn Event")
        # An existing contact added to a list that an import also goes to rides along in it; one whose
        # email changes in the same push (chef) goes by id: add_list_memberships.
        lists.add_members(
            session,
            "Autumn Event",
            ["ann.lee@northwind-logistics.example", LONG_EMAIL, "owner@acmesports.com", "chef@betafoods.com"],
        )
        lists.add_members(session, "VIP Customers", ["owner@acmesports.com"])
        lists.remove_members(session, "Spring Newsletter", ["buyer@acmesports.com"])
        lists.rename_list(session, "VIP Customers", "VIP Clients")
        lists.delete_list(session, "Old Promo")
        buyer = services.find_contacts_by_email(session, "buyer@acmesports.com")[0]
        services.update_contact(session, buyer.id, job_title="Head of Buying")
        chef = services.find_contacts_by_email(session, "chef@betafoods.com")[0]
        services.update_contact(session, chef.id, email="chloe.dupre@betafoods.com")
    service.commit(service.plan("push"), allow_mass_removal=True)

    seed(
        ctct_side, ["Winter Sale"], [{"email": "new.lead@gamma.example", "first_name": "Gil", "lists": ["Winter Sale"]}]
    )
    service.commit(service.plan("pull"), allow_mass_removal=True)

    oauth = {f"{request.method} {request.url.path}" for request in recorder.requests if "/oauth2/" in request.url.path}
    assert "POST /oauth2/default/v1/token" in oauth, sorted(oauth)  # recorded, though the spec has no /oauth2
    missing = SESSION_OPERATIONS - recorder.operations()
    assert not missing, f"the session never sent {sorted(missing)}: it no longer covers what this test claims"
    assert any("cursor" in request.url.params for request in recorder.api_requests), "no next link was followed"
    mismatches = recorder.mismatches()
    if mismatches:
        summary = f"{len(mismatches)} of the console's requests do not match {OPENAPI_FILE.name}:"
        pytest.fail("\n\n".join([summary, *mismatches]), pytrace=False)


def test_a_request_that_breaks_the_spec_is_reported():
    """The check itself can fail: an invented query parameter (which openapi-core alone lets pass), an import row
    whose email is longer than the row schema's 50 characters, a path the spec does not have."""
    api = "https://sandbox.example/v3"
    bogus_parameter = httpx.Request("GET", f"{api}/contacts", params={"limit": 50, "include_deleted": "true"})
    long_email = httpx.Request(
        "POST",
        f"{api}/activities/contacts_json_import",
        json={"import_data": [{"email": LONG_EMAIL}], "list_ids": [LIST_ID]},
    )
    unknown_path = httpx.Request("GET", f"{api}/contact_lists/list_id_xrefs/everything")
    assert spec_mismatches(bogus_parameter) == ["- query parameter 'include_deleted' is not declared by the operation"]
    assert any("import_data/0/email" in line and "too long" in line for line in spec_mismatches(long_email))
    assert spec_mismatches(unknown_path)
    paged = httpx.Request("GET", f"{api}/contacts", params={"cursor": "bGltaXQ9MSZuZXh0PTI="})
    assert spec_mismatches(paged) == []  # CTCT's own next link
    create = {"create_source": "Account", "email_address": {"address": "a@b.example"}, "list_memberships": [LIST_ID]}
    assert spec_mismatches(httpx.Request("POST", f"{api}/contacts", json=create)) == []  # readOnly: the spec's mistake
    bad_create = httpx.Request("POST", f"{api}/contacts", json={**create, "first_name": 5})
    assert any("first_name" in line for line in spec_mismatches(bad_create))
    recorder = RequestRecorder([bogus_parameter, bogus_parameter, paged])
    assert recorder.mismatches() == [
        "GET /v3/contacts?limit=50&include_deleted=true\n"
        "- query parameter 'include_deleted' is not declared by the operation\n  (sent 2 times)"
    ]
