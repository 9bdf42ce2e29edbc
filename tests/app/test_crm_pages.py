"""Customers & Prospects and Settings → Marketing Tags, as a marketing-ops user walks through them
(AppTest against a real SQLite database with demo data)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ctct import lists
from ctct.crm import demo, services
from ctct.db import Database
from ctct.db.models import Contact
from ctct.sandbox.process import running_sandbox
from tests.activated import activate_database, sandbox_env

customers = SimpleNamespace(PAGE_ROWS=100, COMPANY_CHOICES=50)  # views/customers.py's page sizes

APP = str(Path(__file__).resolve().parents[2] / "app.py")
ADD_COMPANY = "FormSubmitter:customers_company-Add company"
ADD_CONTACT = "FormSubmitter:customers_contact-Add contact"
SAVE_CONTACT = "FormSubmitter:customers_edit_contact_form-Save contact"
DOOMED = "Doomed **Traders** <b>Ltd</b>"  # Markdown and HTML in a name show as typed


@pytest.fixture
def app(sqlite_url, monkeypatch):
    database = Database(sqlite_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
    database.dispose()
    monkeypatch.setenv("CTCT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CTCT_DEMO_MODE", "1")
    app = AppTest.from_file(APP, default_timeout=30)
    app.run()
    return app


@pytest.fixture(scope="module")
def sandbox_url():
    with running_sandbox() as url:
        yield url


@pytest.fixture
def active_app(sqlite_url, sandbox_url, tmp_path, monkeypatch):
    """The console with Constant Contact activated: what a deletion says about CTCT depends on it."""
    database = Database(sqlite_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
    database.dispose()
    key_file = tmp_path / "console.key"
    activate_database(sqlite_url, sandbox_url, str(key_file))
    for name, value in {**sandbox_env(sandbox_url), "CTCT_DATABASE_URL": sqlite_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CTCT_SECRET_KEY_FILE", str(key_file))
    monkeypatch.setenv("CTCT_DEMO_MODE", "1")
    app = AppTest.from_file(APP, default_timeout=30)
    app.run()
    return app


@pytest.fixture
def db(sqlite_url):
    database = Database(sqlite_url)
    yield database
    database.dispose()


def shown(markdown: str) -> str:
    """What a user reads of Markdown made by `plain`: no escapes, no code-span backticks."""
    return markdown.replace("\\", "").replace("`", "")


def an_eligible_contact(db) -> dict:
    with db.session() as session:
        frame = lists.contacts_frame(session)
    return frame[frame["eligible"]].iloc[0].to_dict()


def test_add_contact_refuses_an_email_another_contact_has_and_keeps_what_was_typed(app, db):
    holder = an_eligible_contact(db)
    app.switch_page("views/customers.py").run()
    typed = {
        "customers_contact_first": "Dana",
        "customers_contact_last": "Duplicate",
        "customers_contact_email": f"  {holder['email'].upper()} ",
        "customers_contact_title": "Buyer",
    }
    for key, value in typed.items():
        app.text_input(key=key).input(value)
    app.button(key=ADD_CONTACT).click().run()
    assert not app.exception
    [error] = [shown(block.value) for block in app.error]
    who = f"{holder['first_name']} {holder['last_name']} (#{holder['contact_id']}) of {holder['company']}"
    assert f"email '{holder['email'].upper()}' already belongs to {who}" in error
    # Refused: nothing stored, and every field still holds what was typed.
    with db.session() as session:
        assert len(services.find_contacts_by_email(session, holder["email"])) == 1
    assert {key: app.text_input(key=key).value for key in typed} == typed

    app.text_input(key="customers_contact_email").input("dana@example.org")
    app.button(key=ADD_CONTACT).click().run()
    assert not app.error
    assert any("Added Dana Duplicate" in shown(toast.value) for toast in app.toast)
    assert {key: app.text_input(key=key).value for key in typed} == dict.fromkeys(typed, "")  # cleared on success
    with db.session() as session:
        assert services.find_contacts_by_email(session, "dana@example.org")[0].job_title == "Buyer"


def test_a_refused_company_keeps_its_fields_and_the_message_names_the_value_whole(app):
    app.switch_page("views/customers.py").run()
    formula = '=HYPERLINK("http://x.example","Click")'
    app.text_input(key="customers_company_name").input(formula)
    app.radio(key="customers_company_kind").set_value("prospect")
    app.text_input(key="customers_company_email").input("hello@zed.example")
    app.button(key=ADD_COMPANY).click().run()
    [error] = [shown(block.value) for block in app.error]
    assert f"company name {formula!r} looks like a spreadsheet formula" in error  # whole, as typed
    assert app.text_input(key="customers_company_name").value == formula
    assert app.radio(key="customers_company_kind").value == "prospect"
    assert app.text_input(key="customers_company_email").value == "hello@zed.example"


def test_a_new_company_is_offered_in_the_contact_form_at_once(app, db):
    app.switch_page("views/customers.py").run()
    app.text_input(key="customers_company_name").input("Zed Sports")
    app.radio(key="customers_company_kind").set_value("prospect")
    app.text_input(key="customers_company_email").input("hello@zed.example")
    app.button(key=ADD_COMPANY).click().run()
    assert not app.error
    with db.session() as session:
        [zed] = services.find_companies_by_name(session, "zed sports")
        zed_id = zed.id
    # The run that added it already offers it in the contact form, chosen; the form is empty again.
    picker = app.selectbox(key="customers_contact_company")
    assert f"Zed Sports · #{zed_id}" in picker.options
    assert picker.value == zed_id
    assert app.text_input(key="customers_company_name").value == ""
    assert app.text_input(key="customers_company_email").value == ""
    assert app.radio(key="customers_company_kind").value == "customer"
    assert any("Added the prospect 'Zed Sports'" in shown(toast.value) for toast in app.toast)


def test_editing_a_contact_to_another_contacts_email_is_refused(app, db):
    holder = an_eligible_contact(db)
    with db.session() as session:
        company = services.create_company(session, "Other Co")
        mover = services.create_contact(session, company.id, email="mover@other.example", first_name="Mo")
        mover_id = mover.id
    app.switch_page("views/customers.py").run()
    app.text_input(key="customers_edit_find").input("mover@other.example").run()
    app.text_input(key=f"customers_edit_email_{mover_id}").input(holder["email"])
    app.button(key=SAVE_CONTACT).click().run()
    [error] = [shown(block.value) for block in app.error]
    assert f"already belongs to {holder['first_name']} {holder['last_name']}" in error
    assert "nothing was changed" in error
    assert app.text_input(key=f"customers_edit_email_{mover_id}").value == holder["email"]  # kept to correct
    with db.session() as session:
        assert services.get_contact(session, mover_id).email == "mover@other.example"


def test_deleting_a_company_asks_first_and_says_what_goes_here_and_in_constant_contact(active_app, db):
    app = active_app
    with db.session() as session:
        company = services.create_company(session, DOOMED)
        for email in ("ann@doomed.example", "bo@doomed.example"):
            services.create_contact(session, company.id, email=email, first_name="X")
        lists.create_list(session, "Newsletter").ctct_list_id = "ctct-newsletter"
        lists.add_members(session, "Newsletter", ["ann@doomed.example", "bo@doomed.example"])
        company_id = company.id
    app.switch_page("views/customers.py").run()
    app.selectbox(key="customers_edit_target").set_value(company_id).run()
    app.button(key="customers_delete_company").click().run()
    text = shown(" ".join(block.value for block in app.markdown))
    assert f"'{DOOMED}' is deleted with its 2 contact(s) and their 2 email-list membership(s) (Newsletter)" in text
    assert r"\*\*Traders\*\* \<b\>" in " ".join(block.value for block in app.markdown)  # shown as typed
    assert "no contact is deleted there. The next push" in text
    assert "takes the deleted contact(s) off Newsletter there. Until that push, a pull brings them back here" in text
    app.button(key="customers_delete_company_cancel").click().run()
    with db.session() as session:
        assert services.get_company(session, company_id)  # nothing happened

    app.button(key="customers_delete_company").click().run()
    app.button(key="customers_delete_company_confirm").click().run()
    assert not app.exception
    assert any(f"Deleted '{DOOMED}' with 2 contact(s)" in shown(toast.value) for toast in app.toast)
    with db.session() as session:
        assert not services.find_companies_by_name(session, DOOMED)
        assert not services.find_contacts_by_email(session, "ann@doomed.example")
    for picker in ("customers_edit_target", "customers_contact_company"):
        assert f"{DOOMED} · #{company_id}" not in app.selectbox(key=picker).options


def test_deleting_a_contact_asks_first(app, db):
    holder = an_eligible_contact(db)
    app.switch_page("views/customers.py").run()
    app.text_input(key="customers_edit_find").input(holder["email"]).run()
    app.button(key="customers_delete_contact").click().run()
    text = shown(" ".join(block.value for block in app.markdown))
    who = f"{holder['first_name']} {holder['last_name']} (#{holder['contact_id']}, {holder['email']})"
    assert f"{who} of {holder['company']} is deleted; it is on no email list" in text
    assert "**In Constant Contact:** not connected, so nothing changes there." in text
    app.button(key="customers_delete_contact_confirm").click().run()
    assert not app.exception
    assert any(f"Deleted {holder['first_name']} {holder['last_name']}" in shown(toast.value) for toast in app.toast)
    with db.session() as session:
        assert session.get(Contact, int(holder["contact_id"])) is None
        assert session.scalars(select(Contact)).first() is not None  # only that one


def test_marketing_tags_show_their_companies_come_off_one_and_delete_asks_first(app, db):
    app.switch_page("views/marketing_tags.py").run()
    assert not app.exception
    with db.session() as session:
        expected = {row.tag: list(row.companies) for row in services.tags_with_companies(session)}
        tag = next(name for name, companies in expected.items() if len(companies) >= 2)
        carriers = services.tag_companies(session, tag)
    table = app.dataframe[0].value.set_index("Tag")
    assert table["Carried by"].map(list).to_dict() == expected
    assert table["Companies"].to_dict() == {name: len(companies) for name, companies in expected.items()}

    # Take the tag off one company: the table says so at once.
    app.selectbox(key="tags_chosen").set_value(tag).run()
    first_id, first_name = carriers[0]
    assert app.multiselect(key="tags_remove_from").options == [f"{name} · #{cid}" for cid, name in carriers]
    app.multiselect(key="tags_remove_from").set_value([first_id]).run()
    app.button(key="tags_unassign").click().run()
    assert not app.error
    assert any(f"Took '{tag}' off '{first_name}'" in shown(toast.value) for toast in app.toast)
    table = app.dataframe[0].value.set_index("Tag")
    assert first_name not in list(table.loc[tag, "Carried by"])
    assert table.loc[tag, "Companies"] == len(carriers) - 1

    # Delete asks first and names how many companies carry the tag; Cancel leaves it.
    app.button(key="tags_delete").click().run()
    text = shown(" ".join(block.value for block in app.markdown))
    assert f"It is taken off the {len(carriers) - 1} companies that carry it" in text
    app.button(key="tags_delete_cancel").click().run()
    assert tag in app.dataframe[0].value["Tag"].tolist()
    app.button(key="tags_delete").click().run()
    app.button(key="tags_delete_confirm").click().run()
    assert not app.exception
    assert tag not in app.dataframe[0].value["Tag"].tolist()
    assert any(f"Deleted the tag '{tag}'" in shown(toast.value) for toast in app.toast)


def test_a_refused_tag_name_keeps_what_was_typed(app):
    app.switch_page("views/marketing_tags.py").run()
    app.text_input(key="tags_new_name").input("apparel sports WEAR")
    app.button(key="FormSubmitter:tags_new-Create").click().run()
    assert any("already exists" in block.value for block in app.error)
    assert app.text_input(key="tags_new_name").value == "apparel sports WEAR"
    app.text_input(key="tags_new_name").input("Golf Clubs")
    app.button(key="FormSubmitter:tags_new-Create").click().run()
    assert app.text_input(key="tags_new_name").value == ""
    assert "Golf Clubs" in app.dataframe[0].value["Tag"].tolist()


@pytest.fixture
def many_app(sqlite_url, monkeypatch):
    """More contacts than the Contacts table holds at a time, more companies than a picker offers."""
    database = Database(sqlite_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=70)
    database.dispose()
    monkeypatch.setenv("CTCT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CTCT_DEMO_MODE", "1")
    app = AppTest.from_file(APP, default_timeout=30)
    app.run()
    app.switch_page("views/customers.py").run()
    return app


def contacts_caption(app) -> str:
    return next(caption.value for caption in app.caption if "can be put on email lists" in caption.value)


def test_the_contacts_table_sends_one_page_and_the_next_page_goes_on(many_app, db):
    app = many_app
    with db.session() as session:
        everyone = lists.contacts_frame(session)
    assert len(everyone) > customers.PAGE_ROWS
    first = app.dataframe[0].value
    # One page of rows, the first ones in the grid's order; the caption counts them all.
    assert first["email"].tolist() == everyone["email"].head(customers.PAGE_ROWS).tolist()
    assert f"{len(everyone):,} contacts" in contacts_caption(app)
    assert f"rows 1–{customers.PAGE_ROWS} shown" in contacts_caption(app)

    app.number_input(key="customers_page").set_value(2).run()
    second = app.dataframe[0].value
    assert second["email"].tolist() == everyone["email"].iloc[customers.PAGE_ROWS : 2 * customers.PAGE_ROWS].tolist()
    # A new filter starts again at its first page.
    app.radio(key="customers_type").set_value("Prospect only").run()
    prospects = everyone[everyone["company_kind"] == "prospect"]
    assert app.dataframe[0].value["email"].tolist() == prospects["email"].head(customers.PAGE_ROWS).tolist()


def test_search_finds_a_contact_past_the_first_page(many_app, db):
    app = many_app
    with db.session() as session:
        everyone = lists.contacts_frame(session)
    late = everyone.iloc[-1]
    assert late["email"] not in app.dataframe[0].value["email"].tolist()
    app.text_input(key="customers_search").input(late["email"]).run()
    assert late["email"] in app.dataframe[0].value["email"].tolist()


def test_a_company_picker_offers_what_its_search_finds_and_saves_the_one_found(many_app, db):
    app = many_app
    with db.session() as session:
        companies = services.company_choices(session)
    assert len(companies) > customers.COMPANY_CHOICES
    picker = app.selectbox(key="customers_edit_target")
    assert len(picker.options) == customers.COMPANY_CHOICES  # never every company
    assert f"{len(companies):,} found" in picker.label
    late_id, late_name = companies[-1]
    assert f"{late_name} · #{late_id}" not in picker.options

    app.text_input(key="customers_edit_target_find").input(late_name.upper()).run()
    picker = app.selectbox(key="customers_edit_target")
    assert picker.value == late_id  # the search chose the company it found
    app.text_input(key="customers_edit_name").input("Found And Renamed")
    app.button(key="FormSubmitter:customers_edit_company-Save").click().run()
    assert not app.error
    with db.session() as session:
        assert services.get_company(session, late_id).name == "Found And Renamed"
    assert any("renamed from" in shown(toast.value) for toast in app.toast)

    # The contact form's picker searches too, by the id its labels carry.
    app.text_input(key="customers_contact_company_find").input(f"#{late_id}").run()
    assert app.selectbox(key="customers_contact_company").value == late_id
    for key, value in {"customers_contact_first": "Nia", "customers_contact_email": "nia@found.example"}.items():
        app.text_input(key=key).input(value)
    app.button(key=ADD_CONTACT).click().run()
    assert not app.error
    with db.session() as session:
        [nia] = services.find_contacts_by_email(session, "nia@found.example")
        assert nia.company_id == late_id


def test_a_company_search_that_finds_nothing_says_so(many_app):
    app = many_app
    app.text_input(key="customers_edit_target_find").input("no such company anywhere").run()
    # The company already chosen stays offered: a search that finds nothing takes nothing away.
    assert len(app.selectbox(key="customers_edit_target").options) == 1
    assert not app.exception
