"""/_sandbox/seed: a customer's existing CTCT data, put into an account without API requests."""

from tests.sandbox.conftest import tokens_for

CONTACTS = [
    {
        "email": "Dana@Summit.example",
        "first_name": "Dana",
        "company_name": "Summit Sports Wear",
        "lists": ["Newsletter", "Wholesale Buyers"],
    },
    {"email": "ben@harbor.example", "permission_to_send": "unsubscribed"},
    {"email": "jo@summit.example", "lists": ["newsletter"], "permission_to_send": "explicit"},
]


def contacts_by_email(api) -> dict:
    page = api.get("/v3/contacts", params={"status": "all", "include": "list_memberships", "limit": 500}).json()
    return {contact["email_address"]["address"]: contact for contact in page["contacts"]}


def test_seeded_contacts_and_lists_are_in_the_account_as_ctct_serves_them(api):
    answer = api.post("/_sandbox/seed", json={"contacts": CONTACTS, "lists": ["Spring Promo"]}).json()
    assert answer == {"account": "demo", "lists_created": 3, "contacts_created": 3}
    lists = {item["name"]: item["list_id"] for item in api.get("/v3/contact_lists").json()["lists"]}
    assert set(lists) == {"General Interest", "Newsletter", "Wholesale Buyers", "Spring Promo"}
    contacts = contacts_by_email(api)
    dana = contacts["Dana@Summit.example"]
    assert dana["first_name"] == "Dana" and dana["company_name"] == "Summit Sports Wear"
    assert set(dana["list_memberships"]) == {lists["Newsletter"], lists["Wholesale Buyers"]}
    assert contacts["jo@summit.example"]["list_memberships"] == [lists["Newsletter"]]  # names fold case
    ben = contacts["ben@harbor.example"]["email_address"]
    assert ben["permission_to_send"] == "unsubscribed" and ben["opt_out_source"] == "Contact"
    assert ben["opt_out_date"]  # as a real opt-out has
    assert api.get("/_sandbox/stats").json()["requests_by_endpoint"].get("POST /v3/contacts") is None


def test_a_bad_row_is_named_and_nothing_is_seeded(api):
    bad = [*CONTACTS, {"email": "not-an-email", "lists": ["Another"]}]
    response = api.post("/_sandbox/seed", json={"contacts": bad})
    assert response.status_code == 400
    assert response.json()["error"].startswith("contacts[3].email is not an email address")
    assert [item["name"] for item in api.get("/v3/contact_lists").json()["lists"]] == ["General Interest"]
    assert contacts_by_email(api) == {}


def test_seed_refuses_duplicates_unknown_fields_and_lists_on_unsubscribed(api):
    errors = {
        "contacts[1].email 'A@x.example' is already in the account": [
            {"email": "a@x.example"},
            {"email": "A@x.example"},
        ],
        "contacts[0]: unknown field(s) phone": [{"email": "a@x.example", "phone": "1"}],
        "contacts[0]: an unsubscribed contact is on no list": [
            {"email": "a@x.example", "permission_to_send": "unsubscribed", "lists": ["News"]}
        ],
        "contacts[0].first_name must be at most 50 characters": [{"email": "a@x.example", "first_name": "x" * 51}],
    }
    for message, contacts in errors.items():
        response = api.post("/_sandbox/seed", json={"contacts": contacts})
        assert (response.status_code, response.json()["error"]) == (400, message)
    assert api.post("/_sandbox/seed", json={"contacts": [{"email": "a@x.example"}]}).status_code == 200
    again = api.post("/_sandbox/seed", json={"contacts": [{"email": "a@x.example"}]})
    assert again.json()["error"] == "contacts[0].email 'a@x.example' is already in the account"


def test_seed_goes_to_the_named_account(api, http):
    answer = api.post("/_sandbox/seed", json={"account": "other", "contacts": [{"email": "o@x.example"}]}).json()
    assert answer["account"] == "other"
    assert contacts_by_email(api) == {}
    other = {"Authorization": f"Bearer {tokens_for(http, 'other', 'secret')['access_token']}"}
    page = http.get("/v3/contacts", headers=other).json()
    assert [contact["email_address"]["address"] for contact in page["contacts"]] == ["o@x.example"]
    missing = api.post("/_sandbox/seed", json={"account": "nobody", "contacts": []})
    assert (missing.status_code, missing.json()["error"]) == (400, "account: no sandbox account 'nobody'")


def test_seed_checks_the_limits_and_the_shape_of_the_body(api):
    too_many = [{"email": "a@x.example", "lists": [f"List {number}" for number in range(51)]}]
    cases = [
        ({"contacts": too_many}, "contacts[0]: a contact is on at most 50 lists"),
        ({"contacts": [{"email": "a@x.example", "lists": ["x" * 256]}]}, "contacts[0].lists: list name"),
        ({"contacts": [{"email": "@x.example"}]}, "contacts[0].email is not an email address"),
        ({"contacts": [{"email": "a@b@x.example"}]}, "contacts[0].email is not an email address"),
        ({"contacts": {"email": "a@x.example"}}, "contacts must be a list"),
        ({"account": ["demo"], "contacts": []}, "account: no sandbox account ['demo']"),
    ]
    for body, message in cases:
        response = api.post("/_sandbox/seed", json=body)
        assert response.status_code == 400 and response.json()["error"].startswith(message), body
    not_an_object = api.post("/_sandbox/seed", json=["a@x.example"])
    assert (not_an_object.status_code, not_an_object.json()["error"]) == (
        400,
        "the body must be a JSON object with 'contacts'",
    )
    assert contacts_by_email(api) == {}


def test_a_list_still_being_deleted_is_not_reused_or_half_seeded(api):
    created = api.post("/v3/contact_lists", json={"name": "Old Promo"}).json()
    assert api.delete(f"/v3/contact_lists/{created['list_id']}").status_code == 202  # deleted by an activity
    response = api.post("/_sandbox/seed", json={"contacts": [{"email": "a@x.example", "lists": ["Old Promo"]}]})
    assert response.status_code == 400 and "is being deleted" in response.json()["error"]
    assert contacts_by_email(api) == {}
