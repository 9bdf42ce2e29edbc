"""Pagination at the largest page size and bulk activities, chunked and polled to the end."""

import json

from ctct.api.activities import MAX_IMPORT_BYTES, MAX_IMPORT_CONTACTS, chunked, import_chunks


def test_contacts_are_paged_500_at_a_time(active_client, sandbox):
    account = sandbox.account("demo")
    for number in range(1203):
        account.new_contact(f"p{number}@acme.com", sandbox.now(), "Account", "implicit")
    emails = [contact["email_address"]["address"] for contact in active_client.contacts.iterate()]
    assert len(emails) == len(set(emails)) == 1203
    assert sandbox.stats["GET /v3/contacts"] == 3


def test_lists_are_paged_to_the_end(active_client, sandbox):
    account = sandbox.account("demo")
    for number in range(620):
        account.create_list(f"List {number:03d}", sandbox.now())
    names = [item["name"] for item in active_client.lists.iterate()]
    assert len(names) == 621 and names[0] == "General Interest"
    assert sandbox.stats["GET /v3/contact_lists"] == 2


def test_import_chunks_respect_count_and_size():
    rows = [{"email": f"p{n}@acme.com"} for n in range(MAX_IMPORT_CONTACTS + 1)]
    sizes = [len(chunk) for chunk in import_chunks(rows, ["L"])]
    assert sizes == [MAX_IMPORT_CONTACTS, 1]
    wide = [{"email": f"p{n}@acme.com", "job_title": "x" * 200} for n in range(30_000)]
    chunks = list(import_chunks(wide, ["L"]))
    assert len(chunks) == 2 and sum(len(chunk) for chunk in chunks) == 30_000
    for chunk in chunks:
        assert len(json.dumps({"import_data": chunk, "list_ids": ["L"]})) < MAX_IMPORT_BYTES


def test_chunked_ids():
    assert [len(part) for part in chunked(list(range(1001)), 500)] == [500, 500, 1]


def test_import_with_progress_and_aggregated_results(active_client, sandbox):
    list_id = active_client.lists.create("Apparel Sports Wear")["list_id"]
    tina = active_client.contacts.create({"email_address": {"address": "tina@acme.com"}})
    active_client.contacts.update(
        tina["contact_id"],
        {
            "email_address": {"address": "tina@acme.com", "permission_to_send": "unsubscribed"},
            "update_source": "Contact",
        },
    )
    seen = []
    rows = [{"email": f"p{n}@acme.com", "first_name": "P", "company_name": "Acme"} for n in range(5)]
    result = active_client.activities.import_contacts([*rows, {"email": "tina@acme.com"}], [list_id], seen.append)
    assert result.failed == [] and result.count("person_count") == 6 and result.cannot_add_to_list_count == 1
    states = [progress.state for progress in seen]
    assert states[0] in {"initialized", "processing"} and states[-1] == "completed"
    assert seen[-1].overall == 1.0 and seen[-1].percent_done == 100


def test_a_second_activity_waits_queued_and_the_caller_is_told(active_client, sandbox):
    list_id = next(active_client.lists.iterate())["list_id"]
    # Something else of the account's is already running for a while.
    sandbox.account("demo").submit("contacts_json_import", {"import_data": [], "list_ids": []}, sandbox.now())
    seen = []
    active_client.activities.import_contacts([{"email": "a@acme.com"}], [list_id], seen.append)
    assert seen[0].queued and seen[-1].state == "completed"


def test_membership_activities_chunk_contact_ids(active_client, sandbox):
    source = active_client.lists.create("Source")["list_id"]
    target = active_client.lists.create("Target")["list_id"]
    active_client.activities.import_contacts([{"email": f"p{n}@acme.com"} for n in range(1100)], [source])
    ids = [contact["contact_id"] for contact in active_client.contacts.iterate(lists=[source])]
    added = active_client.activities.add_memberships(ids, [target])
    assert len(added.activities) == 3 and added.count("items_completed_count") == 1100
    removed = active_client.activities.remove_memberships(ids[:600], [target])
    assert len(removed.activities) == 2
    assert len(list(active_client.contacts.iterate(lists=[target]))) == 500


def test_failed_activities_are_reported(active_client, sandbox):
    list_id = next(active_client.lists.iterate())["list_id"]
    sandbox.faults.fail_next_activity = True
    result = active_client.activities.import_contacts([{"email": "a@acme.com"}], [list_id])
    assert len(result.failed) == 1 and result.activity_errors


def test_deleting_the_last_list_fails_with_a_clear_error(active_client):
    only = next(active_client.lists.iterate())["list_id"]
    result = active_client.activities.delete_lists([only])
    assert result.failed and "last list" in result.activity_errors[0]
