"""/v3/contacts: create, read, update, delete, revive, unsubscribe, sign-up form, paging."""

import pytest


def new_list(api, name="Newsletter"):
    return api.post("/v3/contact_lists", json={"name": name}).json()["list_id"]


def create(api, email, lists=(), **fields):
    body = {"email_address": {"address": email}, "create_source": "Account", "list_memberships": list(lists), **fields}
    response = api.post("/v3/contacts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def put_body(contact, **changes):
    body = {
        "email_address": {"address": contact["email_address"]["address"]},
        "update_source": "Account",
        "first_name": contact.get("first_name"),
        "last_name": contact.get("last_name"),
    }
    # A field without a value is left out: CTCT's description marks nothing nullable.
    return {name: value for name, value in {**body, **changes}.items() if value is not None}


def test_create_and_read(api):
    list_id = new_list(api)
    contact = create(api, "ann@acme.com", [list_id], first_name="Ann", job_title="Owner", company_name="Acme")
    assert contact["email_address"]["permission_to_send"] == "implicit"
    fetched = api.get(f"/v3/contacts/{contact['contact_id']}", params={"include": "list_memberships"}).json()
    assert fetched["list_memberships"] == [list_id] and fetched["company_name"] == "Acme"
    plain = api.get(f"/v3/contacts/{contact['contact_id']}").json()
    assert "list_memberships" not in plain


def test_role_addresses_are_accepted_as_ctct_does(api):
    assert create(api, "info@acme.com")["email_address"]["address"] == "info@acme.com"


@pytest.mark.parametrize(
    "body",
    [
        {"email_address": {"address": "ann@acme.com"}},  # no create_source
        {"email_address": {"address": "not-an-email"}, "create_source": "Account"},
        {"email_address": "ann@acme.com", "create_source": "Account"},
        {"email_address": {"address": "ann@acme.com"}, "create_source": "Account", "first_name": "x" * 51},
        {"email_address": {"address": "ann@acme.com", "permission_to_send": "maybe"}, "create_source": "Account"},
        {"email_address": {"address": "ann@acme.com"}, "create_source": "Account", "list_memberships": ["nope"]},
    ],
)
def test_invalid_contacts_are_400_arrays(api, body):
    response = api.post("/v3/contacts", json=body)
    assert response.status_code == 400 and response.json()[0]["error_key"].startswith("contacts.api")


def test_409_on_an_email_that_exists_in_any_state(api):
    kept = create(api, "ann@acme.com")
    assert (
        api.post(
            "/v3/contacts", json={"email_address": {"address": "ANN@acme.com"}, "create_source": "Account"}
        ).status_code
        == 409
    )
    api.delete(f"/v3/contacts/{kept['contact_id']}")
    again = api.post("/v3/contacts", json={"email_address": {"address": "ann@acme.com"}, "create_source": "Account"})
    assert again.status_code == 409
    assert again.json() == [
        {"error_key": "contacts.api.conflict", "error_message": "Validation failed: EmailAddress is not unique"}
    ]


def test_delete_keeps_the_record_without_memberships(api):
    list_id = new_list(api)
    contact = create(api, "ann@acme.com", [list_id])
    assert api.delete(f"/v3/contacts/{contact['contact_id']}").status_code == 204
    default = api.get("/v3/contacts").json()["contacts"]
    assert default == []
    deleted = api.get("/v3/contacts", params={"status": "deleted", "include": "list_memberships"}).json()["contacts"]
    assert deleted[0]["deleted_at"] == "2026-11-29" and deleted[0]["list_memberships"] == []
    assert deleted[0]["email_address"]["permission_to_send"] == "implicit"  # deleting is not unsubscribing
    assert len(api.get("/v3/contacts", params={"status": "all"}).json()["contacts"]) == 1


def test_put_revives_a_deleted_contact(api):
    list_id = new_list(api)
    contact = create(api, "ann@acme.com", [list_id], first_name="Ann")
    api.delete(f"/v3/contacts/{contact['contact_id']}")
    revived = api.put(f"/v3/contacts/{contact['contact_id']}", json=put_body(contact, list_memberships=[list_id]))
    assert revived.status_code == 200 and "deleted_at" not in revived.json()
    assert revived.json()["list_memberships"] == [list_id]


def test_put_is_a_full_replace_of_core_fields(api):
    contact = create(api, "ann@acme.com", first_name="Ann", job_title="Owner")
    updated = api.put(
        f"/v3/contacts/{contact['contact_id']}",
        json={"email_address": {"address": "ann@acme.com"}, "update_source": "Account", "last_name": "Lee"},
    )
    assert (
        updated.json()["last_name"] == "Lee"
        and "job_title" not in updated.json()
        and "first_name" not in updated.json()
    )


def test_put_changing_to_an_existing_email_is_409(api):
    create(api, "bo@acme.com")
    ann = create(api, "ann@acme.com")
    clash = api.put(f"/v3/contacts/{ann['contact_id']}", json=put_body(ann, email_address={"address": "bo@acme.com"}))
    assert clash.status_code == 409


def test_unsubscribing_clears_memberships_and_records_the_opt_out(api):
    list_id = new_list(api)
    contact = create(api, "tina@acme.com", [list_id], first_name="Tina", last_name="Fey")
    body = put_body(
        contact,
        update_source="Contact",
        email_address={"address": "tina@acme.com", "permission_to_send": "unsubscribed"},
    )
    gone = api.put(f"/v3/contacts/{contact['contact_id']}", json=body).json()
    email = gone["email_address"]
    assert email["permission_to_send"] == "unsubscribed" and email["opt_out_source"] == "Contact"
    assert email["opt_out_date"].startswith("2026-11-29") and gone["list_memberships"] == []
    listed = api.get("/v3/contacts", params={"status": "unsubscribed"}).json()["contacts"]
    assert [item["email_address"]["address"] for item in listed] == ["tina@acme.com"]


def test_the_account_cannot_resubscribe_a_contact_who_opted_out(api):
    list_id = new_list(api)
    contact = create(api, "tina@acme.com", [list_id])
    unsubscribe = put_body(
        contact,
        update_source="Contact",
        email_address={"address": "tina@acme.com", "permission_to_send": "unsubscribed"},
    )
    api.put(f"/v3/contacts/{contact['contact_id']}", json=unsubscribe)
    back = put_body(contact, email_address={"address": "tina@acme.com", "permission_to_send": "implicit"})
    refused = api.put(f"/v3/contacts/{contact['contact_id']}", json=back)
    assert refused.status_code == 400 and refused.json()[0]["error_key"] == "contacts.api.unsubscribed"
    quietly = api.put(f"/v3/contacts/{contact['contact_id']}", json=put_body(contact, list_memberships=[list_id]))
    assert quietly.json()["list_memberships"] == []  # still off every list


def test_sign_up_form_creates_updates_revives_and_resubscribes(api):
    list_id, other = new_list(api), new_list(api, "Events")
    created = api.post(
        "/v3/contacts/sign_up_form",
        json={"email_address": "new@acme.com", "list_memberships": [list_id], "first_name": "New"},
    )
    assert created.status_code == 201 and created.json()["action"] == "created"
    contact_id = created.json()["contact_id"]
    put = put_body(
        {"email_address": {"address": "new@acme.com"}, "first_name": "New"},
        update_source="Contact",
        email_address={"address": "new@acme.com", "permission_to_send": "unsubscribed"},
    )
    api.put(f"/v3/contacts/{contact_id}", json=put)
    api.delete(f"/v3/contacts/{contact_id}")
    updated = api.post("/v3/contacts/sign_up_form", json={"email_address": "new@acme.com", "list_memberships": [other]})
    assert updated.status_code == 200 and updated.json() == {"contact_id": contact_id, "action": "updated"}
    contact = api.get(f"/v3/contacts/{contact_id}", params={"include": "list_memberships"}).json()
    assert contact["email_address"]["permission_to_send"] == "explicit" and "deleted_at" not in contact
    assert contact["list_memberships"] == [other] and contact["first_name"] == "New"
    assert (
        api.post("/v3/contacts/sign_up_form", json={"email_address": "x@acme.com", "list_memberships": []}).status_code
        == 400
    )


def test_filters_email_lists_updated_after_and_include_count(api, clock):
    one, two = new_list(api, "One"), new_list(api, "Two")
    create(api, "a@acme.com", [one])
    create(api, "b@acme.com", [two])
    clock.advance(3600)
    create(api, "c@acme.com", [one, two])
    by_list = api.get("/v3/contacts", params={"lists": one, "include_count": "true"}).json()
    assert [c["email_address"]["address"] for c in by_list["contacts"]] == ["a@acme.com", "c@acme.com"]
    assert by_list["contacts_count"] == 2
    recent = api.get("/v3/contacts", params={"updated_after": "2026-11-29T12:30:00Z"}).json()["contacts"]
    assert [c["email_address"]["address"] for c in recent] == ["c@acme.com"]
    exact = api.get("/v3/contacts", params={"email": "B@acme.com"}).json()["contacts"]
    assert [c["email_address"]["address"] for c in exact] == ["b@acme.com"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "501"},
        {"limit": "0"},
        {"limit": "x"},
        {"include": "everything"},
        {"status": "gone"},
        {"updated_after": "yesterday"},
        {"cursor": "garbage!"},
    ],
)
def test_bad_queries_are_400(api, params):
    assert api.get("/v3/contacts", params=params).status_code == 400


def test_paging_500_at_a_time_without_duplicates(api, app, clock):
    account = app.state.sandbox.account("demo")
    for number in range(1203):
        account.new_contact(f"p{number}@acme.com", clock.now, "Account", "implicit")
    emails, url, params = [], "/v3/contacts", {"limit": 500, "include": "list_memberships"}
    pages = 0
    while url:
        page = api.get(url, params=params).json()
        pages += 1
        emails += [c["email_address"]["address"] for c in page["contacts"]]
        url, params = page.get("_links", {}).get("next", {}).get("href"), None
    assert pages == 3 and len(emails) == len(set(emails)) == 1203


def test_unknown_contact_is_404(api):
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.get(f"/v3/contacts/{missing}").status_code == 404
    assert api.delete(f"/v3/contacts/{missing}").status_code == 404
    assert (
        api.put(
            f"/v3/contacts/{missing}", json={"email_address": {"address": "a@b.co"}, "update_source": "Account"}
        ).status_code
        == 404
    )
