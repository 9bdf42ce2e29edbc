"""Every endpoint the console uses, in success and in its documented errors, checked against the
official OpenAPI description (the other sandbox tests are checked too, by the `http` fixture)."""

import json

from tests.sandbox.conftest import check_contract

MISSING = "00000000-0000-4000-8000-000000000000"

EXPECTED = {
    ("GET", "/account/summary"): {200, 401},
    ("GET", "/activities"): {200, 400},
    ("GET", "/activities/{id}"): {200, 404},
    ("POST", "/activities/contact_delete"): {201, 400},
    ("POST", "/activities/contacts_json_import"): {201, 400, 429},
    ("POST", "/activities/add_list_memberships"): {201, 400},
    ("POST", "/activities/remove_list_memberships"): {201, 400, 404},
    ("POST", "/activities/list_delete"): {201, 400},
    ("GET", "/contacts"): {200, 400, 503},
    ("POST", "/contacts"): {201, 400, 409, 415},
    ("GET", "/contacts/{id}"): {200, 404},
    ("PUT", "/contacts/{id}"): {200, 400, 404, 409},
    ("DELETE", "/contacts/{id}"): {204, 404},
    ("POST", "/contacts/sign_up_form"): {200, 201, 400},
    ("GET", "/contact_lists"): {200, 400},
    ("POST", "/contact_lists"): {201, 400, 409},
    ("GET", "/contact_lists/{id}"): {200, 404},
    ("PUT", "/contact_lists/{id}"): {200, 400, 404},
    ("DELETE", "/contact_lists/{id}"): {202, 404},
}


