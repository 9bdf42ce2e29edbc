"""Synchronize and History as a marketing-ops user walks them (AppTest, the real engine against the
in-process sandbox): previews with companies and titled columns, a stale preview, the result of a
commit, and History's runs."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ctct import lists
from ctct.sandbox.seed import seed_account
from ctct.sync.apply import SyncService
from tests.sync.test_push_pull_rules import crm, local_list

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def service(database, active_client, settings):
    return SyncService(database, active_client, settings)


@pytest.fixture
def app(database_url, active_client, service, monkeypatch):
    """The console on the test database, its CTCT client and sync service wired to the sandbox."""
    from ctct.ui import plan_view, state

    monkeypatch.setenv("CTCT_DATABASE_URL", database_url)
    monkeypatch.setattr(state, "client", lambda: active_client)
    monkeypatch.setattr(state, "sync_service", lambda: service)
    monkeypatch.setattr(plan_view, "sync_service", lambda: service)
    return AppTest.from_file(APP, default_timeout=60)


def open_page(app, page):
    app.run()
    app.switch_page(page).run()
    assert not app.exception
    return app


def element(app, kind):
    return [node for node in app.get(kind)]


def shown(block):
    """An alert's text as the reader sees it: without the escapes that keep names from being Markdown."""
    return block.value.replace("\\", "")


def sidebar_requests(app):
    return next(node.proto.text for node in app.sidebar.get("progress"))


def test_a_pull_preview_shows_new_and_matched_companies_with_titled_columns(app, database, sandbox, service):
    crm(database, ("ann@acme.com", "Ann"), company="Acme Inc")
    local_list(database, "News", "ann@acme.com")
    service.commit(service.plan("push"))
    seed_account(
        sandbox.account("demo"),
        {
            "contacts": [
                {"email": "bo@acme.com", "first_name": "Bo", "company_name": "ACME, Inc.", "lists": ["News"]},
                {"email": "cy@northwind.example", "first_name": "Cy", "company_name": "Northwind", "lists": ["News"]},
                {"email": "di@northwind.example", "company_name": "Northwind", "lists": ["Promo"]},
            ]
        },
        sandbox.now(),
    )
    local_list(database, "promo")  # here, never pushed: the pull links it to CTCT's Promo
    open_page(app, "views/synchronize.py")
    app.button(key="sync_preview_pull").click().run()
    assert not app.exception

    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Contacts to create"] == "3" and metrics["Companies to create"] == "1"
    frames = [frame.value for frame in app.dataframe]
    lists_frame = next(frame for frame in frames if "Created or linked" in frame.columns)
    assert lists_frame.set_index("List")["Created or linked"].to_dict() == {
        "General Interest": "New: created here",
        "Promo": "Here already: linked",
    }
    contacts = next(frame for frame in frames if "Company here" in frame.columns)
    assert list(contacts.columns) == ["Email", "First name", "Last name", "Job title", "Company", "Company here"]
    assert contacts.set_index("Email")["Company here"].to_dict() == {
        "bo@acme.com": "Joins Acme Inc",
        "cy@northwind.example": "New company",
        "di@northwind.example": "New company",
    }
    new = next(frame for frame in frames if "New company" in frame.columns)
    assert new.values.tolist() == [["Northwind", 2, "cy@northwind.example, di@northwind.example"]]
    joined = next(frame for frame in frames if "Company here" in frame.columns and "Contacts" in frame.columns)
    assert joined.values.tolist() == [["Acme Inc", "ACME, Inc.", 1, "bo@acme.com"]]
    # No raw headers anywhere in the preview.
    for frame in frames:
        assert not [column for column in frame.columns if "_" in column or column.islower()], frame.columns


def test_a_stale_preview_says_why_plainly_and_a_new_preview_can_be_made(app, database, active_client):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"))
    local_list(database, "News", "ann@acme.com")
    open_page(app, "views/synchronize.py")
    app.button(key="sync_preview_push").click().run()
    assert len(app.session_state["sync_plan"]["memberships_add"]) == 1
    local_list(database, "News", "bo@acme.com")  # changed here after the preview

    app.button(key="sync_commit").click().run()
    assert not app.exception
    said = [shown(block) for block in app.error]
    assert any("Customer Focus changed since this preview" in text and "Nothing was changed" in text for text in said)
    # In plain view: not inside the (collapsed) progress box.
    assert not [block for status in app.status for block in status.error]
    assert not [button for button in app.button if button.key == "sync_commit"]  # nothing stale to commit

    app.button(key="sync_again").click().run()
    assert not app.exception
    plan = app.session_state["sync_plan"]
    assert sorted(plan["memberships_add"]["email"]) == ["ann@acme.com", "bo@acme.com"]
    assert not app.error
    app.button(key="sync_commit").click().run()
    assert any(text.value.startswith("Synchronized:") for text in app.success)


