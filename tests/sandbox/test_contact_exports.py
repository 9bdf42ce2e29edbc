"""Contact exports: the activity on the sandbox clock, its filters and limits, the CSV file — every
request and answer checked against docs/reference/ctct-contact-exports.yaml (the `http` fixture)."""

import csv
import io

import httpx
import pytest

from ctct.sync.remote_export import export_bodies
from tests.sandbox.conftest import tokens_for
from tests.sandbox.openapi_contract import validate_request

SOMEONE = "11111111-1111-4111-8111-111111111111"


def new_list(api, name):
    return api.post("/v3/contact_lists", json={"name": name}).json()["list_id"]


def new_contact(api, email, list_ids=(), **fields):
    body = {"email_address": {"address": email}, "create_source": "Account", "list_memberships": list(list_ids)}
    response = api.post("/v3/contacts", json=body | fields)
    assert response.status_code == 201, response.text
    return response.json()["contact_id"]


def start(api, **body):
    response = api.post("/v3/activities/contact_exports", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def finished(api, clock, activity):
    clock.advance(30)
    return api.get(f"/v3/activities/{activity['activity_id']}").json()


def rows_of(api, done):
    response = api.get(done["_links"]["results"]["href"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_an_export_is_queued_runs_and_gives_a_file_with_the_fields_asked(api, clock):
    ann = new_contact(api, "ann@acme.com", first_name='Ann "the, first"', last_name="Ünal")
    new_contact(api, "bob@acme.com", first_name="Bob")
    activity = start(api, fields=["contact_id", "email_address", "first_name", "last_name"])
    assert activity["state"] == "initialized" and "results" not in activity["_links"]
    # No file before the export ran: CTCT writes it when the activity completes.
    assert api.get(f"/v3/contact_exports/{activity['activity_id']}").status_code == 404
    running = api.get(f"/v3/activities/{activity['activity_id']}").json()
    assert running["state"] in {"initialized", "processing"} and "results" not in running["_links"]
    done = finished(api, clock, activity)
    assert done["state"] == "completed" and done["status"] == {"items_total_count": 2, "items_completed_count": 2}
    assert done["_links"]["results"]["href"] == f"/v3/contact_exports/{activity['activity_id']}"
    rows = rows_of(api, done)
    assert rows[0] == ["contact_id", "email_address", "first_name", "last_name"]
    assert rows[1] == [ann, "ann@acme.com", 'Ann "the, first"', "Ünal"]
    assert rows[2][1:] == ["bob@acme.com", "Bob", ""]


def test_list_and_status_filters_choose_the_rows(api, clock):
    first, second = new_list(api, "First"), new_list(api, "Second")
    new_contact(api, "in@acme.com", [first])
    new_contact(api, "both@acme.com", [first, second])
    gone = new_contact(api, "gone@acme.com", [second])
    assert api.delete(f"/v3/contacts/{gone}").status_code == 204
    by_list = finished(api, clock, start(api, list_ids=[second], fields=["email_address", "email_lists"]))
    assert rows_of(api, by_list)[1:] == [["both@acme.com", "First; Second"]]
    removed = finished(api, clock, start(api, status="removed", fields=["email_address"]))
    assert rows_of(api, removed)[1:] == [["gone@acme.com"]]
    everyone = finished(api, clock, start(api, fields=["email_address"]))
    assert [row[0] for row in rows_of(api, everyone)[1:]] == ["in@acme.com", "both@acme.com"]


def test_unsubscribed_contacts_carry_their_opt_out(api, clock):
    contact_id = new_contact(api, "out@acme.com", first_name="Out")
    put = api.put(
        f"/v3/contacts/{contact_id}",
        json={
            "email_address": {"address": "out@acme.com", "permission_to_send": "unsubscribed"},
            "first_name": "Out",
            "update_source": "Contact",
        },
    )
    assert put.status_code == 200, put.text
    done = finished(
        api,
        clock,
        start(api, status="unsubscribed", fields=["email_address", "email_permission", "email_optout_source"]),
    )
    assert rows_of(api, done)[1:] == [["out@acme.com", "unsubscribed", "Contact"]]


def test_the_description_and_the_guide_refuse_what_they_refuse(api):
    too_many = api.post("/v3/activities/contact_exports", json={"contact_ids": [SOMEONE] * 501})
    assert too_many.status_code == 400
    both = api.post("/v3/activities/contact_exports", json={"contact_ids": [SOMEONE], "list_ids": [SOMEONE]})
    assert both.status_code == 400
    unknown_field = api.post("/v3/activities/contact_exports", json={"fields": ["shoe_size"]})
    assert unknown_field.status_code == 400
    optout_alone = api.post("/v3/activities/contact_exports", json={"fields": ["email_optout_source"]})
    assert optout_alone.status_code == 400
    bad_status = api.post("/v3/activities/contact_exports", json={"status": "deleted"})
    assert bad_status.status_code == 400
    no_such_list = api.post("/v3/activities/contact_exports", json={"list_ids": [SOMEONE]})
    assert no_such_list.status_code == 404
    assert api.get(f"/v3/contact_exports/{SOMEONE}").status_code == 404


def test_an_export_needs_contact_data(http):
    token = tokens_for(http, scope="account_read")["access_token"]
    refused = http.post("/v3/activities/contact_exports", json={}, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403


def test_a_failed_export_has_no_file(api, clock):
    assert api.post("/_sandbox/faults", json={"fail_next_activity": True}).status_code == 200
    done = finished(api, clock, start(api, fields=["email_address"]))
    assert done["state"] == "failed" and "results" not in done["_links"]
    assert api.get(f"/v3/contact_exports/{done['activity_id']}").status_code == 404


def test_an_export_is_a_snapshot_of_when_it_ran(api, clock):
    done = finished(api, clock, start(api, fields=["email_address"]))
    new_contact(api, "later@acme.com")
    assert rows_of(api, done) == [["email_address"]]


def test_the_bodies_the_console_sends_match_the_fragment(api, clock):
    list_id = new_list(api, "Members")
    for body in export_bodies([list_id]):
        request = httpx.Request("POST", "http://sandbox/v3/activities/contact_exports", json=body)
        validate_request(request)
        response = api.send(api.build_request("POST", "/v3/activities/contact_exports", json=body))
        assert response.status_code == 201, response.text
    bad = httpx.Request("POST", "http://sandbox/v3/activities/contact_exports", json={"list_ids": ["x"] * 51})
    with pytest.raises(AssertionError, match="contact_exports"):
        validate_request(bad)
