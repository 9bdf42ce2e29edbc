"""/v3/contact_lists and /v3/account/summary."""

import pytest

from ctct.sandbox.model import MAX_LISTS


def names(response):
    return [item["name"] for item in response.json()["lists"]]


def complete_activities(api, clock):
    clock.advance(60)
    api.get("/v3/activities")


def test_account_summary(api):
    summary = api.get("/v3/account/summary").json()
    assert summary["organization_name"] == "Demo Company"
    assert summary["contact_email"] == "owner@demo-company.example"


def test_every_new_account_has_general_interest(api):
    response = api.get("/v3/contact_lists", params={"include_count": "true"})
    assert names(response) == ["General Interest"] and response.json()["lists_count"] == 1


def test_create_get_update(api):
    created = api.post("/v3/contact_lists", json={"name": "Apparel Sports Wear", "description": "Seed list"})
    assert created.status_code == 201
    list_id = created.json()["list_id"]
    fetched = api.get(f"/v3/contact_lists/{list_id}", params={"include_membership_count": "all"}).json()
    assert fetched["name"] == "Apparel Sports Wear" and fetched["membership_count"] == 0
    renamed = api.put(f"/v3/contact_lists/{list_id}", json={"name": "Sportswear"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Sportswear"
    assert api.get(f"/v3/contact_lists/{list_id}").json()["name"] == "Sportswear"


def test_names_are_unique(api):
    api.post("/v3/contact_lists", json={"name": "News"})
    clash = api.post("/v3/contact_lists", json={"name": "news"})
    assert clash.status_code == 409 and clash.json()[0]["error_key"] == "contact_lists.api.conflict"
    other = api.post("/v3/contact_lists", json={"name": "Events"}).json()["list_id"]
    rename_clash = api.put(f"/v3/contact_lists/{other}", json={"name": "NEWS"})
    assert rename_clash.status_code == 400 and isinstance(rename_clash.json(), list)


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 256}, {"name": 5}, {"name": "ok", "favorite": "y"}])
def test_invalid_list_bodies(api, body):
    response = api.post("/v3/contact_lists", json=body)
    assert response.status_code == 400
    assert {"error_key", "error_message"} <= set(response.json()[0])


def test_unknown_list_is_404(api):
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.get(f"/v3/contact_lists/{missing}").status_code == 404
    assert api.put(f"/v3/contact_lists/{missing}", json={"name": "x"}).status_code == 404
    assert api.delete(f"/v3/contact_lists/{missing}").status_code == 404


def test_at_most_1000_lists(api, app):
    account = app.state.sandbox.account("demo")
    for number in range(MAX_LISTS - 1):
        account.create_list(f"List {number}", 0)
    refused = api.post("/v3/contact_lists", json={"name": "One too many"})
    assert refused.status_code == 400 and "1000" in refused.json()[0]["error_message"]


def test_paging_follows_next_links_to_the_end(api):
    for number in range(7):
        api.post("/v3/contact_lists", json={"name": f"List {number}"})
    seen, url, params = [], "/v3/contact_lists", {"limit": 3, "include_count": "true"}
    while url:
        page = api.get(url, params=params).json()
        seen += [item["name"] for item in page["lists"]]
        assert page["lists_count"] == 8
        url, params = page.get("_links", {}).get("next", {}).get("href"), None
    assert seen == ["General Interest"] + [f"List {number}" for number in range(7)]


def test_delete_answers_202_with_an_activity_and_completes_later(api, clock):
    list_id = api.post("/v3/contact_lists", json={"name": "Old"}).json()["list_id"]
    deleted = api.delete(f"/v3/contact_lists/{list_id}")
    assert deleted.status_code == 202
    body = deleted.json()
    assert body["state"] == "initialized" and body["_links"]["self"]["href"] == f"/v3/activities/{body['activity_id']}"
    complete_activities(api, clock)
    assert api.get(f"/v3/activities/{body['activity_id']}").json()["state"] == "completed"
    assert api.get(f"/v3/contact_lists/{list_id}").status_code == 404
    assert names(api.get("/v3/contact_lists")) == ["General Interest"]
    deleted_lists = api.get("/v3/contact_lists", params={"status": "deleted"}).json()["lists"]
    assert [item["name"] for item in deleted_lists] == ["Old"] and deleted_lists[0]["deleted_at"]


def test_the_last_list_cannot_be_deleted(api, clock):
    only = api.get("/v3/contact_lists").json()["lists"][0]["list_id"]
    activity = api.delete(f"/v3/contact_lists/{only}").json()
    complete_activities(api, clock)
    result = api.get(f"/v3/activities/{activity['activity_id']}").json()
    assert result["state"] == "failed" and "last list" in result["activity_errors"][0]
    assert names(api.get("/v3/contact_lists")) == ["General Interest"]


def test_membership_counts_all_and_active(api, clock):
    list_id = api.post("/v3/contact_lists", json={"name": "Members"}).json()["list_id"]
    for email in ("a@acme.com", "b@acme.com"):
        api.post(
            "/v3/contacts",
            json={"email_address": {"address": email}, "create_source": "Account", "list_memberships": [list_id]},
        )
    lists = api.get("/v3/contact_lists", params={"include_membership_count": "active"}).json()["lists"]
    assert {item["name"]: item["membership_count"] for item in lists} == {"General Interest": 0, "Members": 2}
    assert api.get("/v3/contact_lists", params={"include_membership_count": "bogus"}).status_code == 400


def test_filter_by_exact_name(api):
    api.post("/v3/contact_lists", json={"name": "News"})
    assert names(api.get("/v3/contact_lists", params={"name": "News"})) == ["News"]
    assert names(api.get("/v3/contact_lists", params={"name": "new"})) == []
