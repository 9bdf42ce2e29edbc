import pytest

from ctct import lists
from ctct.crm import services
from ctct.db.models import Contact, EmailStatus
from ctct.errors import IneligibleContacts, InvalidInput, RecordConflict, RecordNotFound


@pytest.fixture
def crm(database):
    """Two companies with one contact per eligibility rule."""
    with database.session() as session:
        services.create_tag(session, "Apparel Sports Wear")
        acme = services.create_company(
            session, "Acme", "customer", email="hello@acme.com", tags=["Apparel Sports Wear"]
        )
        beta = services.create_company(session, "Beta Foods", "prospect")
        for email, first in [
            ("ann@acme.com", "Ann"),
            ("hello@acme.com", "Front Desk"),  # the company's general address (rule 1)
            ("sales@acme.com", "Sales"),  # role address (rule 3)
            ("tina@acme.com", "Tina"),  # unsubscribed (rule 4)
            ("pat@acme.com", "Pat"),  # shared with Beta's Sam (rule 5)
        ]:
            services.create_contact(session, acme.id, email=email, first_name=first)
        # A shared email is refused at entry (SPEC §3); this pair, like the demo's, is made on purpose.
        session.add(Contact(company_id=beta.id, email="PAT@acme.com", email_key="pat@acme.com", first_name="Sam"))
        services.create_contact(session, beta.id, email="bo@beta.com", first_name="Bo", job_title="Buyer")
        tina = services.find_contacts_by_email(session, "tina@acme.com")[0]
        tina.email_status = EmailStatus.UNSUBSCRIBED
    return database


def test_list_names_are_validated_and_unique(database):
    with database.session() as session:
        created = lists.create_list(session, "  Newsletter  ")
        assert created.name == "Newsletter"
        for bad, fragment in [("", "required"), ("   ", "required"), ("x" * 256, "255"), ("Bad\tName", "control")]:
            with pytest.raises(InvalidInput, match=fragment):
                lists.create_list(session, bad)
        with pytest.raises(RecordConflict, match="already exists"):
            lists.create_list(session, "NEWSLETTER")
        lists.create_list(session, "Events")
        with pytest.raises(RecordConflict):
            lists.rename_list(session, "events", "newsletter")
        lists.rename_list(session, "events", "Events 2026")
        lists.rename_list(session, "Events 2026", "EVENTS 2026")  # a change of case is a rename
        assert [(email_list.name, members) for email_list, members in lists.all_lists(session)] == [
            ("EVENTS 2026", 0),
            ("Newsletter", 0),
        ]
        lists.delete_list(session, "newsletter")
        with pytest.raises(RecordNotFound):
            lists.delete_list(session, "newsletter")


def test_the_grid_frame_shows_each_reason(crm):
    with crm.session() as session:
        frame = lists.contacts_frame(session).set_index("email")
    reasons = frame["ineligible_reason"].to_dict()
    assert reasons["ann@acme.com"] is None
    assert reasons["bo@beta.com"] is None
    assert reasons["hello@acme.com"] == "company general address, not a contact"
    assert reasons["sales@acme.com"].startswith("role address (sales@)")
    assert reasons["tina@acme.com"] == "unsubscribed"
    assert reasons["pat@acme.com"].startswith("email shared with 1 other contact")
    assert reasons["PAT@acme.com"].startswith("email shared with 1 other contact")
    assert frame.loc["ann@acme.com", "tags"] == "Apparel Sports Wear"
    assert frame.loc["bo@beta.com", "company_kind"] == "prospect"


def test_add_by_email_refuses_all_when_one_is_ineligible(crm):
    with crm.session() as session:
        lists.create_list(session, "Newsletter")
    with pytest.raises(IneligibleContacts) as caught, crm.session() as session:
        lists.add_members(session, "Newsletter", ["ann@acme.com", "tina@acme.com", "ghost@acme.com"])
    assert ("tina@acme.com", "unsubscribed") in caught.value.refused
    assert ("ghost@acme.com", "no contact has this email") in caught.value.refused
    with crm.session() as session:
        assert lists.member_emails(session, lists.get_list(session, "Newsletter")) == []
        result = lists.add_members(session, "newsletter", ["ANN@acme.com", "bo@beta.com"])
        assert (result.added, result.already_members) == (2, 0)
        again = lists.add_members(session, "newsletter", ["ann@acme.com"])
        assert (again.added, again.already_members) == (0, 1)


