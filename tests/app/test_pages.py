"""AppTest for each page, against a real SQLite database with demo data."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ctct.crm import demo
from ctct.crm.services import create_company
from ctct.db import Database

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(sqlite_url, monkeypatch):
    database = Database(sqlite_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
        create_company(session, "<script>alert(1)</script>")
    database.dispose()
    monkeypatch.setenv("CTCT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CTCT_DEMO_MODE", "1")
    return AppTest.from_file(APP, default_timeout=30)


def test_email_lists_page_creates_a_list(app):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Email Lists"
    assert "No email lists yet" in app.info[0].value
    app.text_input(key="email_lists_new_name").input("Apparel Sports Wear")
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert app.dataframe[0].value["List"].tolist() == ["Apparel Sports Wear"]
    app.text_input(key="email_lists_new_name").input("apparel sports wear")
    app.button[0].click().run()
    assert "already exists" in app.error[0].value


def test_customers_page_filters_and_shows_reasons(app):
    app.run()
    app.switch_page("pages/customers.py").run()
    assert not app.exception
    frame = app.dataframe[0].value
    assert frame["ineligible_reason"].dropna().str.contains("role address").any()
    everyone = len(frame)
    app.radio(key="customers_type").set_value("Prospect only").run()
    prospects = app.dataframe[0].value
    assert 0 < len(prospects) < everyone and set(prospects["company_kind"]) == {"prospect"}
    app.multiselect(key="customers_tags").set_value(["Apparel Sports Wear"]).run()
    assert app.dataframe[0].value["tags"].str.contains("Apparel Sports Wear").all()
    app.radio(key="customers_type").set_value("All").run()
    app.multiselect(key="customers_tags").set_value([]).run()
    app.text_input(key="customers_search").input("zzz-nobody").run()
    assert len(app.dataframe[0].value) == 0


def test_settings_page_starts_the_activation(app, monkeypatch, tmp_path):
    monkeypatch.setenv("CTCT_AUTH_BASE", "http://127.0.0.1:9/oauth2/default/v1")
    app.run()
    app.switch_page("pages/settings_ctct.py").run()
    assert not app.exception
    assert any("not activated" in block.value for block in app.markdown)
    app.button(key="settings_get_token").click().run()
    assert not app.exception
    assert "settings_login_url" in app.session_state
    assert app.session_state["settings_login_url"].startswith("http://127.0.0.1:9/oauth2/default/v1/authorize?")


def test_synchronize_page_asks_for_activation_first(app):
    app.run()
    app.switch_page("pages/synchronize.py").run()
    assert not app.exception and "Activate Constant Contact first" in app.info[0].value


def test_history_page_lists_runs_and_their_changes(app, sqlite_url):
    app.run()
    app.switch_page("pages/history.py").run()
    assert "No imports or syncs yet" in app.info[0].value
    from ctct.sync.journal import record_import_run

    record_import_run(Database(sqlite_url), "push", {"memberships_add": 3})
    app.run()
    assert not app.exception
    assert app.dataframe[0].value["Direction"].tolist() == ["push"]


def test_an_oauth_error_redirect_is_explained(app):
    app.query_params["state"] = "forged"
    app.query_params["error"] = "access_denied"
    app.run()
    assert not app.exception
    assert any("denied" in block.value for block in app.error)


def test_marketing_tags_page(app):
    app.run()
    app.switch_page("pages/marketing_tags.py").run()
    assert not app.exception
    assert "Apparel Sports Wear" in app.dataframe[0].value["Tag"].tolist()
    app.text_input(key="tags_new_name").input("Golf Clubs")
    app.button[0].click().run()
    assert "Golf Clubs" in app.dataframe[0].value["Tag"].tolist()
    app.selectbox(key="tags_chosen").set_value("Golf Clubs").run()
    first_company = app.multiselect(key="tags_assign_to").options[0]
    app.multiselect(key="tags_assign_to").select(first_company).run()
    app.button(key="tags_assign").click().run()
    table = app.dataframe[0].value.set_index("Tag")
    assert table.loc["Golf Clubs", "Companies"] == 1


def test_email_lists_grid_autosaves_selection_and_edits(app, monkeypatch, sqlite_url):
    from ctct import lists
    from ctct.ui import grid

    database = Database(sqlite_url)
    with database.session() as session:
        lists.create_list(session, "News")
        frame = lists.contacts_frame(session)
    eligible = frame[frame["eligible"]]
    picked = set(eligible["contact_id"].head(2).astype(int))
    answers = iter([grid.GridAnswer(selected_ids=picked, rows=None), grid.GridAnswer(None, None)])
    monkeypatch.setattr(grid, "contact_grid", lambda frame, key, height=560: next(answers, grid.GridAnswer(None, None)))
    app.run()
    assert not app.exception
    with database.session() as session:
        members = set(
            lists.contacts_frame(session, email_list=lists.get_list(session, "News")).query("member")["contact_id"]
        )
    assert members == picked

    # An edit to an invalid email is refused with the reason; the stored value stays.
    target = int(eligible["contact_id"].iloc[0])
    rows = eligible.copy()
    rows.loc[rows["contact_id"] == target, "email"] = "not-an-email"
    old_email = eligible.loc[eligible["contact_id"] == target, "email"].iloc[0]
    answers = iter([grid.GridAnswer(None, rows), grid.GridAnswer(None, None)])
    app.run()
    assert any("not valid" in block.value and "old value is kept" in block.value for block in app.error)
    with database.session() as session:
        from ctct.crm.services import get_contact

        assert get_contact(session, target).email == old_email
    # Undo removes the last change made (the two added contacts were the last membership change).
    app.button(key="email_lists_undo_button").click().run()
    with database.session() as session:
        assert not lists.contacts_frame(session, email_list=lists.get_list(session, "News"))["member"].any()


def test_customers_page_adds_companies_and_contacts_and_refuses_bad_ones(app, sqlite_url):
    app.run()
    app.switch_page("pages/customers.py").run()
    app.text_input(key="customers_company_name").input("Zed Sports")
    app.button[0].click().run()  # the forms' submit buttons come in page order
    assert not app.exception
    from ctct.crm.services import find_companies_by_name

    with Database(sqlite_url).session() as session:
        assert find_companies_by_name(session, "zed sports")
    app.text_input(key="customers_contact_email").input("not-an-email")
    app.button[1].click().run()
    assert any("not valid" in block.value for block in app.error)


def test_customers_page_edits_a_contact_and_refuses_a_bad_email(app, sqlite_url):
    from ctct.crm.services import find_contacts_by_email

    app.run()
    app.switch_page("pages/customers.py").run()
    label = next(
        option
        for option in app.selectbox(key="customers_edit_contact").options
        if "xss@example.org" not in option and "@" in option
    )
    email = label.split(" · ")[0]
    app.selectbox(key="customers_edit_contact").set_value(label).run()
    app.text_input(key="customers_edit_title").input("Head of Brand")
    app.button(key="FormSubmitter:customers_edit_contact_form-Save contact").click().run()
    assert not app.exception
    with Database(sqlite_url).session() as session:
        assert find_contacts_by_email(session, email)[0].job_title == "Head of Brand"
    app.text_input(key="customers_edit_email").input("broken@")
    app.button(key="FormSubmitter:customers_edit_contact_form-Save contact").click().run()
    assert any("nothing was changed" in block.value for block in app.error)
    with Database(sqlite_url).session() as session:
        assert find_contacts_by_email(session, email)
