"""A push keeps to what CTCT accepts (issue 14): addresses too long for an import row (the reference:
`import_data[].email` ≤ 50, POST /contacts ≤ 80) go one by one; over 80 is not eligible; and no
unsubscribed contact is put back on a list — also when the unsubscribe comes while the push runs."""

import json

import pytest
from sqlalchemy import select

from ctct import lists
from ctct.crm.eligibility import EligibilityContext, eligibility_reason
from ctct.db.models import Company, Contact, EmailStatus
from ctct.sync.apply import COMPLETED, COMPLETED_WITH_ERRORS
from tests.sync.test_push_pull_rules import crm, local_list, remote_lists, remote_members

LONG_51 = "dmitri.okafor@union-square-landscaping-partners.com"  # a demo address: 51 characters
LONG_80 = "a" * 60 + "@" + "b" * 15 + ".com"


def record_import_rows(client):
    """Every email the client sends CTCT in an import row, as it sends them."""
    sent: list[str] = []

    def record(request):
        if request.url.path.endswith("/activities/contacts_json_import"):
            sent.extend(row["email"] for row in json.loads(request.content)["import_data"])

    client.http.event_hooks["request"].append(record)
    return sent


def test_addresses_of_51_to_80_characters_are_pushed_one_by_one(service, database, active_client, sandbox):
    assert len(LONG_51) == 51 and len(LONG_80) == 80
    crm(database, ("ann@acme.com", "Ann"), (LONG_51, "Dmitri"), (LONG_80, "Long"))
    local_list(database, "News", "ann@acme.com", LONG_51, LONG_80)
    plan = service.plan("push")
    imported = record_import_rows(active_client)
    result = service.commit(plan)
    assert result.status == COMPLETED, result.failed
    assert remote_members(active_client, "News") == sorted(["ann@acme.com", LONG_51, LONG_80])
    assert imported == ["ann@acme.com"]  # the long ones went by POST /contacts
    assert sandbox.stats["POST /v3/contacts"] == 2
    # Agreed afterwards: nothing left to push, and a pull changes nothing.
    assert service.plan("push").is_empty
    pull = service.plan("pull")
    assert all(pull[kind].empty for kind in ("contacts_create", "memberships_add", "memberships_remove"))
    # A second list for an existing long address: CTCT's contact keeps its first list.
    local_list(database, "Promo", LONG_51)
    assert service.commit(service.plan("push")).status == COMPLETED
    assert remote_members(active_client, "Promo") == [LONG_51]
    assert LONG_51 in remote_members(active_client, "News")


def test_an_address_over_80_characters_is_not_eligible():
    # The database holds at most 80 characters (CTCT's limit), so such an address only ever comes
    # as input — a file, a form: the rule that refuses it is the eligibility rule.
    context = EligibilityContext(company_emails=frozenset(), email_counts={}, role_addresses=frozenset())
    too_long = "x" * 70 + "@" + "y" * 10 + ".org"
    assert eligibility_reason(too_long, False, context) == "invalid email: email is longer than 80 characters"
    assert eligibility_reason(LONG_80, False, context) is None


