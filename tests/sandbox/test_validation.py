"""Scopes per route, requests checked against the OpenAPI description before the sandbox acts on
them, what the sandbox does not emulate (501), and a model that survives any activity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctct.sandbox import create_app
from ctct.sandbox.app import ROUTES_V3, not_emulated_operations
from ctct.sandbox.inprocess import SandboxTransport
from ctct.sandbox.model import ACTIVITY_ADD
from ctct.sandbox.validation import RULES_FILE, derive_rules, load_fragments, operations, with_fragments
from tests.sandbox.conftest import assert_ctct_error, tokens_for
from tests.sandbox.openapi_contract import OPENAPI_FILE

SOMEONE = "11111111-1111-4111-8111-111111111111"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def bearer(http, scope):
    return {"Authorization": f"Bearer {tokens_for(http, scope=scope)['access_token']}"}


def finish(api, clock, seconds=30):
    clock.advance(seconds)
    return api.get("/v3/activities").json()["activities"]


def default_list(api):
    return api.get("/v3/contact_lists").json()["lists"][0]["list_id"]


def concrete(path):
    return path.replace("{list_id}", SOMEONE).replace("{contact_id}", SOMEONE).replace("{activity_id}", SOMEONE)


# The rules are the reference description's


def test_the_packaged_rules_are_derived_from_the_reference_description(openapi_spec):
    with OPENAPI_FILE.open(encoding="utf-8") as stream:
        derived = derive_rules(with_fragments(yaml.safe_load(stream), load_fragments()))
    packaged = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    assert packaged == json.loads(json.dumps(derived)), (
        "spec_requests.json is stale: python -m ctct.sandbox.validation ../shared/reference/ctct-v3-openapi.yaml"
    )


# 1. Scopes per route, from the description's `security`


def test_the_account_summary_needs_account_read(http):
    headers = bearer(http, "contact_data offline_access")
    refused = http.get("/v3/account/summary", headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {
        "error_key": "forbidden",
        "error_message": "The access token lacks the account_read scope",
    }
    assert http.get("/v3/contacts", headers=headers).status_code == 200


def test_contacts_lists_and_activities_need_contact_data(http):
    headers = bearer(http, "account_read")
    for path in ("/v3/contacts", "/v3/contact_lists", "/v3/activities"):
        refused = http.get(path, headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {
            "error_key": "forbidden",
            "error_message": "The access token lacks the contact_data scope",
        }
    assert http.get("/v3/account/summary", headers=headers).status_code == 200


@pytest.mark.parametrize(("method", "path"), sorted(operations()))
def test_every_operation_of_the_description_checks_its_scopes(http, method, path):
    response = http.request(method, f"/v3{concrete(path)}", headers=bearer(http, "offline_access"), json={})
    assert response.status_code == 403, response.text
    assert response.json()["error_key"] == "forbidden"


# 2. Requests are checked against the description before anything is done


def test_an_exclude_that_is_no_object_is_400_and_the_account_keeps_answering(api, clock):
    list_id = default_list(api)
    for exclude, field in (([1], "exclude"), ({"contact_ids": [{}]}, "exclude.contact_ids[0]")):
        body = {"source": {"all_active_contacts": True}, "exclude": exclude, "list_ids": [list_id]}
        refused = api.post("/v3/activities/add_list_memberships", json=body)
        assert refused.status_code == 400, refused.text
        [error] = refused.json()
        assert error["error_key"] == "activities.api.validation.error" and error["error_message"].startswith(field)
    assert finish(api, clock) == []  # nothing was queued
    assert api.get("/v3/contacts").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"create_source": {}}, "create_source"),
        ({"create_source": "Robot"}, "create_source"),
        ({"email_address": {"address": "ann@acme.com", "permission_to_send": []}}, "email_address.permission_to_send"),
        ({"email_address": {"address": ["ann@acme.com"]}}, "email_address.address"),
        ({"email_address": {"address": "a" * 80 + "@acme.com"}}, "email_address.address"),
        ({"first_name": 5}, "first_name"),
        ({"list_memberships": "everyone"}, "list_memberships"),
        ({"list_memberships": ["not-a-uuid"]}, "list_memberships[0]"),
        ({"birthday_month": "May"}, "birthday_month"),
        ({"street_addresses": [{"city": "Boston"}]}, "street_addresses[0].kind"),
    ],
)
def test_a_wrongly_typed_contact_is_400_naming_the_field(api, change, field):
    body = {"email_address": {"address": "ann@acme.com"}, "create_source": "Account", **change}
    refused = api.post("/v3/contacts", json=body)
    assert refused.status_code == 400, refused.text
    [error] = refused.json()
    assert error["error_key"] == "contacts.api.validation.error" and field in error["error_message"]
    assert api.get("/v3/contacts", params={"status": "all"}).json()["contacts"] == []  # nothing stored


def test_a_put_with_a_wrongly_typed_update_source_is_400(api):
    ann = api.post("/v3/contacts", json={"email_address": {"address": "ann@acme.com"}, "create_source": "Account"})
    contact_id = ann.json()["contact_id"]
    body = {"email_address": {"address": "ann@acme.com"}, "update_source": []}
    refused = api.put(f"/v3/contacts/{contact_id}", json=body)
    assert refused.status_code == 400 and refused.json()[0]["error_message"].startswith("update_source")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v3/contacts", {"limit": "1.5"}, "limit"),
        ("/v3/contacts", {"include_count": "yes"}, "include_count"),
        ("/v3/contacts", {"status": "active,gone"}, "status"),
        ("/v3/contacts", {"lists": ",".join([SOMEONE] * 26)}, "lists"),
        ("/v3/contacts", {"created_before": "2026-13-01T00:00:00Z"}, "created_before"),
        ("/v3/contact_lists", {"include_membership_count": "some"}, "include_membership_count"),
        ("/v3/contact_lists", {"status": "gone"}, "status"),
        ("/v3/activities", {"limit": "0"}, "limit"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(api, path, params, field):
    refused = api.get(path, params=params)
    assert refused.status_code == 400, refused.text
    assert refused.json()[0]["error_message"].startswith(field)


def test_a_list_id_that_cannot_exist_is_not_found(api):
    refused = api.get("/v3/contact_lists/not-a-list")
    assert refused.status_code == 404
    assert refused.json() == [
        {"error_key": "contact_lists.api.not_found", "error_message": "list_id must be a UUID, not 'not-a-list'"}
    ]


def test_comma_separated_list_statuses_stay_accepted(api):
    # The description types `status` of /contact_lists as one value but says it "accepts comma-separated values".
    assert api.get("/v3/contact_lists", params={"status": "active,deleted"}).status_code == 200


def test_deeply_nested_json_is_a_400_not_a_crash(api):
    response = api.post("/v3/contacts", content="[" * 100_000, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()[0]["error_key"] == "malformed_json"


def test_an_activity_the_model_cannot_run_fails_as_an_activity(api, app, clock):
    # As a state file written before requests were checked may hold.
    account = app.state.sandbox.account("demo")
    poisoned = account.submit(
        ACTIVITY_ADD,
        {"source": {"all_active_contacts": True}, "exclude": [1], "list_ids": [default_list(api)]},
        clock.now,
    )
    finish(api, clock)
    failed = api.get(f"/v3/activities/{poisoned.activity_id}").json()
    assert failed["state"] == "failed" and failed["percent_done"] == 100
    assert "could not run this activity" in failed["activity_errors"][0]
    assert api.get("/v3/contacts").status_code == 200


def test_a_poisoned_state_file_does_not_break_the_account_after_a_restart(sandbox_config, clock, tmp_path):
    sandbox_config.state_file = tmp_path / "sandbox.json"
    first = create_app(sandbox_config)
    account = first.state.sandbox.account("demo")
    list_id = account.live_lists()[0].list_id
    bad = {"source": {"all_active_contacts": True}, "exclude": {"contact_ids": [{}]}, "list_ids": [list_id]}
    poisoned = account.submit(ACTIVITY_ADD, bad, clock.now)
    first.state.sandbox.save()
    transport = SandboxTransport(create_app(sandbox_config))
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        client.headers["Authorization"] = f"Bearer {tokens_for(client)['access_token']}"
        clock.advance(30)
        assert client.get("/v3/contacts").status_code == 200
        assert client.get(f"/v3/activities/{poisoned.activity_id}").json()["state"] == "failed"
    transport.close()


# 3. Import rows are checked as POST /contacts checks a contact, with the import's limits


def test_bad_import_rows_are_reported_by_the_activity_never_cut_to_fit(api, clock):
    list_id = default_list(api)
    rows = [
        {"email": "not an @ email"},
        {"email": "two@@x.com"},
        {"email": "a" * 90 + "@acme.com"},  # 99 characters: longer than an import's 50
        {"email": "a" * 42 + "@acme.com"},  # 51 characters: POST /contacts takes it, an import does not
        {"email": "long@acme.com", "first_name": "x" * 60},
        {"email": "good@acme.com", "first_name": "Good"},
    ]
    activity_id = api.post("/v3/activities/contacts_json_import", json={"import_data": rows, "list_ids": [list_id]})
    finish(api, clock)
    done = api.get(f"/v3/activities/{activity_id.json()['activity_id']}").json()
    assert done["state"] == "completed"
    # The description counts an invalid address format as a correctable error, a too-long value not.
    assert done["status"] == {
        "items_total_count": 6,
        "person_count": 1,
        "error_count": 3,
        "correctable_count": 2,
        "cannot_add_to_list_count": 0,
    }
    errors = done["activity_errors"]
    assert errors[0].startswith("Row 1 (import_data[0]): email 'not an @ email' is not a valid")
    assert errors[1].startswith("Row 2 (import_data[1]): email 'two@@x.com'")
    assert errors[2] == "Row 3 (import_data[2]): email must be at most 50 characters long, not 99"
    assert errors[3] == "Row 4 (import_data[3]): email must be at most 50 characters long, not 51"
    assert errors[4] == "Row 5 (import_data[4]): first_name must be at most 50 characters long, not 60"
    listed = api.get("/v3/contacts", params={"status": "all"}).json()["contacts"]  # contract-checked (≤ 80)
    assert [contact["email_address"]["address"] for contact in listed] == ["good@acme.com"]


def test_the_51_to_80_character_addresses_an_import_refuses_post_contacts_takes(api):
    address = "a" * 70 + "@acme.com"  # 79
    created = api.post("/v3/contacts", json={"email_address": {"address": address}, "create_source": "Account"})
    assert created.status_code == 201 and created.json()["email_address"]["address"] == address


def test_import_rows_of_the_wrong_type_are_400_naming_row_and_field(api):
    rows = [{"email": "a@acme.com"}, {"email": "b@acme.com", "birthday_month": "May"}]
    refused = api.post(
        "/v3/activities/contacts_json_import", json={"import_data": rows, "list_ids": [default_list(api)]}
    )
    assert refused.status_code == 400
    assert refused.json()[0]["error_message"] == "import_data[1].birthday_month must be an integer"


def test_more_than_25_custom_fields_in_a_row_are_a_row_error(api, clock):
    row = {"email": "cf@acme.com", **{f"cf:field{n}": "x" for n in range(26)}}
    created = api.post(
        "/v3/activities/contacts_json_import", json={"import_data": [row], "list_ids": [default_list(api)]}
    ).json()
    finish(api, clock)
    done = api.get(f"/v3/activities/{created['activity_id']}").json()
    assert done["status"]["error_count"] == 1 and "25 custom fields" in done["activity_errors"][0]


# 4. No unsubscribed contact is re-subscribed or put back on a list by an import


@pytest.mark.parametrize("source", ["Account", "Contact"])
def test_an_import_never_resubscribes_nor_relists_an_unsubscribed_contact(api, clock, source):
    list_id = api.post("/v3/contact_lists", json={"name": "Campaign"}).json()["list_id"]
    tina = api.post(
        "/v3/contacts",
        json={"email_address": {"address": "tina@acme.com"}, "create_source": "Account", "list_memberships": [list_id]},
    ).json()
    unsubscribe = {
        "email_address": {"address": "tina@acme.com", "permission_to_send": "unsubscribed"},
        "update_source": source,
    }
    api.put(f"/v3/contacts/{tina['contact_id']}", json=unsubscribe)
    rows = [{"email": "TINA@acme.com", "first_name": "Tina"}, {"email": "bo@acme.com"}]
    created = api.post("/v3/activities/contacts_json_import", json={"import_data": rows, "list_ids": [list_id]}).json()
    finish(api, clock)
    status = api.get(f"/v3/activities/{created['activity_id']}").json()["status"]
    assert status["cannot_add_to_list_count"] == 1 and status["person_count"] == 2
    after = api.get(f"/v3/contacts/{tina['contact_id']}", params={"include": "list_memberships"}).json()
    email = after["email_address"]
    assert email["permission_to_send"] == "unsubscribed" and email["opt_out_source"] == source
    assert after["list_memberships"] == [] and after["first_name"] == "Tina"  # its fields are still updated


def test_an_add_puts_no_unsubscribed_contact_back_on_a_list(api, clock):
    list_id = api.post("/v3/contact_lists", json={"name": "Campaign"}).json()["list_id"]
    ids = {}
    for email, source in (("self@acme.com", "Contact"), ("account@acme.com", "Account")):
        contact = api.post("/v3/contacts", json={"email_address": {"address": email}, "create_source": "Account"})
        ids[source] = contact.json()["contact_id"]
        api.put(
            f"/v3/contacts/{ids[source]}",
            json={"email_address": {"address": email, "permission_to_send": "unsubscribed"}, "update_source": source},
        )
    for body in (
        {"source": {"contact_ids": list(ids.values())}, "list_ids": [list_id]},
        {"source": {"all_active_contacts": True}, "list_ids": [list_id]},
    ):
        added = api.post("/v3/activities/add_list_memberships", json=body).json()
        finish(api, clock)
        assert api.get(f"/v3/activities/{added['activity_id']}").json()["status"]["cannot_add_to_list_count"] == 2
    for contact_id in ids.values():
        after = api.get(f"/v3/contacts/{contact_id}", params={"include": "list_memberships"}).json()
        assert after["email_address"]["permission_to_send"] == "unsubscribed" and after["list_memberships"] == []
    # Re-subscribed by the account (allowed: the account opted them out), the contact can be added back.
    back = {
        "email_address": {"address": "account@acme.com", "permission_to_send": "implicit"},
        "update_source": "Account",
    }
    api.put(f"/v3/contacts/{ids['Account']}", json=back)
    api.post(
        "/v3/activities/add_list_memberships", json={"source": {"contact_ids": [ids["Account"]]}, "list_ids": [list_id]}
    )
    finish(api, clock)
    assert api.get("/v3/contacts", params={"lists": list_id}).json()["contacts"][0]["contact_id"] == ids["Account"]


# 5. What the sandbox does not emulate answers 501, after the token and the rate limit


@pytest.mark.parametrize(("method", "path"), not_emulated_operations())
def test_operations_of_the_description_the_sandbox_does_not_serve_are_501(http, api, method, path):
    assert http.request(method, concrete(path), headers={"Authorization": "Bearer forged"}).status_code == 401
    response = api.request(method, concrete(path), json={"list_ids": [SOMEONE]})
    assert response.status_code == 501, response.text
    [error] = response.json()
    assert error["error_key"] == "sandbox.not_emulated" and path.split("/{")[0] in error["error_message"]


def test_the_unserved_operations_are_the_counts_and_the_resubscribe_email():
    assert not_emulated_operations() == [
        ("GET", "/v3/contacts/counts"),
        ("PUT", "/v3/contacts/resubscribe/{contact_id}"),
    ]
    served = {(route.method, route.spec_path) for route in ROUTES_V3}
    assert served | {(method, path.removeprefix("/v3")) for method, path in not_emulated_operations()} == set(
        operations()
    )


def test_contact_counts_are_not_mistaken_for_a_contact(api):
    counts = api.get("/v3/contacts/counts")
    assert counts.status_code == 501 and "/v3/contacts/counts" in counts.json()[0]["error_message"]


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/v3/contacts", {"tags": SOMEONE}, "tags"),
        ("/v3/contacts", {"segment_id": "14"}, "segment_id"),
        ("/v3/contacts", {"sms_status": "all"}, "sms_status"),
        ("/v3/contacts", {"status": "all", "tags": SOMEONE, "sms_status": "explicit"}, "sms_status, tags"),
        ("/v3/account/summary", {"extra_fields": "physical_address"}, "extra_fields"),
        ("/v3/contact_lists", {"channel_type": "sms"}, "channel_type"),
        ("/v3/contact_lists", {"include_sms_membership_count": "true"}, "include_sms_membership_count"),
    ],
)
def test_query_parameters_the_sandbox_does_not_implement_are_501(api, path, params, named):
    response = api.get(path, params=params)
    assert response.status_code == 501, response.text
    assert response.json()[0]["error_key"] == "sandbox.not_emulated"
    assert f"parameter(s) {named} of GET {path}" in response.json()[0]["error_message"]


def test_a_parameter_at_the_value_the_sandbox_does_anyway_is_accepted(api):
    params = {"channel_type": "email", "include_sms_membership_count": "false"}
    assert api.get("/v3/contact_lists", params=params).status_code == 200


def test_not_emulated_answers_come_after_the_rate_limit(api, clock):
    clock.advance(5)
    hooks, api.event_hooks["request"] = api.event_hooks["request"], []
    statuses = [api.get("/v3/contacts/counts").status_code for _ in range(5)]
    api.event_hooks["request"] = hooks
    assert statuses == [501, 501, 501, 501, 429]


def test_paths_outside_the_description_are_404_after_the_token(http, api):
    forged = {"Authorization": "Bearer forged"}
    assert http.get("/v3/nowhere", headers=forged).status_code == 401
    assert http.delete("/v3/contacts", headers=forged).status_code == 401
    missing = api.get("/v3/nowhere")
    assert missing.status_code == 404 and missing.json()[0]["error_key"] == "not_found"
    wrong_method = api.delete("/v3/contacts")
    assert wrong_method.status_code == 405 and wrong_method.json()[0]["error_key"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET, POST"
    assert api.delete("/v3/contacts/counts").headers["allow"] == "GET"  # not the methods of a contact
    # A described literal path wins over a template, as in OpenAPI's path matching: not an activity id.
    not_an_activity = api.get("/v3/activities/contacts_json_import")
    assert not_an_activity.status_code == 405 and not_an_activity.headers["allow"] == "POST"


def test_the_docs_list_what_answers_501(openapi_spec):
    text = DOCS.read_text(encoding="utf-8")
    for method, path in not_emulated_operations():
        assert f"`{method} {path.removeprefix('/v3')}`" in text
    for name in ("segment_id", "tags", "sms_status", "extra_fields", "channel_type", "include_sms_membership_count"):
        assert f"`{name}`" in text


# 6. A contact may have no email, as CTCT allows


def test_a_contact_with_a_name_and_no_email(api):
    created = api.post("/v3/contacts", json={"first_name": "Nameonly", "create_source": "Contact"})
    assert created.status_code == 201, created.text
    contact = created.json()
    assert "email_address" not in contact and contact["first_name"] == "Nameonly"
    api.post("/v3/contacts", json={"email_address": {"address": "ann@acme.com"}, "create_source": "Account"})
    listed = api.get("/v3/contacts", params={"include_count": "true"}).json()
    assert [item.get("first_name") for item in listed["contacts"]] == ["Nameonly", None]
    assert listed["contacts_count"] == 2
    by_email = api.get("/v3/contacts", params={"email": "ann@acme.com"}).json()["contacts"]
    assert [item["email_address"]["address"] for item in by_email] == ["ann@acme.com"]
    body = {"email_address": {"address": "later@acme.com"}, "update_source": "Account", "first_name": "Nameonly"}
    updated = api.put(f"/v3/contacts/{contact['contact_id']}", json=body).json()
    assert updated["email_address"]["address"] == "later@acme.com"
    assert updated["email_address"]["permission_to_send"] == "implicit"
    found = api.get("/v3/contacts", params={"email": "later@acme.com"}).json()["contacts"]
    assert [item["contact_id"] for item in found] == [contact["contact_id"]]


def test_a_contact_needs_a_name_an_email_or_an_sms_channel(api):
    refused = api.post("/v3/contacts", json={"create_source": "Account", "job_title": "Owner"})
    assert refused.status_code == 400 and "at least one of" in refused.json()[0]["error_message"]
    sms = {"create_source": "Account", "sms_channel": {"full_sms_address": "17815551212", "sms_channel_consents": []}}
    assert api.post("/v3/contacts", json=sms).status_code == 501


def test_contacts_without_an_email_survive_a_restart(sandbox_config, clock, tmp_path):
    sandbox_config.state_file = tmp_path / "sandbox.json"
    first = create_app(sandbox_config)
    account = first.state.sandbox.account("demo")
    nameless = account.new_contact(None, clock.now, "Account", "not_set")
    nameless.first_name = "Solo"
    first.state.sandbox.save()
    restarted = create_app(sandbox_config).state.sandbox.account("demo")
    assert restarted.contacts[nameless.contact_id].email is None and restarted.by_email == {}


def test_every_answer_to_a_request_of_the_wrong_shape_is_a_ctct_error(api):
    for response in (
        api.post("/v3/contacts", json=[]),
        api.post("/v3/activities/contact_delete", json={"contact_ids": "all"}),
        api.put(f"/v3/contact_lists/{default_list(api)}", json={"name": None}),
    ):
        assert response.status_code == 400, response.text
        assert_ctct_error(response)


def test_the_sandbox_grant_lookup_is_what_scopes_are_checked_on(http, app, monkeypatch):
    # The per-route check reads the scopes of the grant the token store returns, whatever the token format.
    tokens = app.state.sandbox.tokens
    headers = bearer(http, "account_read contact_data")
    looked_up = tokens.grant_for
    monkeypatch.setattr(tokens, "grant_for", lambda *a: dataclasses.replace(looked_up(*a), scope="contact_data"))
    assert http.get("/v3/account/summary", headers=headers).status_code == 403
    assert http.get("/v3/contacts", headers=headers).status_code == 200


# Wrongly typed JSON, thrown at the create and activity endpoints


def _json_values() -> st.SearchStrategy:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    return st.recursive(
        scalars | st.text(max_size=12),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=6,
    )


def _positions(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _positions(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _positions(child, (*prefix, index))


def _replaced(value, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def _bodies(api, number):
    """For each endpoint, a valid body (unique where it must be) and where to send it."""
    list_id = default_list(api)
    contact = api.post(
        "/v3/contacts", json={"email_address": {"address": f"base{number}@acme.com"}, "create_source": "Account"}
    ).json()
    other = contact["contact_id"]
    person = {"first_name": "Ann", "job_title": "Owner", "list_memberships": [list_id]}
    return {
        "create_contact": (
            "POST",
            "/v3/contacts",
            {
                "email_address": {"address": f"new{number}@acme.com", "permission_to_send": "implicit"},
                "create_source": "Account",
                "street_addresses": [{"kind": "home", "city": "Boston"}],
                **person,
            },
        ),
        "update_contact": (
            "PUT",
            f"/v3/contacts/{other}",
            {"email_address": {"address": f"base{number}@acme.com"}, "update_source": "Account", **person},
        ),
        "sign_up_form": (
            "POST",
            "/v3/contacts/sign_up_form",
            {"email_address": f"form{number}@acme.com", "list_memberships": [list_id], "first_name": "Fay"},
        ),
        "create_list": ("POST", "/v3/contact_lists", {"name": f"List {number}", "description": "d", "favorite": True}),
        "import": (
            "POST",
            "/v3/activities/contacts_json_import",
            {
                "import_data": [
                    {"email": f"row{number}@acme.com", "first_name": "Row", "birthday_month": 5, "cf:x": "y"}
                ],
                "list_ids": [list_id],
            },
        ),
        "add": (
            "POST",
            "/v3/activities/add_list_memberships",
            {"source": {"all_active_contacts": True}, "exclude": {"contact_ids": [other]}, "list_ids": [list_id]},
        ),
        "remove": (
            "POST",
            "/v3/activities/remove_list_memberships",
            {"source": {"contact_ids": [other]}, "list_ids": [list_id]},
        ),
        "contact_delete": ("POST", "/v3/activities/contact_delete", {"contact_ids": [other]}),
    }


@pytest.mark.parametrize(
    "endpoint",
    ["create_contact", "update_contact", "sign_up_form", "create_list", "import", "add", "remove", "contact_delete"],
)
@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_wrongly_typed_json_is_a_400_naming_the_field_or_is_taken_never_a_500(api, clock, endpoint, data):
    number = clock.now  # unique per example: the account keeps what earlier examples created
    method, path, body = _bodies(api, str(number).replace(".", "-"))[endpoint]
    where = data.draw(st.sampled_from(list(_positions(body))), label="where")
    sent = _replaced(body, where, data.draw(_json_values(), label="value"))
    response = api.request(method, path, content=json.dumps(sent), headers={"content-type": "application/json"})
    assert response.status_code in {200, 201, 202, 400, 404, 409, 501}, response.text
    if response.status_code == 400:
        [error] = response.json()
        # The field changed, or — when the whole body was replaced — a field the body needs, one of
        # the new body's own fields (a null one, say), or the body.
        top = next((step for step in where if isinstance(step, str)), None)
        named = {top} if top else {*body, *(sent if isinstance(sent, dict) else ()), "body"}
        assert any(name in error["error_message"] for name in named), (where, error)
    clock.advance(3)  # whatever was queued runs now, on the next request
    assert api.get("/v3/contacts", params={"status": "all", "limit": 500}).status_code == 200
    activities = api.get("/v3/activities", params={"limit": 5}).json()["activities"]
    assert all(activity["state"] in {"completed", "failed", "processing", "initialized"} for activity in activities)