def test_add_by_contact_id_refuses_ineligible(crm):
    with crm.session() as session:
        lists.create_list(session, "Newsletter")
        frame = lists.contacts_frame(session).set_index("email")
        with pytest.raises(IneligibleContacts, match="role address"):
            lists.add_contacts(session, "Newsletter", [int(frame.loc["sales@acme.com", "contact_id"])])
        result = lists.add_contacts(session, "Newsletter", [int(frame.loc["ann@acme.com", "contact_id"])])
        assert result.added == 1


@pytest.mark.parametrize(
    ("contact_filter", "added"),
    [
        (lists.ContactFilter(), {"ann@acme.com", "bo@beta.com"}),
        (lists.ContactFilter(contact_type=lists.ContactType.CUSTOMER), {"ann@acme.com"}),
        (lists.ContactFilter(contact_type=lists.ContactType.PROSPECT), {"bo@beta.com"}),
        (lists.ContactFilter(tags=("apparel sports wear",)), {"ann@acme.com"}),
        (lists.ContactFilter(search="BUYER"), {"bo@beta.com"}),
        (lists.ContactFilter(search="beta foods"), {"bo@beta.com"}),
    ],
)
def test_select_all_adds_the_eligible_rows_of_the_filter(crm, contact_filter, added):
    with crm.session() as session:
        lists.create_list(session, "L")
        result = lists.add_matching(session, "L", contact_filter)
        assert set(lists.member_emails(session, lists.get_list(session, "L"))) == added
        assert result.added == len(added)


def test_select_all_reports_what_it_skipped(crm):
    with crm.session() as session:
        lists.create_list(session, "L")
        result = lists.add_matching(session, "L", lists.ContactFilter())
    assert result.skipped["unsubscribed"] == 1
    assert result.skipped["company general address, not a contact"] == 1
    assert sum(result.skipped.values()) == 5


def test_unknown_tag_filter_is_an_error(crm):
    with crm.session() as session:
        lists.create_list(session, "L")
        with pytest.raises(RecordNotFound, match="no marketing tag named 'Golf'"):
            lists.add_matching(session, "L", lists.ContactFilter(tags=("Golf",)))


def test_remove_members(crm):
    with crm.session() as session:
        lists.create_list(session, "L")
        lists.add_members(session, "L", ["ann@acme.com", "bo@beta.com"])
        with pytest.raises(RecordNotFound, match="not members"):
            lists.remove_members(session, "L", ["ann@acme.com", "tina@acme.com"])
        assert lists.remove_members(session, "L", ["Ann@Acme.com"]).removed == 1
        email_list = lists.get_list(session, "L")
        assert lists.member_emails(session, email_list) == ["bo@beta.com"]
        frame = lists.contacts_frame(session, email_list=email_list).set_index("email")
        assert bool(frame.loc["bo@beta.com", "member"]) and not bool(frame.loc["ann@acme.com", "member"])


def test_bulk_actions_beyond_the_parameter_limit(database):
    from ctct.crm import demo

    with database.session() as session:
        demo.load_demo_data(session, companies=4000)
        lists.create_list(session, "Everyone")
        frame = lists.contacts_frame(session)
        eligible = frame.loc[frame["eligible"], "contact_id"].astype(int).tolist()
        assert len(eligible) > lists.IN_CHUNK
        assert lists.add_contacts(session, "Everyone", eligible).added == len(eligible)
        emails = frame.loc[frame["eligible"], "email"].tolist()
        assert lists.remove_members(session, "Everyone", emails).removed == len(eligible)


def test_search_finds_text_in_one_field_never_across_two(crm):
    with crm.session() as session:
        everyone = lists.contacts_frame(session)
        found = lists.filter_contacts(session, everyone, lists.ContactFilter(search="  Beta   FOODS "))
        assert set(found["email"]) == {"PAT@acme.com", "bo@beta.com"}
        # "Foods" ends the company name and "Sam" starts a first name: no match across them.
        assert lists.filter_contacts(session, everyone, lists.ContactFilter(search="foods sam")).empty
        assert lists.filter_contacts(session, everyone, lists.ContactFilter(search="50%")).empty


def test_crm_version_moves_with_edits(crm):
    with crm.session() as session:
        before = lists.crm_version(session)
        contact = services.find_contacts_by_email(session, "bo@beta.com")[0]
        services.update_contact(session, contact.id, job_title="Head Buyer")
    with crm.session() as session:
        assert lists.crm_version(session) != before
