import pytest
from sqlalchemy import func, select

from ctct import lists
from ctct.crm import services
from ctct.db.models import CompanyKind, Contact, ListMembership
from ctct.errors import InvalidInput, RecordConflict, RecordNotFound


def test_company_lifecycle(database):
    with database.session() as session:
        company = services.create_company(session, "  ACME, Inc. ", "prospect", email="Info@Acme.com")
        company_id = company.id
        assert (company.name, company.name_key, company.kind) == ("ACME, Inc.", "acme", CompanyKind.PROSPECT)
        assert company.email_key == "info@acme.com"
    with database.session() as session:
        services.update_company(session, company_id, name="Acme Sports", kind="customer")
        assert [c.id for c in services.find_companies_by_name(session, "acme sports llc")] == [company_id]
    with database.session() as session:
        services.delete_company(session, company_id)
        with pytest.raises(RecordNotFound):
            services.get_company(session, company_id)


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 256}, "name", "longer than 255"),
        ({"name": "=cmd|' /C calc'!A0"}, "name", "formula"),
        ({"kind": "partner"}, "kind", "customer' or 'prospect"),
        ({"email": "not-an-email"}, "company email", "not valid"),
        ({"name": "Acme\x00"}, "name", "control characters"),
    ],
)
def test_bad_company_input_names_the_field(database, fields, field, fragment):
    with database.session() as session:
        company = services.create_company(session, "Acme")
        with pytest.raises(InvalidInput) as caught:
            services.update_company(session, company.id, **fields)
    assert caught.value.field == field and fragment in caught.value.message


def test_contact_lifecycle_and_validation(database):
    with database.session() as session:
        company = services.create_company(session, "Acme")
        contact = services.create_contact(
            session, company.id, email=" Ann.Lee@Acme.com ", first_name="Ann", last_name="Lee", job_title="Owner"
        )
        contact_id = contact.id
        assert (contact.email, contact.email_key, contact.full_name) == (
            "Ann.Lee@Acme.com",
            "ann.lee@acme.com",
            "Ann Lee",
        )
    with database.session() as session:
        with pytest.raises(InvalidInput) as caught:
            services.update_contact(session, contact_id, email="ann@@acme")
        assert caught.value.field == "email"
    with database.session() as session:
        # The refused edit left the old value.
        assert services.get_contact(session, contact_id).email == "Ann.Lee@Acme.com"
        services.update_contact(session, contact_id, job_title="CEO", email="ann@acme.com")
        assert [c.id for c in services.find_contacts_by_email(session, "ANN@acme.com")] == [contact_id]
        with pytest.raises(InvalidInput, match="longer than 50"):
            services.update_contact(session, contact_id, first_name="A" * 51)


def test_deleting_a_company_deletes_its_contacts_and_memberships(database):
    with database.session() as session:
        company = services.create_company(session, "Acme")
        services.create_contact(session, company.id, email="ann@acme.com")
        lists.create_list(session, "Newsletter")
        lists.add_members(session, "Newsletter", ["ann@acme.com"])
        company_id = company.id
    with database.session() as session:
        services.delete_company(session, company_id)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        assert session.scalar(select(func.count()).select_from(ListMembership)) == 0


def test_tags_create_rename_delete_assign(database):
    with database.session() as session:
        services.create_tag(session, "Apparel Sports Wear")
        with pytest.raises(RecordConflict):
            services.create_tag(session, "  apparel sports WEAR ")
        services.create_tag(session, "VIP")
        company = services.create_company(session, "Acme", tags=["vip"])
        services.assign_tags(session, company.id, ["Apparel Sports Wear", "VIP"])
        assert sorted(t.name for t in company.tags) == ["Apparel Sports Wear", "VIP"]
        services.rename_tag(session, "vip", "Key Accounts")
        with pytest.raises(RecordConflict):
            services.rename_tag(session, "Key Accounts", "apparel sports wear")
        other = services.create_company(session, "Beta", tags=["Key Accounts"])
        assert services.tag_usage(session) == [("Apparel Sports Wear", 1), ("Key Accounts", 2)]
        services.delete_company(session, other.id)
        services.create_tag(session, "Unused")
        assert services.tag_usage(session)[-1] == ("Unused", 0)
        services.delete_tag(session, "Unused")
        services.unassign_tags(session, company.id, ["Key Accounts"])
        assert [t.name for t in company.tags] == ["Apparel Sports Wear"]
        services.delete_tag(session, "Apparel Sports Wear")
        session.refresh(company)
        assert company.tags == []
        assert [t.name for t in services.list_tags(session)] == ["Key Accounts"]
        with pytest.raises(RecordNotFound, match="no marketing tag named 'Nope'"):
            services.assign_tags(session, company.id, ["Nope"])
        with pytest.raises(InvalidInput):
            services.create_tag(session, "   ")


