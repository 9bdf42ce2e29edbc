"""`python -m ctct plan|sync|history` and activation's initial import, with their exit codes."""

import csv
import io
import json

from sqlalchemy import insert

from ctct.crm import services
from ctct.db.models import SyncLock, utcnow
from ctct.lists import add_members, create_list


def test_activate_with_yes_imports_ctct_lists(cli_run, sandbox):
    account = sandbox.account("demo")
    news = account.create_list("Newsletter", sandbox.now())
    contact = account.new_contact("ann@acme.com", sandbox.now(), "Account", "implicit")
    contact.company_name = "Acme"
    account.add_membership(contact, news.list_id)
    code, out, _ = cli_run("activate", "--yes")
    assert code == 0 and "completed: run 1" in out
    assert "Import plan: lists to create or link 2, contacts to create 1, members to add 1; about" in out
    lists = json.loads(cli_run("lists", "--json")[1])
    assert {item["name"]: item["members"] for item in lists} == {"General Interest": 0, "Newsletter": 1}


def test_activate_without_yes_only_previews(cli_run):
    code, out, _ = cli_run("activate")
    assert code == 0 and "not committed" in out
    code, out, _ = cli_run("sync", "import", "--yes", "--json")
    assert code == 0 and json.loads(out)["status"] == "completed"


def test_plan_sync_history(cli_run, database):
    cli_run("activate", "--yes")
    with database.session() as session:
        company = services.create_company(session, "Acme")
        services.create_contact(session, company.id, email="ann@acme.com", first_name="Ann")
        create_list(session, "News")
        add_members(session, "News", ["ann@acme.com"])
    code, out, _ = cli_run("plan", "push", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["direction"] == "push"
    assert plan["lists"]["create"] == [{"name": "News", "link": False}]
    assert plan["contacts"]["create"][0]["email"] == "ann@acme.com"
    assert plan["memberships"]["add"] == [{"list": "News", "email": "ann@acme.com"}]
    assert {"skipped", "warnings", "estimated_requests"} <= set(plan)
    assert set(plan["lists"]) == {"create", "rename", "delete"}
    assert {"unsubscribed", "deleted_in_ctct"} <= set(plan["contacts"])
    code, _, err = cli_run("sync", "push")  # no terminal, no --yes
    assert code == 1 and "--yes" in err
    code, out, _ = cli_run("sync", "push", "--yes", "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "completed" and result["requests_used"] > 0 and result["run_id"] == 2
    runs = json.loads(cli_run("history", "--json")[1])
    assert [run["direction"] for run in runs] == ["push", "import"]
    code, out, _ = cli_run("history", "show", "2", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(row["change"], row["email"], row["outcome"]) for row in rows} >= {
        ("member added", "ann@acme.com", "applied"),
        ("contact created", "ann@acme.com", "applied"),
    }
    assert cli_run("history", "show", "99")[0] == 1


def test_refusals_exit_3(cli_run, database):
    cli_run("activate", "--yes")
    with database.session() as session:
        create_list(session, "News")
    cli_run("sync", "push", "--yes")
    with database.session() as session:
        from ctct.lists import delete_list

        delete_list(session, "News")
    code, _, err = cli_run("sync", "push", "--yes")
    assert code == 3 and "--allow-mass-removal" in err
    with database.session() as session:
        session.execute(
            insert(SyncLock).values(
                name="ctct-sync", holder="elsewhere:9", run_id=None, expires_at=utcnow().replace(year=2100)
            )
        )
    code, _, err = cli_run("sync", "push", "--yes", "--allow-mass-removal")
    assert code == 3 and "another sync is running" in err
    code, _, err = cli_run("sync", "pull", "--resume")
    assert code == 3


def test_budget_refusal_exits_3(cli_run, database, settings):
    cli_run("activate", "--yes")
    with database.session() as session:
        create_list(session, "News")
    from ctct.api.limits import DailyBudget
    from ctct.db.stores import SqlUsageStore

    budget = DailyBudget(SqlUsageStore(database), settings.daily_quota)
    budget.record(budget.remaining())
    code, _, err = cli_run("sync", "push", "--yes")
    assert code in {1, 3} and ("left today" in err or "quota" in err)
