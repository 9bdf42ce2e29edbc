"""AppTest for each page, against a real SQLite database with demo data."""

import html
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ctct.crm import demo
from ctct.crm.services import create_company
from ctct.db import Database
from ctct.sandbox.process import running_sandbox
from tests.activated import activate_database, sandbox_env

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def sandbox_url():
    with running_sandbox() as url:
        yield url


@pytest.fixture
def inactive_app(sqlite_url, monkeypatch):
    """The console before Constant Contact is activated: it opens on the activation page."""
    database = Database(sqlite_url)
    with database.session() as session:
        demo.load_demo_data(session, companies=12)
        create_company(session, "<script>alert(1)</script>")
    database.dispose()
    monkeypatch.setenv("CTCT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CTCT_DEMO_MODE", "1")
    return AppTest.from_file(APP, default_timeout=30)


@pytest.fixture
def app(inactive_app, sqlite_url, sandbox_url, tmp_path, monkeypatch):
    """The console with Constant Contact activated (email lists exist only then, SPEC §2)."""
    key_file = tmp_path / "console.key"
    activate_database(sqlite_url, sandbox_url, str(key_file))
    for name, value in sandbox_env(sandbox_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CTCT_SECRET_KEY_FILE", str(key_file))
    return inactive_app


def test_before_activation_the_console_opens_on_activation_and_has_no_lists(inactive_app):
    inactive_app.run()
    assert not inactive_app.exception
    assert inactive_app.title[0].value == "Settings · Constant Contact"
    inactive_app.switch_page("views/email_lists.py").run()
    assert "activate it first" in inactive_app.info[0].value
    assert not inactive_app.text_input  # no "New list" until then


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
    app.switch_page("views/customers.py").run()
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


def test_settings_page_starts_the_activation_in_one_click(inactive_app, monkeypatch):
    monkeypatch.setenv("CTCT_AUTH_BASE", "http://127.0.0.1:9/oauth2/default/v1")
    app = inactive_app
    app.run()
    assert not app.exception
    assert any("not activated" in block.value for block in app.markdown)
    # One link, in this tab, straight to the login (a sign-in already started and stored).
    login_url, _made = app.session_state["settings_login_url"]
    assert login_url.startswith("http://127.0.0.1:9/oauth2/default/v1/authorize?")
    link = next(block.value for block in app.markdown if "Activate Constant Contact" in block.value)
    assert 'target="_self"' in link and html.escape(login_url) in link
    app.run()
    assert app.session_state["settings_login_url"][0] == login_url  # not a new sign-in per run


def test_synchronize_page_asks_for_activation_first(inactive_app):
    inactive_app.run()
    inactive_app.switch_page("views/synchronize.py").run()
    assert not inactive_app.exception and "Activate Constant Contact first" in inactive_app.info[0].value


def test_history_page_lists_runs_and_their_changes(app, sqlite_url):
    app.run()
    app.switch_page("views/history.py").run()
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
    app.switch_page("views/marketing_tags.py").run()
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


class ScriptedGrid:
    """Stands in for the AgGrid component, which AppTest cannot run: records the rows it was
    given and hands the page the events queued for it. The real grid's events arrive before a
    run draws anything; these arrive as the grid is drawn, so a test runs the page once more to
    see what they did."""

    def __init__(self) -> None:
        self.frames = []
        self.pending = []

    def __call__(self, frame, key, on_events, height=560):
        self.frames.append(frame)
        events, self.pending = self.pending, []
        if events:
            on_events(events)


@pytest.fixture
def scripted_grid(monkeypatch):
    from ctct.ui import grid

    fake = ScriptedGrid()
    monkeypatch.setattr(grid, "contact_grid", fake)
    return fake


def members_of(sqlite_url, name):
    from ctct import lists

    with Database(sqlite_url).session() as session:
        return lists.member_ids(session, lists.get_list(session, name))


def test_email_lists_grid_events_save_ticks_and_edits_and_undo_reverts_the_last(app, scripted_grid, sqlite_url):
    from ctct import lists
    from ctct.crm.services import get_contact
    from ctct.ui.grid import MEMBER, GridEvent

    database = Database(sqlite_url)
    with database.session() as session:
        lists.create_list(session, "News")
        eligible = lists.contacts_frame(session).query("eligible")
    first, second = (int(cid) for cid in eligible["contact_id"].head(2))
    app.run()
    assert not app.exception
    scripted_grid.pending = [GridEvent(first, MEMBER, True), GridEvent(second, MEMBER, True)]
    app.run()
    assert not app.exception and not app.error
    assert members_of(sqlite_url, "News") == {first, second}
    app.run()  # the page draws from the store: both rows ticked, the caption counts them
    shown = scripted_grid.frames[-1].set_index("contact_id")["member"]
    assert shown[first] and shown[second] and shown.sum() == 2
    assert any("2 on 'News'" in caption.value for caption in app.caption)

    # An edit to an invalid email is refused with the reason; the stored value stays.
    with database.session() as session:
        old_email = get_contact(session, first).email
    scripted_grid.pending = [GridEvent(first, "email", "not-an-email")]
    app.run()
    app.run()
    assert any("not valid" in block.value and "old value is kept" in block.value for block in app.error)
    with database.session() as session:
        assert get_contact(session, first).email == old_email

    # Undo reverts the newest change only: the second tick.
    app.button(key="email_lists_undo_button").click().run()
    assert members_of(sqlite_url, "News") == {first}
    app.button(key="email_lists_undo_button").click().run()
    assert members_of(sqlite_url, "News") == set()
    assert app.button(key="email_lists_undo_button").disabled


def test_email_lists_rename_keeps_the_list_chosen_and_delete_removes_it(app, scripted_grid, sqlite_url):
    from ctct import lists

    with Database(sqlite_url).session() as session:
        alpha_id = lists.create_list(session, "Alpha").id
        news_id = lists.create_list(session, "News").id
    app.run()
    app.selectbox(key="email_lists_chosen").set_value(news_id).run()
    app.text_input(key="email_lists_rename_to").input("News 2026")
    app.button(key="FormSubmitter:email_lists_rename-Rename").click().run()
    assert not app.exception and not app.error
    chosen = app.selectbox(key="email_lists_chosen")
    assert chosen.value == news_id and chosen.options == ["Alpha", "News 2026"]
    assert any("on 'News 2026'" in caption.value for caption in app.caption)
    assert app.dataframe[0].value["List"].tolist() == ["Alpha", "News 2026"]

    app.button(key="email_lists_delete").click().run()
    app.button(key="email_lists_delete_confirm").click().run()
    assert not app.exception
    assert app.dataframe[0].value["List"].tolist() == ["Alpha"]
    assert app.selectbox(key="email_lists_chosen").value == alpha_id
    with Database(sqlite_url).session() as session:
        assert lists.find_list(session, "News 2026") is None


def test_customers_page_adds_companies_and_contacts_and_refuses_bad_ones(app, sqlite_url):
    app.run()
    app.switch_page("views/customers.py").run()
    app.text_input(key="customers_company_name").input("Zed Sports")
    app.button[0].click().run()  # the forms' submit buttons come in page order
    assert not app.exception
    from ctct.crm.services import find_companies_by_name

    with Database(sqlite_url).session() as session:
        assert find_companies_by_name(session, "zed sports")
    app.text_input(key="customers_contact_email").input("not-an-email")
    app.button[1].click().run()
    assert any("not valid" in block.value for block in app.error)


def test_customers_page_edits_a_contact_found_by_search_and_refuses_a_bad_email(app, sqlite_url):
    from ctct import lists
    from ctct.crm.services import create_contact, find_contacts_by_email

    with Database(sqlite_url).session() as session:
        company = create_company(session, "Many Contacts Inc")
        for number in range(20):
            create_contact(session, company.id, email=f"person{number}@many.example", first_name="Person")
        frame = lists.contacts_frame(session)
    assert len(frame) > 50
    target = frame[frame["email"].notna() & ~frame["email"].str.contains("xss", na=False)].iloc[0]
    email = target["email"]
    app.run()
    app.switch_page("views/customers.py").run()
    assert not app.exception
    assert "customers_edit_contact" not in app.session_state  # no picker of every contact
    app.text_input(key="customers_edit_find").input(email.upper()).run()
    picker = app.selectbox(key="customers_edit_contact")
    assert picker.value == int(target["contact_id"]) and len(picker.options) == 1
    app.text_input(key=f"customers_edit_title_{target['contact_id']}").input("Head of Brand")
    app.button(key="FormSubmitter:customers_edit_contact_form-Save contact").click().run()
    assert not app.exception
    with Database(sqlite_url).session() as session:
        assert find_contacts_by_email(session, email)[0].job_title == "Head of Brand"
    app.text_input(key=f"customers_edit_email_{target['contact_id']}").input("broken@")
    app.button(key="FormSubmitter:customers_edit_contact_form-Save contact").click().run()
    assert any("nothing was changed" in block.value for block in app.error)
    with Database(sqlite_url).session() as session:
        assert find_contacts_by_email(session, email)

    # A broad search offers the first matches and says how many there are.
    app.text_input(key="customers_edit_find").input("@").run()
    assert len(app.selectbox(key="customers_edit_contact").options) == 50
    assert "first 50 shown" in app.selectbox(key="customers_edit_contact").label


def test_history_shows_list_changes_beside_the_syncs_with_their_contacts(app, sqlite_url):
    from ctct import lists
    from ctct.db.models import MembershipChangeHow

    database = Database(sqlite_url)
    with database.session() as session:
        lists.create_list(session, "News")
        tick = lists.ChangeOrigin("ops@example.com", MembershipChangeHow.SELECT_ALL)
        added = lists.add_matching(session, "News", lists.ContactFilter(tags=("Apparel Sports Wear",)), origin=tick)
        cli = lists.ChangeOrigin("root (command line)", MembershipChangeHow.CLI)
        lists.remove_contacts(session, "News", added.added_ids[:2], origin=cli)
    app.run()
    app.switch_page("views/history.py").run()
    assert not app.exception
    journal = next(frame.value for frame in app.dataframe if "How" in frame.value.columns)
    assert journal[["Who", "List", "How", "Added", "Removed"]].values.tolist() == [
        ["root (command line)", "News", "command line", 0, 2],
        ["ops@example.com", "News", "Select all", added.added, 0],
    ]
    assert "tags Apparel Sports Wear" in journal["Detail"].iloc[1]
    rows = app.dataframe[-1].value  # the contacts of the newest change
    assert rows["Change"].tolist() == ["removed", "removed"] and rows["Email"].str.contains("@").all()
    assert any(button.proto.label == "Download CSV" for button in app.get("download_button"))