@pytest.mark.parametrize("source", ["Contact", "Account"])
def test_a_contact_unsubscribed_while_the_push_imports_it_stays_unsubscribed_and_off_every_list(
    service, database, active_client, sandbox, source
):
    crm(database, ("ann@acme.com", "Ann"), ("bob@acme.com", "Bob"))
    local_list(database, "News", "ann@acme.com", "bob@acme.com")
    assert service.commit(service.plan("push")).status == COMPLETED
    # Changed here: Ann's job title (she goes through the import), and a new list for both.
    with database.session() as session:
        ann = session.scalar(select(Contact).where(Contact.email == "ann@acme.com"))
        ann.job_title = "Buyer"
    local_list(database, "Promo", "ann@acme.com", "bob@acme.com")
    plan = service.plan("push")
    assert "ann@acme.com" in set(plan["contacts_update"]["email"])
    account = sandbox.account("demo")
    unsubscribed = []

    def unsubscribe_during_the_push(fraction, message):
        # Ann clicks "unsubscribe" in a campaign email (or someone unsubscribes her in CTCT's
        # own screens) while CTCT processes the import.
        if "processing" in message and not unsubscribed:
            contact = account.contacts[account.by_email["ann@acme.com"]]
            account.unsubscribe(contact, source, sandbox.now())
            unsubscribed.append(True)

    result = service.commit(plan, progress=unsubscribe_during_the_push)
    assert unsubscribed
    ann_in_ctct = active_client.contacts.find_by_email("ann@acme.com")
    assert ann_in_ctct["email_address"]["permission_to_send"] == "unsubscribed"
    assert ann_in_ctct["list_memberships"] == []
    assert remote_members(active_client, "Promo") == ["bob@acme.com"]
    assert remote_members(active_client, "News") == ["bob@acme.com"]
    # What did not apply is said, and it is not recorded as agreed: the pull takes the unsubscribe.
    assert result.status == COMPLETED_WITH_ERRORS
    assert "ann@acme.com" in {row["email"] for row in result.failed}
    assert service.commit(service.plan("pull")).status == COMPLETED
    with database.session() as session:
        assert (
            session.scalar(select(Contact.email_status).where(Contact.email == "ann@acme.com"))
            == EmailStatus.UNSUBSCRIBED
        )
        for name in ("News", "Promo"):
            assert "ann@acme.com" not in lists.member_emails(session, lists.get_list(session, name))
    assert "ann@acme.com" not in set(service.plan("push")["memberships_add"]["email"])
    assert set(remote_lists(active_client)) >= {"News", "Promo"}


def test_a_company_the_import_made_up_is_not_written_back_to_ctct(service, database, active_client, sandbox):
    account = sandbox.account("demo")
    news = account.create_list("Readers", sandbox.now())
    for email in ("reader0@readers.example", "reader1@gmail.com"):
        account.add_membership(account.new_contact(email, sandbox.now(), "Account", "implicit"), news.list_id)
    assert service.commit(service.plan("import")).status == COMPLETED
    # The CRM needs a company: the import took the domain, or the person, for it. CTCT has none.
    push = service.plan("push")
    assert push["contacts_update"].empty, push["contacts_update"][["email", "company"]]
    # A company typed here afterwards is a change, and goes.
    with database.session() as session:
        company = session.scalar(select(Company).join(Contact).where(Contact.email == "reader0@readers.example"))
        company.name = "Readers Club"
    push = service.plan("push")
    assert push["contacts_update"]["email"].tolist() == ["reader0@readers.example"]


def test_a_pull_warns_about_role_addresses_and_look_alike_companies_and_push_does_not_skip_them_forever(
    service, database, active_client, sandbox
):
    crm(database, ("ann@acmemotors.com", "Ann"), company="Acme Motors Partners Corp.")
    local_list(database, "News", "ann@acmemotors.com")
    assert service.commit(service.plan("push")).status == COMPLETED
    account = sandbox.account("demo")
    news = next(item for item in account.lists.values() if item.name == "News")
    role = account.new_contact("sales@acme.example", sandbox.now(), "Account", "implicit")
    account.add_membership(role, news.list_id)
    lookalike = account.new_contact("bo@partners.example", sandbox.now(), "Account", "implicit")
    lookalike.company_name = "Acme Motor Partners"
    account.add_membership(lookalike, news.list_id)
    pull = service.plan("pull")
    messages = [warning.message for warning in pull.warnings]
    assert any("role address" in message and "sales@acme.example on 'News'" in message for message in messages)
    assert any("'Acme Motor Partners' looks like 'Acme Motors Partners Corp.'" in m for m in messages), messages
    assert service.commit(pull).status == COMPLETED
    # Here it is CRM data and a member, never selectable; a push leaves it alone without a word.
    push = service.plan("push")
    assert push["skipped"].empty, push["skipped"]
    assert push["memberships_remove"].empty
    assert "sales@acme.example" in remote_members(active_client, "News")
