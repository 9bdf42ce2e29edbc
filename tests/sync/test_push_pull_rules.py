"""SPEC §7, rule by rule, through the sync service against the in-process sandbox."""

import pytest
from sqlalchemy import insert

from ctct import lists
from ctct.api.errors import CtctConnectionError
from ctct.crm import services
from ctct.crm.export import export_data
from ctct.db.models import SyncLock, utcnow
from ctct.errors import SyncBusy, SyncRefused
from ctct.sync import history


def crm(database, *people, company="Acme", tags=()):
    with database.session() as session:
        found = services.find_companies_by_name(session, company)
        owner = found[0] if found else services.create_company(session, company, tags=tags)
        for email, first in people:
            services.create_contact(session, owner.id, email=email, first_name=first, last_name="Lee")


def local_list(database, name, *emails):
    with database.session() as session:
        if lists.find_list(session, name) is None:
            lists.create_list(session, name)
        if emails:
            lists.add_members(session, name, list(emails))


def remote_lists(client):
    return {item["name"]: item for item in client.lists.iterate()}


def remote_members(client, name):
    list_id = remote_lists(client)[name]["list_id"]
    return sorted(c["email_address"]["address"] for c in client.contacts.iterate(lists=[list_id]))


def exported(database):
    with database.session() as session:
        return export_data(session)


def test_push_links_an_unlinked_ctct_list_of_the_same_name(service, database, active_client):
    active_client.lists.create("Newsletter")
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "newsletter", "ann@acme.com")
    plan = service.plan("push")
    assert plan["lists_create"]["link"].tolist() == [True]
    assert plan.estimated_requests >= 1
    service.commit(plan)
    assert sorted(remote_lists(active_client)) == ["General Interest", "Newsletter"]  # no second list
    assert remote_members(active_client, "Newsletter") == ["ann@acme.com"]


def test_push_creates_new_contacts_with_name_company_and_job_title(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "News", "ann@acme.com")
    service.commit(service.plan("push"))
    ann = active_client.contacts.find_by_email("ann@acme.com")
    assert (ann["first_name"], ann["last_name"], ann["company_name"]) == ("Ann", "Lee", "Acme")
    assert exported(database)["contacts"][0]["ctct_contact_id"] is None  # linked at the next snapshot
    service.commit(service.plan("pull"))
    assert exported(database)["contacts"][0]["ctct_contact_id"] == ann["contact_id"]