def test_a_failed_action_changes_nothing(database):
    with database.session() as session:
        services.create_company(session, "Acme")
    with pytest.raises(InvalidInput), database.session() as session:
        services.create_company(session, "Beta")
        services.create_company(session, "")  # the whole action rolls back
    with database.session() as session:
        assert services.find_companies_by_name(session, "Beta") == []


# SPEC §3: a new email another contact already has is refused at entry, naming that contact.


def test_a_new_email_another_contact_has_is_refused_naming_that_contact(database):
    with database.session() as session:
        acme = services.create_company(session, "Acme")
        beta = services.create_company(session, "Beta Foods")
        ann = services.create_contact(session, acme.id, email="ann@acme.com", first_name="Ann", last_name="Lee")
        bo = services.create_contact(session, beta.id, email="bo@beta.com", first_name="Bo")
        ann_id, bo_id = ann.id, bo.id
    for email in ("ann@acme.com", " ANN@Acme.com "):
        with pytest.raises(RecordConflict) as caught, database.session() as session:
            services.create_contact(session, beta.id, email=email, first_name="Sam")
        message = str(caught.value)
        assert f"email '{email.strip()}' already belongs to Ann Lee (#{ann_id}) of Acme:" in message
    with pytest.raises(RecordConflict, match="Ann Lee"), database.session() as session:
        services.update_contact(session, bo_id, email="Ann@ACME.com", job_title="Buyer")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 2
        bo = services.get_contact(session, bo_id)
        assert (bo.email, bo.job_title) == ("bo@beta.com", None)  # the refused edit changed nothing
        # A contact may change the case of its own email, and keep it while other fields change.
        services.update_contact(session, ann_id, email="Ann@Acme.com", job_title="Owner")
        services.update_contact(session, ann_id, email="ann@acme.com")


def test_contacts_that_share_an_email_already_stay_editable(database):
    """The demo's pair shares one email on purpose (rule 5 in the grid): editing either one's other
    fields works; only moving a third contact onto that email is refused."""
    from ctct.crm import demo

    with database.session() as session:
        demo.load_demo_data(session, companies=12)
        shared = [contacts for contacts in _by_email(session).values() if len(contacts) == 2]
        assert len(shared) == 1
        first, second = shared[0]
        services.update_contact(session, second.id, job_title="Shares a mailbox")
        services.update_contact(session, first.id, email=first.email.upper())  # same email, other case
        other = session.scalars(select(Contact).where(Contact.email_key != first.email_key)).first()
        with pytest.raises(RecordConflict, match=rf"\(#{first.id}\) of "):
            services.update_contact(session, other.id, email=first.email)


def _by_email(session) -> dict[str, list[Contact]]:
    grouped: dict[str, list[Contact]] = {}
    for contact in session.scalars(select(Contact).order_by(Contact.id)):
        grouped.setdefault(contact.email_key, []).append(contact)
    return grouped


