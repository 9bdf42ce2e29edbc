"""A push takes few CTCT requests: contacts grouped by the lists they go to, large adds by import,
every activity watched together — and under faults it still loses, duplicates and re-adds nothing.

Counts are the sandbox's own (`sandbox.stats`), for the commit alone: the stale check (a listing of
the lists and one probe of contacts), the activities, the polls, and the listing read back after."""

import pytest
from sqlalchemy import insert, select

from ctct import lists
from ctct.crm import services
from ctct.db.models import Contact, SyncRun, SyncStep
from ctct.sync import journal
from ctct.sync.apply import COMPLETED, COMPLETED_WITH_ERRORS
from ctct.sync.push_shape import push_requests
from tests.sync.test_push_pull_rules import crm, local_list, remote_lists, remote_members

PEOPLE = [(f"p{number}@acme.com", f"P{number}") for number in range(6)]
STALE_CHECK = 2  # the listing of CTCT's lists and one `updated_after` probe of its contacts
READ_BACK = 1  # the listing of CTCT's lists after the push


def many_people(database, count):
    """m0@acme.com … in Customer Focus, with a first and a last name; returns their ids here."""
    with database.session() as session:
        company = services.create_company(session, "Acme")
    rows = [
        {
            "company_id": company.id,
            "email": f"m{n}@acme.com",
            "email_key": f"m{n}@acme.com",
            "first_name": "Member",
            "last_name": str(n),
            "email_status": "active",
        }
        for n in range(count)
    ]
    with database.session() as session:
        session.connection().execute(insert(Contact.__table__), rows)
        found = dict(session.execute(select(Contact.email_key, Contact.id)).all())
    return [found[f"m{n}@acme.com"] for n in range(count)]


def add_here(database, name, contact_ids):
    with database.session() as session:
        if lists.find_list(session, name) is None:
            lists.create_list(session, name)
        lists.add_contacts(session, name, contact_ids)


def counted_commit(service, sandbox, plan, **options):
    sandbox.reset_stats()
    result = service.commit(plan, **options)
    return result, dict(sandbox.stats)


def posts(stats, kind):
    return stats.get(f"POST /v3/activities/{kind}", 0)


def polls(stats):
    return stats.get("GET /v3/activities", 0) + stats.get("GET /v3/activities/{id}", 0)


def assert_estimate_fits(plan, used):
    """The plan's estimate (what the budget check refuses on) covers the push, and not by much."""
    assert used <= plan.estimated_requests <= 1.2 * used, (plan.estimated_requests, used)


def emails_in_ctct(sandbox):
    return [contact.email.lower() for contact in sandbox.account("demo").contacts.values()]


def test_contacts_added_to_the_same_lists_share_one_activity_and_every_activity_one_poll(
    service, database, active_client, sandbox
):
    crm(database, *PEOPLE)
    local_list(database, "News", *[email for email, _ in PEOPLE])
    local_list(database, "Promo", "p0@acme.com")
    local_list(database, "Events", "p0@acme.com")
    service.commit(service.plan("push"))
    # Three contacts CTCT has join Promo and Events (one set of lists: one activity, where one per
    # list took two); two leave News.
    for name in ("Promo", "Events"):
        local_list(database, name, "p1@acme.com", "p2@acme.com", "p3@acme.com")
    with database.session() as session:
        lists.remove_members(session, "News", ["p4@acme.com", "p5@acme.com"])

    plan = service.plan("push")
    result, stats = counted_commit(service, sandbox, plan, allow_mass_removal=True)

    assert result.status == COMPLETED
    assert posts(stats, "add_list_memberships") == 1 and posts(stats, "remove_list_memberships") == 1
    # Both activities watched together: an early poll that learns CTCT's pace, and the one that
    # finds both ended.
    assert polls(stats) == 2
    used = sum(stats.values())
    assert used == STALE_CHECK + 2 + 2 + READ_BACK
    assert_estimate_fits(plan, used)
    assert push_requests(plan, plan.remote, minimum=True).total == STALE_CHECK + 2 + 1 + READ_BACK
    for name in ("Promo", "Events"):
        assert remote_members(active_client, name) == [f"p{n}@acme.com" for n in range(4)]
    assert remote_members(active_client, "News") == [f"p{n}@acme.com" for n in range(4)]