def test_unsubscribed_contacts_are_never_re_added(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"))
    local_list(database, "News", "ann@acme.com", "bo@acme.com")
    service.commit(service.plan("push"))
    bo = active_client.contacts.find_by_email("bo@acme.com")
    active_client.contacts.update(
        bo["contact_id"],
        {"email_address": {"address": "bo@acme.com", "permission_to_send": "unsubscribed"}, "update_source": "Contact"},
    )
    plan = service.plan("push")
    assert plan["skipped"][["email", "reason"]].values.tolist() == [
        ["bo@acme.com", "unsubscribed in Constant Contact: never re-added"]
    ]
    assert plan["memberships_add"].empty
    service.commit(plan)
    assert remote_members(active_client, "News") == ["ann@acme.com"]


def test_a_ctct_deleted_contact_re_added_here_is_restored(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "News", "ann@acme.com")
    service.commit(service.plan("push"))
    ann = active_client.contacts.find_by_email("ann@acme.com")
    active_client.contacts.delete(ann["contact_id"])
    plan = service.plan("push")
    assert plan["contacts_create"]["restored"].tolist() == [True]
    assert any(w.kind == "restore" for w in plan.warnings)
    service.commit(plan)
    assert remote_members(active_client, "News") == ["ann@acme.com"]
    assert active_client.contacts.find_by_email("ann@acme.com")["contact_id"] == ann["contact_id"]


def test_local_edits_since_the_baseline_are_pushed(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "News", "ann@acme.com")
    service.commit(service.plan("push"))
    with database.session() as session:
        contact = services.find_contacts_by_email(session, "ann@acme.com")[0]
        services.update_contact(session, contact.id, job_title="Head of Brand")
    plan = service.plan("push")
    assert plan["contacts_update"]["email"].tolist() == ["ann@acme.com"]
    service.commit(plan)
    assert active_client.contacts.find_by_email("ann@acme.com")["job_title"] == "Head of Brand"


def test_a_ctct_rename_is_warned_about_before_a_push_undoes_it(service, database, active_client):
    local_list(database, "News")
    service.commit(service.plan("push"))
    active_client.lists.rename(remote_lists(active_client)["News"]["list_id"], "News (CTCT)")
    plan = service.plan("push")
    assert any("will be undone" in w.message and "pull first" in w.message for w in plan.warnings)
    service.commit(plan)
    assert "News" in remote_lists(active_client)


def test_pull_brings_new_lists_and_deletes_deleted_ones(service, database, active_client, clock):
    local_list(database, "Old")
    service.commit(service.plan("push"))
    old = remote_lists(active_client)["Old"]["list_id"]
    active_client.activities.delete_lists([old])
    active_client.lists.create("Fresh")
    plan = service.plan("pull")
    assert plan["lists_delete"]["name"].tolist() == ["Old"]
    assert sorted(plan["lists_create"]["name"]) == ["Fresh", "General Interest"]
    service.commit(plan, allow_mass_removal=True)
    assert sorted(item["name"] for item in exported(database)["lists"]) == ["Fresh", "General Interest"]


def test_pull_fills_empty_fields_and_never_overwrites(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "News", "ann@acme.com")
    service.commit(service.plan("push"))
    ann = active_client.contacts.find_by_email("ann@acme.com")
    active_client.contacts.update(
        ann["contact_id"],
        {
            "email_address": {"address": "ann@acme.com"},
            "first_name": "Annabel",
            "job_title": "CEO",
            "list_memberships": ann["list_memberships"],
        },
    )
    plan = service.plan("pull")
    assert plan["contacts_update"]["email"].tolist() == ["ann@acme.com"]
    service.commit(plan)
    contact = exported(database)["contacts"][0]
    assert (contact["first_name"], contact["job_title"]) == ("Ann", "CEO")


def test_a_later_pull_that_sees_a_resubscribe_clears_the_mark(service, database, active_client):
    crm(database, ("tina@acme.com", "Tina"))
    local_list(database, "News", "tina@acme.com")
    service.commit(service.plan("push"))
    tina = active_client.contacts.find_by_email("tina@acme.com")
    active_client.contacts.update(
        tina["contact_id"],
        {
            "email_address": {"address": "tina@acme.com", "permission_to_send": "unsubscribed"},
            "update_source": "Contact",
        },
    )
    service.commit(service.plan("pull"), allow_mass_removal=True)
    assert exported(database)["contacts"][0]["status"] == "unsubscribed"
    news = remote_lists(active_client)["News"]["list_id"]
    active_client.contacts.sign_up({"email_address": "tina@acme.com", "list_memberships": [news]})
    plan = service.plan("pull")
    assert plan["contacts_resubscribed"]["email"].tolist() == ["tina@acme.com"]
    service.commit(plan)
    assert exported(database)["contacts"][0]["status"] == "active"


def test_a_stale_plan_is_refused(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "News", "ann@acme.com")
    plan = service.plan("push")
    crm(database, ("bo@acme.com", "Bo"))
    with pytest.raises(SyncRefused, match="Customer Focus changed"):
        service.commit(plan)
    plan = service.plan("push")
    active_client.lists.create("Surprise")
    with pytest.raises(SyncRefused, match="Constant Contact changed"):
        service.commit(plan)
    plan = service.plan("push")
    active_client.contacts.create({"email_address": {"address": "new@elsewhere.com"}})
    with pytest.raises(SyncRefused, match="Constant Contact changed"):
        service.commit(plan)


def test_the_mass_removal_guard(service, database, active_client):
    people = [(f"p{n}@acme.com", f"P{n}") for n in range(10)]
    crm(database, *people)
    local_list(database, "Big", *[email for email, _ in people])
    service.commit(service.plan("push"))
    with database.session() as session:
        lists.remove_members(session, "Big", ["p0@acme.com", "p1@acme.com", "p2@acme.com"])
    plan = service.plan("push")
    assert plan.mass_removals == ["removes 3 of the 10 members of 'Big' (over 20 %)"]
    with pytest.raises(SyncRefused, match="--allow-mass-removal"):
        service.commit(plan)
    service.commit(plan, allow_mass_removal=True)
    assert len(remote_members(active_client, "Big")) == 7


def test_one_sync_at_a_time(service, database):
    with database.session() as session:
        session.execute(
            insert(SyncLock).values(
                name="ctct-sync", holder="other-host:1", run_id=7, expires_at=utcnow().replace(year=2100)
            )
        )
    with pytest.raises(SyncBusy, match="another sync is running"):
        service.commit(service.plan("pull"))


def test_an_interrupted_push_resumes_without_duplicates(service, database, active_client, sandbox):
    people = [(f"p{n}@acme.com", f"P{n}") for n in range(30)]
    crm(database, *people)
    local_list(database, "One", *[email for email, _ in people[:20]])
    local_list(database, "Two", *[email for email, _ in people[10:]])
    plan = service.plan("push")
    original = service.client.activities.submit
    calls = []

    def cut_after_first(kind, body):
        calls.append(kind)
        if len(calls) == 2:
            sandbox.faults.drop_connections = 50  # the network goes away mid-push
        return original(kind, body)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(service.client.activities), "submit", lambda _self, kind, body: cut_after_first(kind, body))
        with pytest.raises(CtctConnectionError):
            service.commit(plan)
    sandbox.faults.drop_connections = 0
    assert [run["status"] for run in history.runs(database)] == ["failed"]
    result = service.resume("push")
    assert result.status == "completed"
    assert sorted(remote_lists(active_client)) == ["General Interest", "One", "Two"]
    assert len(remote_members(active_client, "One")) == 20 and len(remote_members(active_client, "Two")) == 20
    emails = [c["email_address"]["address"] for c in active_client.contacts.iterate()]
    assert len(emails) == len(set(emails)) == 30
    assert service.plan("push").is_empty