def test_after_a_commit_the_result_replaces_the_preview_and_links_to_the_run_in_history(app, database, active_client):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"))
    local_list(database, "News", "ann@acme.com", "bo@acme.com")
    local_list(database, "Promo", "ann@acme.com")
    open_page(app, "views/synchronize.py")
    app.button(key="sync_preview_push").click().run()
    app.button(key="sync_commit").click().run()
    assert not app.exception

    summary = shown(app.success[0])
    assert summary == "Synchronized: 2 lists created (News, Promo); 2 contacts created; News: 2 added; Promo: 1 added."
    assert "lists create " not in summary and "memberships" not in summary  # no log line
    # The committed preview and its Commit button are gone.
    assert not [button for button in app.button if button.key == "sync_commit"]
    assert not app.dataframe and not app.metric
    link = element(app, "page_link")[0].proto
    assert link.page.endswith("history") and "run=" in link.query_string
    run_id = int(link.query_string.split("=")[1])
    assert app.session_state["sync_result"].run_id == run_id
    # The sidebar, drawn before the page ran, counts this commit's requests too.
    assert sidebar_requests(app).startswith(f"{active_client.budget.used():,} of")


def test_history_resets_the_change_types_per_run_and_opens_the_run_a_link_names(app, database, service):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"))
    local_list(database, "News", "ann@acme.com", "bo@acme.com")
    first = service.commit(service.plan("push"))  # a list, contacts and members created
    with database.session() as session:
        lists.remove_members(session, "News", ["bo@acme.com"])
    second = service.commit(service.plan("push"))  # a member removed
    open_page(app, "views/history.py")

    assert app.selectbox(key="history_run").value == second.run_id  # the newest first
    kinds = app.multiselect(key=f"history_kinds_{second.run_id}")
    assert kinds.value == ["member removed"]
    app.selectbox(key="history_run").set_value(first.run_id).run()
    kinds = app.multiselect(key=f"history_kinds_{first.run_id}")
    assert kinds.value == ["contact created", "list created", "member added"]
    kinds.unselect("contact created").run()
    rows = next(frame.value for frame in app.dataframe if "Outcome" in frame.value.columns)
    assert list(rows.columns) == ["Change", "List", "Email", "Detail", "Outcome"]
    assert sorted(rows["Change"]) == ["list created", "member added", "member added"]
    app.selectbox(key="history_run").set_value(second.run_id).run()
    assert any(f"Run {second.run_id}: News: 1 removed" in shown(block) for block in app.info)
    app.selectbox(key="history_run").set_value(first.run_id).run()
    assert len(app.multiselect(key=f"history_kinds_{first.run_id}").value) == 3  # not the earlier choice

    # A link from a commit's summary opens History on that run.
    app.query_params["run"] = str(first.run_id)
    app.switch_page("views/history.py").run()
    assert app.selectbox(key="history_run").value == first.run_id
    summary = f"Run {first.run_id}: 1 list created (News); 2 contacts created; News: 2 added"
    assert any(summary in shown(block) for block in app.info)


def test_history_charts_members_added_and_removed_per_list_and_run(app, database, service):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"))
    local_list(database, "News", "ann@acme.com", "bo@acme.com")
    service.commit(service.plan("push"))
    with database.session() as session:
        lists.remove_members(session, "News", ["bo@acme.com"])
    service.commit(service.plan("push"))
    open_page(app, "views/history.py")
    charts = element(app, "vega_lite_chart")
    assert charts, "no chart of members over time"
    spec = charts[0].proto.spec
    assert "Members added (up) and removed (down)" in spec and "Requests" not in spec
    from ctct.sync import history

    moved = history.member_changes(database)
    assert moved[["Run", "List", "Added", "Removed"]].values.tolist() == [[1, "News", 2, 0], [2, "News", 0, 1]]


def test_history_explains_a_link_to_a_run_it_does_not_have(app, database, service):
    crm(database, ("ann@acme.com", "Ann"))
    local_list(database, "News", "ann@acme.com")
    pushed = service.commit(service.plan("push"))
    app.query_params["run"] = "999"
    open_page(app, "views/history.py")
    assert any("There is no run 999 in History" in shown(block) for block in app.warning)
    assert app.selectbox(key="history_run").value == pushed.run_id