# SPEC §10: a refusal names the field and the value, whole or visibly shortened with "…".


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"name": '=HYPERLINK("http://x.example","Click")'}, repr('=HYPERLINK("http://x.example","Click")')),
        ({"name": "@SUM(A1:A9)"}, "'@SUM(A1:A9)'"),
        ({"name": "Acme\x07"}, r"'Acme\x07'"),
        ({"name": "A" * 300}, repr("A" * 60) + "…"),
        ({"email": "x" * 90 + "@acme.com"}, repr("x" * 60) + "…"),
        ({"email": "=x@acme.com"}, "'=x@acme.com'"),
    ],
)
def test_a_refusal_names_the_value_whole_or_visibly_shortened(database, fields, shown):
    with database.session() as session:
        company = services.create_company(session, "Acme")
        with pytest.raises(InvalidInput) as caught:
            services.update_company(session, company.id, **fields)
    assert caught.value.message.count(shown) == 1


def test_a_formula_is_never_quoted_cut_without_a_sign(database):
    with database.session() as session:
        company = services.create_company(session, "Acme")
        with pytest.raises(InvalidInput) as caught:
            services.create_contact(
                session, company.id, email="ann@acme.com", first_name='=HYPERLINK("http://x.example")'
            )
    assert caught.value.field == "first_name"
    assert "'=HYPERLINK(\"http://x'" not in caught.value.message
    assert "'=HYPERLINK(\"http://x.example\")'" in caught.value.message


# Deleting companies and contacts: what goes with them, for the confirmation (views/customers.py).


def test_deleting_says_what_goes_with_it(database):
    with database.session() as session:
        acme = services.create_company(session, "Acme")
        beta = services.create_company(session, "Beta Foods")
        for email in ("ann@acme.com", "pat@acme.com", "zoe@acme.com"):
            services.create_contact(session, acme.id, email=email)
        services.create_contact(session, beta.id, email="bo@beta.com")
        lists.create_list(session, "Newsletter").ctct_list_id = "ctct-news"  # linked to CTCT
        lists.create_list(session, "Drafts")  # not (yet) in CTCT
        lists.add_members(session, "Newsletter", ["ann@acme.com", "pat@acme.com", "bo@beta.com"])
        lists.add_members(session, "Drafts", ["ann@acme.com"])
        acme_id, zoe_id = acme.id, services.find_contacts_by_email(session, "zoe@acme.com")[0].id
    with database.session() as session:
        impact = services.company_deletion_impact(session, acme_id)
        assert impact == services.DeletionImpact(
            name="Acme",
            contacts=3,
            memberships=3,
            lists=("Drafts", "Newsletter"),
            linked_lists=("Newsletter",),
        )
        zoe = services.contact_deletion_impact(session, zoe_id)
        assert (zoe.name, zoe.contacts, zoe.memberships, zoe.lists) == (
            f"a contact with no name (#{zoe_id}, zoe@acme.com) of Acme",
            1,
            0,
            (),
        )
        assert services.delete_contact(session, zoe_id) == zoe
        with pytest.raises(RecordNotFound):
            services.contact_deletion_impact(session, zoe_id)
    with database.session() as session:
        gone = services.delete_company(session, acme_id)
        assert (gone.contacts, gone.memberships) == (2, 3)
    with database.session() as session:
        assert [c.email for c in session.scalars(select(Contact))] == ["bo@beta.com"]
        assert session.scalar(select(func.count()).select_from(ListMembership)) == 1


def test_which_companies_carry_each_tag(database):
    with database.session() as session:
        for tag in ("VIP", "apparel", "Unused"):
            services.create_tag(session, tag)
        acme = services.create_company(session, "Acme", tags=["VIP", "apparel"])
        beta = services.create_company(session, "beta foods", tags=["VIP"])
        services.create_company(session, "Zed", tags=["vip"])
        assert services.tags_with_companies(session) == [
            services.TagCompanies("apparel", ("Acme",)),
            services.TagCompanies("Unused", ()),
            services.TagCompanies("VIP", ("Acme", "beta foods", "Zed")),
        ]
        assert [name for _, name in services.tag_companies(session, "vip")] == ["Acme", "beta foods", "Zed"]
        services.unassign_tags(session, beta.id, ["VIP"])
        assert services.delete_tag(session, "VIP") == 2
        assert services.delete_tag(session, "Unused") == 0
        session.refresh(acme)
        assert [tag.name for tag in acme.tags] == ["apparel"]
