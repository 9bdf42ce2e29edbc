"""Bulk activities: import, membership adds and removes, deletes; queueing and progress."""

import json

import pytest

from ctct.sandbox.api import MAX_IMPORT_CONTACTS

# A well-formed contact id of no contact: each case below breaks one rule, not the id format.
SOMEONE = "11111111-1111-4111-8111-111111111111"


def new_list(api, name):
    return api.post("/v3/contact_lists", json={"name": name}).json()["list_id"]


def activity(api, activity_id):
    return api.get(f"/v3/activities/{activity_id}").json()


def finish(api, clock, seconds=30):
    clock.advance(seconds)
    api.get("/v3/activities")


def members(api, list_id):
    page = api.get("/v3/contacts", params={"lists": list_id, "limit": 500}).json()["contacts"]
    return sorted(contact["email_address"]["address"] for contact in page)


def import_rows(api, rows, list_ids):
    response = api.post("/v3/activities/contacts_json_import", json={"import_data": rows, "list_ids": list_ids})
    assert response.status_code == 201, response.text
    return response.json()["activity_id"]


def test_import_progresses_then_completes_with_counts(api, clock):
    list_id = new_list(api, "Imported")
    activity_id = import_rows(
        api, [{"email": f"p{n}@acme.com", "first_name": "P", "company_name": "Acme"} for n in range(3)], [list_id]
    )
    assert activity(api, activity_id)["state"] == "processing"  # 0.26 s later: started, not done
    clock.advance(0.8)
    running = activity(api, activity_id)
    assert running["state"] == "processing" and 1 <= running["percent_done"] < 100
    finish(api, clock)
    done = activity(api, activity_id)
    assert done["state"] == "completed" and done["percent_done"] == 100 and done["completed_at"]
    assert done["status"] == {
        "items_total_count": 3,
        "person_count": 3,
        "error_count": 0,
        "correctable_count": 0,
        "cannot_add_to_list_count": 0,
    }
    assert members(api, list_id) == ["p0@acme.com", "p1@acme.com", "p2@acme.com"]


def test_one_activity_at_a_time_the_second_waits_queued(api, clock):
    list_id = new_list(api, "Queue")
    first = import_rows(api, [{"email": "a@acme.com"}], [list_id])
    second = import_rows(api, [{"email": "b@acme.com"}], [list_id])
    assert activity(api, first)["state"] == "processing"
    waiting = activity(api, second)
    assert waiting["state"] == "initialized" and waiting["percent_done"] == 0
    clock.advance(2)
    assert activity(api, first)["state"] == "completed"
    assert activity(api, second)["state"] == "processing"
    finish(api, clock)
    listed = api.get("/v3/activities").json()["activities"]
    assert [item["activity_id"] for item in listed[:2]] == [second, first]  # newest first
    assert api.get("/v3/activities", params={"state": "completed"}).json()["activities"][0]["state"] == "completed"


def test_import_updates_existing_contacts_partially_and_revives_deleted_ones(api, clock):
    list_id = new_list(api, "Imported")
    existing = api.post(
        "/v3/contacts",
        json={
            "email_address": {"address": "ann@acme.com"},
            "create_source": "Account",
            "first_name": "Ann",
            "job_title": "Owner",
        },
    ).json()
    api.delete(f"/v3/contacts/{existing['contact_id']}")
    import_rows(api, [{"email": "ANN@acme.com", "last_name": "Lee"}], [list_id])
    finish(api, clock)
    ann = api.get(f"/v3/contacts/{existing['contact_id']}", params={"include": "list_memberships"}).json()
    assert (ann["first_name"], ann["last_name"], ann["job_title"]) == ("Ann", "Lee", "Owner")
    assert "deleted_at" not in ann and ann["list_memberships"] == [list_id]


def test_imports_and_adds_skip_contacts_who_unsubscribed_themselves(api, clock):
    list_id = new_list(api, "Campaign")
    tina = api.post(
        "/v3/contacts", json={"email_address": {"address": "tina@acme.com"}, "create_source": "Account"}
    ).json()
    api.put(
        f"/v3/contacts/{tina['contact_id']}",
        json={
            "email_address": {"address": "tina@acme.com", "permission_to_send": "unsubscribed"},
            "update_source": "Contact",
        },
    )
    imported = import_rows(api, [{"email": "tina@acme.com"}, {"email": "bo@acme.com"}], [list_id])
    added = api.post(
        "/v3/activities/add_list_memberships",
        json={"source": {"contact_ids": [tina["contact_id"]]}, "list_ids": [list_id]},
    ).json()["activity_id"]
    finish(api, clock)
    assert activity(api, imported)["status"]["cannot_add_to_list_count"] == 1
    assert activity(api, added)["status"]["cannot_add_to_list_count"] == 1
    assert members(api, list_id) == ["bo@acme.com"]