def tour(api, app, clock):
    """Calls each endpoint once the way the console does, and once wrongly."""
    api.get("/v3/account/summary")
    api.get("/v3/account/summary", headers={"Authorization": "Bearer expired"})

    list_id = api.post("/v3/contact_lists", json={"name": "News", "description": "d"}).json()["list_id"]
    api.post("/v3/contact_lists", json={"name": "news"})
    api.post("/v3/contact_lists", json={"name": ""})
    api.get("/v3/contact_lists", params={"limit": 1, "include_count": "true", "include_membership_count": "all"})
    api.get("/v3/contact_lists", params={"limit": 5000})
    api.get(f"/v3/contact_lists/{list_id}", params={"include_membership_count": "active"})
    api.get(f"/v3/contact_lists/{MISSING}")
    api.put(f"/v3/contact_lists/{list_id}", json={"name": "Newsletter", "favorite": True})
    api.put(f"/v3/contact_lists/{list_id}", json={"name": ""})
    api.put(f"/v3/contact_lists/{MISSING}", json={"name": "x"})

    ann = api.post(
        "/v3/contacts",
        json={
            "email_address": {"address": "ann@acme.com", "permission_to_send": "implicit"},
            "first_name": "Ann",
            "last_name": "Lee",
            "job_title": "Owner",
            "company_name": "Acme",
            "create_source": "Account",
            "list_memberships": [list_id],
        },
    ).json()
    api.post("/v3/contacts", json={"email_address": {"address": "ann@acme.com"}, "create_source": "Account"})
    api.post("/v3/contacts", json={"email_address": {"address": "bad"}, "create_source": "Account"})
    api.post("/v3/contacts", content="x", headers={"content-type": "text/plain"})
    bo = api.post("/v3/contacts", json={"email_address": {"address": "bo@acme.com"}, "create_source": "Account"}).json()
    api.get("/v3/contacts", params={"include": "list_memberships,custom_fields", "include_count": "true", "limit": 1})
    api.get("/v3/contacts", params={"status": "all", "lists": list_id, "updated_after": "2026-01-01T00:00:00Z"})
    api.get("/v3/contacts", params={"limit": 501})
    api.post("/_sandbox/faults", json={"server_errors": 1})
    api.get("/v3/contacts")
    api.get(f"/v3/contacts/{ann['contact_id']}", params={"include": "list_memberships"})
    api.get(f"/v3/contacts/{MISSING}")
    body = {
        "email_address": {"address": "ann@acme.com", "permission_to_send": "unsubscribed"},
        "update_source": "Contact",
        "first_name": "Ann",
    }
    api.put(f"/v3/contacts/{ann['contact_id']}", json=body)
    api.put(f"/v3/contacts/{ann['contact_id']}", json={"email_address": {"address": "ann@acme.com"}})
    api.put(f"/v3/contacts/{ann['contact_id']}", json={**body, "email_address": {"address": "bo@acme.com"}})
    api.put(f"/v3/contacts/{MISSING}", json=body)
    api.post("/v3/contacts/sign_up_form", json={"email_address": "cy@acme.com", "list_memberships": [list_id]})
    api.post("/v3/contacts/sign_up_form", json={"email_address": "cy@acme.com", "list_memberships": [list_id]})
    api.post("/v3/contacts/sign_up_form", json={"email_address": "cy@acme.com", "list_memberships": []})
    api.delete(f"/v3/contacts/{bo['contact_id']}")
    api.delete(f"/v3/contacts/{MISSING}")

    imported = api.post(
        "/v3/activities/contacts_json_import",
        json={"import_data": [{"email": "dee@acme.com", "first_name": "Dee"}], "list_ids": [list_id]},
    ).json()
    api.post("/v3/activities/contacts_json_import", json={"import_data": [], "list_ids": [list_id]})
    api.post(
        "/v3/activities/add_list_memberships",
        json={"source": {"contact_ids": [ann["contact_id"]]}, "list_ids": [list_id]},
    )
    api.post("/v3/activities/add_list_memberships", json={"source": {}, "list_ids": [list_id]})
    api.post("/v3/activities/remove_list_memberships", json={"source": {"list_ids": [list_id]}, "list_ids": [list_id]})
    api.post(
        "/v3/activities/remove_list_memberships", json={"source": {"all_active_contacts": True}, "list_ids": [MISSING]}
    )
    api.post("/v3/activities/remove_list_memberships", json={"list_ids": [list_id]})
    api.post("/v3/activities/contact_delete", json={"contact_ids": [bo["contact_id"]]})
    api.post("/v3/activities/contact_delete", json={})
    other = api.post("/v3/contact_lists", json={"name": "Other"}).json()["list_id"]
    api.post("/v3/activities/list_delete", json={"list_ids": [other]})
    api.post("/v3/activities/list_delete", json={"list_ids": []})
    clock.advance(60)
    api.get("/v3/activities", params={"limit": 2})
    api.get("/v3/activities", params={"state": "exploded"})
    api.get(f"/v3/activities/{imported['activity_id']}")
    api.get(f"/v3/activities/{MISSING}")
    api.delete(f"/v3/contact_lists/{list_id}")
    api.delete(f"/v3/contact_lists/{MISSING}")
    # CTCT's cap of 1,000 queued activities per account.
    account = app.state.sandbox.account("demo")
    while account.queued_count() < 1000:
        account.submit("contacts_json_import", {"import_data": [], "list_ids": []}, clock.now + 3600)
    api.post(
        "/v3/activities/contacts_json_import",
        content=json.dumps({"import_data": [{"email": "e@acme.com"}], "list_ids": [account.live_lists()[0].list_id]}),
        headers={"content-type": "application/json"},
    )


def test_every_endpoint_and_documented_error_matches_the_description(openapi_spec, api, app, clock, exchanges):
    tour(api, app, clock)
    seen: dict[tuple[str, str], set[int]] = {}
    for request, response in exchanges.seen:
        path = "/" + "/".join(
            "{id}" if len(part) == 36 and part.count("-") == 4 else part
            for part in request.url.path.removeprefix("/v3/").split("/")
        )
        seen.setdefault((request.method, path), set()).add(response.status_code)
    missing = {key: codes - seen.get(key, set()) for key, codes in EXPECTED.items() if codes - seen.get(key, set())}
    assert missing == {}
    check_contract(exchanges)
