"""What the Customers page's delete confirmations say about Constant Contact, checked against the
sync engine and the sandbox: a push takes a deleted contact off the linked lists there and deletes
no contact in CTCT; until that push, a pull brings it back."""

from ctct import lists
from ctct.crm import services


def ctct_emails(client, list_name=None):
    if list_name is None:
        found = client.contacts.iterate()
    else:
        list_id = next(item["list_id"] for item in client.lists.iterate() if item["name"] == list_name)
        found = client.contacts.iterate(lists=[list_id])
    return sorted(contact["email_address"]["address"] for contact in found)


def pushed_newsletter(service, database, active_client):
    with database.session() as session:
        acme = services.create_company(session, "Acme")
        beta = services.create_company(session, "Beta Foods")
        for company, email in ((acme, "ann@acme.com"), (acme, "pat@acme.com"), (beta, "bo@beta.com")):
            services.create_contact(session, company.id, email=email, first_name=email[:3].title())
        lists.create_list(session, "Newsletter")
        lists.add_members(session, "Newsletter", ["ann@acme.com", "pat@acme.com", "bo@beta.com"])
        acme_id = acme.id
        ann_id = services.find_contacts_by_email(session, "ann@acme.com")[0].id
    service.commit(service.plan("push"))
    assert ctct_emails(active_client, "Newsletter") == ["ann@acme.com", "bo@beta.com", "pat@acme.com"]
    return acme_id, ann_id


def test_a_deleted_contact_leaves_the_linked_lists_at_the_next_push_and_stays_in_ctct(service, database, active_client):
    _, ann_id = pushed_newsletter(service, database, active_client)
    with database.session() as session:
        impact = services.delete_contact(session, ann_id)
    assert impact.linked_lists == ("Newsletter",)

    # Before the push, a pull would bring her back from CTCT.
    assert service.plan("pull")["contacts_create"]["email"].tolist() == ["ann@acme.com"]

    plan = service.plan("push")
    assert plan["memberships_remove"][["list", "email"]].values.tolist() == [["Newsletter", "ann@acme.com"]]
    service.commit(plan)
    assert ctct_emails(active_client, "Newsletter") == ["bo@beta.com", "pat@acme.com"]
    assert "ann@acme.com" in ctct_emails(active_client)  # CTCT keeps the contact itself
    # After the push she is on no list there: a pull no longer brings her back.
    assert service.plan("pull")["contacts_create"].empty


def test_a_deleted_company_takes_its_contacts_off_the_linked_lists_at_the_next_push(service, database, active_client):
    acme_id, _ = pushed_newsletter(service, database, active_client)
    with database.session() as session:
        impact = services.delete_company(session, acme_id)
    assert (impact.contacts, impact.memberships, impact.linked_lists) == (2, 2, ("Newsletter",))
    plan = service.plan("push")
    assert sorted(plan["memberships_remove"]["email"]) == ["ann@acme.com", "pat@acme.com"]
    assert plan["contacts_create"].empty and plan["lists_delete"].empty
    service.commit(plan, allow_mass_removal=True)  # 2 of 3 members go: the guard asks first
    assert ctct_emails(active_client, "Newsletter") == ["bo@beta.com"]
    assert {"ann@acme.com", "pat@acme.com"} <= set(ctct_emails(active_client))