def test_add_and_remove_memberships_by_contact_ids_and_by_list(api, clock):
    source, target = new_list(api, "Source"), new_list(api, "Target")
    import_rows(api, [{"email": f"p{n}@acme.com"} for n in range(4)], [source])
    finish(api, clock)
    ids = [c["contact_id"] for c in api.get("/v3/contacts", params={"lists": source}).json()["contacts"]]
    added = api.post(
        "/v3/activities/add_list_memberships",
        json={"source": {"list_ids": [source]}, "exclude": {"contact_ids": ids[:1]}, "list_ids": [target]},
    ).json()
    finish(api, clock)
    assert activity(api, added["activity_id"])["status"]["items_completed_count"] == 3
    assert members(api, target) == ["p1@acme.com", "p2@acme.com", "p3@acme.com"]
    api.post("/v3/activities/remove_list_memberships", json={"source": {"contact_ids": ids[1:3]}, "list_ids": [target]})
    finish(api, clock)
    assert members(api, target) == ["p3@acme.com"]


def test_contact_delete_activity(api, clock):
    list_id = new_list(api, "Doomed")
    import_rows(api, [{"email": "a@acme.com"}, {"email": "b@acme.com"}], [list_id])
    finish(api, clock)
    deleted = api.post("/v3/activities/contact_delete", json={"list_ids": [list_id]}).json()
    finish(api, clock)
    assert activity(api, deleted["activity_id"])["status"]["items_completed_count"] == 2
    assert api.get("/v3/contacts").json()["contacts"] == []
    assert (
        api.post("/v3/activities/contact_delete", json={"list_ids": [list_id], "contact_ids": ["x"]}).status_code == 400
    )


def test_list_delete_activity(api, clock):
    doomed = [new_list(api, f"L{n}") for n in range(3)]
    response = api.post("/v3/activities/list_delete", json={"list_ids": doomed})
    assert response.status_code == 201
    finish(api, clock)
    assert activity(api, response.json()["activity_id"])["status"] == {"list_count": 3}
    assert [item["name"] for item in api.get("/v3/contact_lists").json()["lists"]] == ["General Interest"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v3/activities/contacts_json_import", {"import_data": [{"email": "a@b.co"}]}, 400),
        ("/v3/activities/contacts_json_import", {"import_data": [], "list_ids": ["L"]}, 400),
        ("/v3/activities/contacts_json_import", {"import_data": [{"first_name": "x"}], "list_ids": ["L"]}, 400),
        ("/v3/activities/add_list_memberships", {"source": {"contact_ids": [SOMEONE] * 501}, "list_ids": ["L"]}, 400),
        ("/v3/activities/add_list_memberships", {"source": {}, "list_ids": ["L"]}, 400),
        ("/v3/activities/add_list_memberships", {"source": {"contact_ids": [SOMEONE]}, "list_ids": ["L"] * 51}, 400),
        (
            "/v3/activities/add_list_memberships",
            {"source": {"contact_ids": [SOMEONE]}, "list_ids": ["00000000-0000-4000-8000-000000000000"]},
            400,
        ),
        (
            "/v3/activities/remove_list_memberships",
            {"source": {"contact_ids": [SOMEONE]}, "list_ids": ["00000000-0000-4000-8000-000000000000"]},
            404,
        ),
        ("/v3/activities/list_delete", {"list_ids": ["L"] * 101}, 400),
    ],
)
def test_activity_limits_and_validation(api, path, body, status):
    real = api.get("/v3/contact_lists").json()["lists"][0]["list_id"]
    text = json.dumps(body).replace('"L"', json.dumps(real))
    response = api.post(path, content=text, headers={"content-type": "application/json"})
    assert response.status_code == status and isinstance(response.json(), list)


def test_import_size_limits(api):
    list_id = api.get("/v3/contact_lists").json()["lists"][0]["list_id"]
    too_many = [{"email": f"p{n}@a.co"} for n in range(MAX_IMPORT_CONTACTS + 1)]
    response = api.post("/v3/activities/contacts_json_import", json={"import_data": too_many, "list_ids": [list_id]})
    assert response.status_code == 400 and "40,000" in response.json()[0]["error_message"]
    too_big = [{"email": f"p{n}@a.co", "first_name": "x" * 120} for n in range(30_000)]
    response = api.post("/v3/activities/contacts_json_import", json={"import_data": too_big, "list_ids": [list_id]})
    assert response.status_code == 400 and "4 MB" in response.json()[0]["error_message"]


def test_unknown_activity_is_404(api):
    assert api.get("/v3/activities/00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_contact_is_on_at_most_50_lists(api, clock, app):
    account = app.state.sandbox.account("demo")
    lists = [account.create_list(f"L{n}", clock.now).list_id for n in range(51)]
    import_rows(api, [{"email": "busy@acme.com"}], lists[:50])
    finish(api, clock)
    overflow = import_rows(api, [{"email": "busy@acme.com"}], lists[50:])
    finish(api, clock)
    result = activity(api, overflow)
    assert result["status"]["error_count"] == 1 and "50 lists" in result["activity_errors"][0]