def test_plans_are_deterministic_and_serializable(service, database, active_client):
    import json

    crm(database, *[(f"p{n}@acme.com", f"P{n}") for n in range(8)])
    local_list(database, "Zeta", "p3@acme.com", "p1@acme.com")
    local_list(database, "Alpha", "p2@acme.com", "p0@acme.com")
    first, second = service.plan("push"), service.plan("push")
    assert json.dumps(first.to_json()) == json.dumps(second.to_json())
    assert [row["list"] for row in first.to_json()["memberships"]["add"]] == ["Alpha", "Alpha", "Zeta", "Zeta"]


def test_losing_side_changes_are_named_before_they_are_undone(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"), ("cy@acme.com", "Cy"))
    local_list(database, "News", "ann@acme.com", "bo@acme.com")
    service.commit(service.plan("push"))
    news = remote_lists(active_client)["News"]["list_id"]
    active_client.contacts.create({"email_address": {"address": "dee@elsewhere.com"}, "list_memberships": [news]})
    push = service.plan("push")
    assert any(
        "added in Constant Contact since the last sync" in w.message and "pull first" in w.message
        for w in push.warnings
    )
    local_list(database, "News", "cy@acme.com")
    pull = service.plan("pull")
    assert any(
        "added here since the last sync (e.g. cy@acme.com to 'News') will be undone by this pull" in w.message
        for w in pull.warnings
    )


def test_reset_demo_restores_both_sides(service, database, active_client, sandbox):
    from ctct.activation import connection_status
    from ctct.sandbox.demo_account import reset_demo

    local_list(database, "Temporary")
    service.commit(service.plan("push"))
    reset_demo(active_client, database)
    assert not connection_status(active_client).active
    data = exported(database)
    assert data["lists"] == [] and len(data["companies"]) == 40
    assert [item.name for item in sandbox.account("demo").live_lists()] == ["General Interest"]
