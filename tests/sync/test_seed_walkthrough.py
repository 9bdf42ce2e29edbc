"""The CRM vendor's walk-through (shared/seed), end to end through the sync service."""

import pytest

from ctct import lists
from ctct.crm import services
from ctct.crm.export import export_data
from ctct.errors import SyncRefused

COMPANIES = ["Acme Sports", "Beta Foods", "Cobalt Design", "Delta Marine", "Evergreen Yoga"]


def seed_ctct(client):
    """2 CTCT lists covering 5 companies with 2 contacts each (plus CTCT's default list)."""
    first = client.lists.create("Spring Newsletter")["list_id"]
    second = client.lists.create("VIP Customers")["list_id"]
    rows = []
    for number, company in enumerate(COMPANIES):
        domain = company.lower().replace(" ", "") + ".com"
        rows += [
            {
                "email": f"owner@{domain}",
                "first_name": "Olivia",
                "last_name": f"Owner{number}",
                "company_name": company,
            },
            {
                "email": f"buyer@{domain}",
                "first_name": "Ben",
                "last_name": f"Buyer{number}",
                "company_name": company,
                "job_title": "Buyer",
            },
        ]
    client.activities.import_contacts(rows[:6], [first])
    client.activities.import_contacts(rows[4:], [second])
    return first, second


def data(database):
    with database.session() as session:
        return export_data(session)


def test_initial_import_into_an_empty_crm(service, database):
    seed_ctct(service.client)
    plan = service.plan("import")
    assert len(plan["contacts_create"]) == 10
    assert sorted(plan["lists_create"]["name"]) == ["General Interest", "Spring Newsletter", "VIP Customers"]
    result = service.commit(plan)
    assert result.status == "completed" and result.requests_used >= 2
    exported = data(database)
    assert sorted(c["name"] for c in exported["companies"]) == COMPANIES
    assert all(c["kind"] == "customer" and c["created_by_import"] for c in exported["companies"])
    members = {item["name"]: len(item["members"]) for item in exported["lists"]}
    assert members == {"General Interest": 0, "Spring Newsletter": 6, "VIP Customers": 6}
    assert service.plan("pull").is_empty  # the baseline agrees with both sides


def test_initial_import_into_a_crm_that_already_holds_some(service, database):
    with database.session() as session:
        acme = services.create_company(session, "ACME SPORTS, Inc.", "prospect")
        services.create_contact(session, acme.id, email="Owner@AcmeSports.com", first_name="Olivia", job_title=None)
    seed_ctct(service.client)
    plan = service.plan("import")
    assert len(plan["contacts_create"]) == 9 and len(plan["contacts_link"]) == 1
    service.commit(plan)
    exported = data(database)
    assert len(exported["companies"]) == 5 and len(exported["contacts"]) == 10
    acme_contacts = [c for c in exported["contacts"] if c["company"] == "ACME SPORTS, Inc."]
    assert sorted(c["email"].lower() for c in acme_contacts) == ["buyer@acmesports.com", "owner@acmesports.com"]
    owner = next(c for c in acme_contacts if c["email"] == "Owner@AcmeSports.com")
    assert owner["job_title"] is None and owner["ctct_contact_id"]  # linked; nothing overwritten


def test_the_whole_walkthrough(service, database, active_client):
    seed_ctct(active_client)
    service.commit(service.plan("import"))

    # A tag-filtered list, built here and pushed.
    with database.session() as session:
        services.create_tag(session, "Apparel Sports Wear")
        for name in ("Acme Sports", "Evergreen Yoga"):
            company = services.find_companies_by_name(session, name)[0]
            services.assign_tags(session, company.id, ["Apparel Sports Wear"])
        lists.create_list(session, "Apparel Sports Wear")
        added = lists.add_matching(session, "Apparel Sports Wear", lists.ContactFilter(tags=("Apparel Sports Wear",)))
    assert added.added == 4
    push = service.plan("push")
    assert list(push["lists_create"]["name"]) == ["Apparel Sports Wear"] and len(push["memberships_add"]) == 4
    service.commit(push)
    remote = {item["name"]: item for item in active_client.lists.iterate()}
    assert remote["Apparel Sports Wear"]["membership_count"] == 4

    # In Constant Contact: a rename, a removal, a deletion, an unsubscribe.
    spring = remote["Spring Newsletter"]["list_id"]
    active_client.lists.rename(spring, "Spring News 2026")
    by_email = {c["email_address"]["address"]: c for c in active_client.contacts.iterate()}
    active_client.activities.remove_memberships([by_email["owner@acmesports.com"]["contact_id"]], [spring])
    active_client.contacts.delete(by_email["buyer@betafoods.com"]["contact_id"])
    tina = by_email["owner@evergreenyoga.com"]
    active_client.contacts.update(
        tina["contact_id"],
        {
            "email_address": {"address": "owner@evergreenyoga.com", "permission_to_send": "unsubscribed"},
            "update_source": "Contact",
            "first_name": "Olivia",
        },
    )

    pull = service.plan("pull")
    assert list(zip(pull["lists_rename"]["from"], pull["lists_rename"]["to"], strict=True)) == [
        ("Spring Newsletter", "Spring News 2026")
    ]
    assert list(pull["contacts_deleted_in_ctct"]["email"]) == ["buyer@betafoods.com"]
    assert list(pull["contacts_unsubscribed"]["email"]) == ["owner@evergreenyoga.com"]
    removed = set(zip(pull["memberships_remove"]["list"], pull["memberships_remove"]["email"], strict=True))
    assert ("Spring Newsletter", "owner@acmesports.com") in removed
    assert ("Spring Newsletter", "buyer@betafoods.com") in removed
    assert ("Apparel Sports Wear", "owner@evergreenyoga.com") in removed  # unsubscribed: off every list
    service.commit(pull, allow_mass_removal=True)

    exported = data(database)
    members = {item["name"]: set(item["members"]) for item in exported["lists"]}
    assert "Spring News 2026" in members and "Spring Newsletter" not in members
    assert "owner@acmesports.com" not in members["Spring News 2026"]
    assert "buyer@betafoods.com" not in members["Spring News 2026"]
    assert any(c["email"] == "buyer@betafoods.com" for c in exported["contacts"])  # the CRM contact stays
    tina_here = next(c for c in exported["contacts"] if c["email"] == "owner@evergreenyoga.com")
    assert tina_here["status"] == "unsubscribed"
    assert all("owner@evergreenyoga.com" not in emails for emails in members.values())
    with database.session() as session, pytest.raises(Exception, match="unsubscribed"):
        lists.add_members(session, "Apparel Sports Wear", ["owner@evergreenyoga.com"])

    # Here: a rename and a deletion, pushed.
    with database.session() as session:
        lists.rename_list(session, "Apparel Sports Wear", "Sportswear")
        lists.delete_list(session, "VIP Customers")
    push = service.plan("push")
    assert list(push["lists_rename"]["to"]) == ["Sportswear"] and list(push["lists_delete"]["name"]) == [
        "VIP Customers"
    ]
    with pytest.raises(SyncRefused, match="mass removal"):
        service.commit(push)
    service.commit(push, allow_mass_removal=True)
    names = sorted(item["name"] for item in active_client.lists.iterate())
    assert names == ["General Interest", "Sportswear", "Spring News 2026"]
    assert service.plan("push").is_empty
    pull_after = service.plan("pull")
    assert pull_after.is_empty, pull_after.to_json()