def test_over_500_adds_of_existing_contacts_go_by_one_import_that_changes_no_field(
    service, database, active_client, sandbox
):
    ids = many_people(database, 502)
    add_here(database, "News", ids)
    add_here(database, "Promo", ids[:1])
    service.commit(service.plan("push"))
    # A field only CTCT holds: an email-only import row must leave it (and the names) alone.
    account = sandbox.account("demo")
    account.find_by_email("m7@acme.com").job_title = "Chief Executive"
    add_here(database, "Promo", ids[1:])

    plan = service.plan("push")
    result, stats = counted_commit(service, sandbox, plan)

    assert result.status == COMPLETED
    # 501 adds: one import instead of two activities of 500 ids.
    assert posts(stats, "contacts_json_import") == 1 and posts(stats, "add_list_memberships") == 0
    used = sum(stats.values())
    assert used == STALE_CHECK + 1 + 2 + READ_BACK
    assert_estimate_fits(plan, used)
    promo = remote_lists(active_client)["Promo"]["list_id"]
    assert len(account.lists[promo].members) == 502
    assert sorted(emails_in_ctct(sandbox)) == sorted(f"m{n}@acme.com" for n in range(502))  # none made twice
    seventh = account.find_by_email("m7@acme.com")
    assert (seventh.first_name, seventh.last_name, seventh.job_title) == ("Member", "7", "Chief Executive")


def test_new_contacts_and_adds_of_existing_ones_to_the_same_list_share_one_import(
    service, database, active_client, sandbox
):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com")
    local_list(database, "Promo", "p1@acme.com")
    service.commit(service.plan("push"))
    crm(database, ("new1@acme.com", "New1"), ("new2@acme.com", "New2"))
    local_list(database, "News", "p1@acme.com", "new1@acme.com", "new2@acme.com")

    plan = service.plan("push")
    result, stats = counted_commit(service, sandbox, plan)

    assert result.status == COMPLETED
    assert posts(stats, "contacts_json_import") == 1 and posts(stats, "add_list_memberships") == 0
    used = sum(stats.values())
    assert used == STALE_CHECK + 1 + 2 + READ_BACK
    assert_estimate_fits(plan, used)
    assert remote_members(active_client, "News") == ["new1@acme.com", "new2@acme.com", "p0@acme.com", "p1@acme.com"]
    assert remote_members(active_client, "Promo") == ["p1@acme.com"]
    new1 = active_client.contacts.find_by_email("new1@acme.com")
    assert (new1["first_name"], new1["last_name"]) == ("New1", "Lee")


def test_a_contact_unsubscribed_while_a_large_import_add_is_queued_is_not_put_back(
    service, database, active_client, sandbox
):
    ids = many_people(database, 502)
    add_here(database, "News", ids)
    add_here(database, "Promo", ids[:1])
    service.commit(service.plan("push"))
    add_here(database, "Promo", ids[1:])
    plan = service.plan("push")
    account = sandbox.account("demo")

    def unsubscribe_first(_fraction, message):
        # After the stale check, before the import is submitted.
        contact = account.find_by_email("m3@acme.com")
        if message.startswith("Step 1 of") and contact.permission != "unsubscribed":
            account.unsubscribe(contact, "Contact", sandbox.now())

    result = service.commit(plan, progress=unsubscribe_first)

    assert result.status == COMPLETED_WITH_ERRORS
    assert [(row["list"], row["email"]) for row in result.failed] == [("Promo", "m3@acme.com")]
    assert "unsubscribed" in result.failed[0]["reason"]
    contact = account.find_by_email("m3@acme.com")
    assert contact.permission == "unsubscribed" and not contact.lists
    promo = remote_lists(active_client)["Promo"]["list_id"]
    assert len(account.lists[promo].members) == 501
    assert "m3@acme.com" not in remote_members(active_client, "Promo")


