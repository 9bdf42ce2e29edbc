import pytest
from sqlalchemy import func, select

from ctct import lists
from ctct.crm import services
from ctct.db.models import CompanyKind, Contact, ListMembership
from ctct.errors import Conflict, InvalidInput, NotFound


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
        with pytest.raises(NotFound):
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
        with pytest.raises(Conflict):
            services.create_tag(session, "  apparel sports WEAR ")
        services.create_tag(session, "VIP")
        company = services.create_company(session, "Acme", tags=["vip"])
        services.assign_tags(session, company.id, ["Apparel Sports Wear", "VIP"])
        assert sorted(t.name for t in company.tags) == ["Apparel Sports Wear", "VIP"]
        services.rename_tag(session, "vip", "Key Accounts")
        with pytest.raises(Conflict):
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
        with pytest.raises(NotFound, match="no marketing tag named 'Nope'"):
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