def test_a_failed_activity_fails_only_its_rows_and_the_next_push_sends_just_those(
    service, database, active_client, sandbox
):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com", "p1@acme.com", "p2@acme.com")
    local_list(database, "Promo", "p0@acme.com")
    service.commit(service.plan("push"))
    local_list(database, "Promo", "p1@acme.com", "p2@acme.com")  # one add activity: it fails
    with database.session() as session:
        lists.remove_members(session, "News", ["p0@acme.com"])  # one remove activity: it runs
    sandbox.faults.fail_next_activity = True

    result = service.commit(service.plan("push"), allow_mass_removal=True)

    assert result.status == COMPLETED_WITH_ERRORS
    assert sorted((row["list"], row["email"]) for row in result.failed) == [
        ("Promo", "p1@acme.com"),
        ("Promo", "p2@acme.com"),
    ]
    assert remote_members(active_client, "News") == ["p1@acme.com", "p2@acme.com"]
    again = service.plan("push")
    assert sorted(again["memberships_add"]["email"]) == ["p1@acme.com", "p2@acme.com"]
    assert again["memberships_remove"].empty
    assert service.commit(again).status == COMPLETED
    assert remote_members(active_client, "Promo") == ["p0@acme.com", "p1@acme.com", "p2@acme.com"]
    assert sorted(emails_in_ctct(sandbox)) == sorted({email for email, _ in PEOPLE[:3]})


@pytest.mark.parametrize("fault", ["throttle_burst", "drop_connections"])
def test_429s_and_dropped_connections_while_activities_are_submitted_lose_and_duplicate_nothing(
    service, database, active_client, sandbox, fault
):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com")
    local_list(database, "Promo", "p0@acme.com")
    service.commit(service.plan("push"))
    local_list(database, "News", "p1@acme.com", "p2@acme.com")  # new contacts: the import
    local_list(database, "Promo", "p3@acme.com")
    with database.session() as session:
        lists.remove_members(session, "Promo", ["p0@acme.com"])

    def fault_midway(_fraction, message):
        # Between the import's submit and the next ones: the retried POSTs must not double anything.
        if message.startswith("Step 2 of") and not getattr(fault_midway, "done", False):
            fault_midway.done = True
            setattr(sandbox.faults, fault, 2)

    result = service.commit(service.plan("push"), allow_mass_removal=True, progress=fault_midway)

    assert result.status == COMPLETED
    assert remote_members(active_client, "News") == ["p0@acme.com", "p1@acme.com", "p2@acme.com"]
    assert remote_members(active_client, "Promo") == ["p3@acme.com"]
    assert sorted(emails_in_ctct(sandbox)) == ["p0@acme.com", "p1@acme.com", "p2@acme.com", "p3@acme.com"]
    after = service.plan("push")
    assert after["memberships_add"].empty and after["memberships_remove"].empty and after["contacts_create"].empty


def test_a_push_stopped_while_its_activities_run_keeps_every_step_and_resumes_without_duplicates(
    service, database, active_client, sandbox
):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com", "p1@acme.com")
    local_list(database, "Promo", "p0@acme.com")
    service.commit(service.plan("push"))
    local_list(database, "News", "p4@acme.com")  # a new contact: the import
    local_list(database, "Promo", "p1@acme.com")  # an add by id
    with database.session() as session:
        lists.remove_members(session, "News", ["p0@acme.com"])  # a remove

    def stop_while_running(_fraction, message):
        if "queue" in message or "processing" in message:
            raise journal.SyncInterrupted("SIGTERM")

    with pytest.raises(KeyboardInterrupt):
        service.commit(service.plan("push"), allow_mass_removal=True, progress=stop_while_running)
    with database.session() as session:
        stopped = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        steps = session.scalars(select(SyncStep).where(SyncStep.run_id == stopped.id).order_by(SyncStep.position))
        # Every operation was journaled as submitted, with its activities, before any was watched;
        # none is marked done.
        recorded = [(step.kind, step.status, bool(step.activity_id)) for step in steps]
    assert stopped.status == "interrupted"
    assert recorded == [
        ("import_contacts", "started", True),
        ("add_memberships", "started", True),
        ("remove_memberships", "started", True),
    ]

    result = service.resume("push", allow_mass_removal=True)

    assert result.status == COMPLETED
    assert remote_members(active_client, "News") == ["p1@acme.com", "p4@acme.com"]
    assert remote_members(active_client, "Promo") == ["p0@acme.com", "p1@acme.com"]
    assert sorted(emails_in_ctct(sandbox)) == ["p0@acme.com", "p1@acme.com", "p4@acme.com"]
