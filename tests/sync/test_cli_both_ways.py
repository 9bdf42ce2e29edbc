"""The command line of issue 18, as consultants script it: `plan both --json` with its conflicts,
`sync both` refusing an unresolved conflict (exit 3) and taking --resolve or --yes, `--background`
with `worker --once`, `history --json` states, and `schedule add/list/pause/resume/remove`."""

import json

import pytest

from ctct import lists
from tests.sync.test_both_ways import PEOPLE, names_here
from tests.sync.test_push_pull_rules import crm, local_list, remote_lists, remote_members


@pytest.fixture
def conflicted(service, database, active_client):
    """News renamed differently on both sides since the last sync."""
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com")
    service.commit(service.plan("push"))
    service.commit(service.plan("pull"))
    active_client.lists.rename(remote_lists(active_client)["News"]["list_id"], "News (CTCT)")
    with database.session() as session:
        lists.rename_list(session, "News", "News (here)")


def test_plan_both_json_names_each_conflict_with_its_resolution_and_choices(conflicted, cli_run):
    code, out, _err = cli_run("plan", "both", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["direction"] == "both"
    [conflict] = body["conflicts"]
    assert {"id", "kind", "list", "local", "ctct", "resolution", "choices"} <= set(conflict)
    assert (conflict["kind"], conflict["list"], conflict["resolution"]) == ("renamed_on_both", "News", "ctct")
    assert conflict["choices"] == ["ctct", "local"]
    assert body["to_local"]["lists"]["rename"] == [{"from": "News (here)", "to": "News (CTCT)"}]
    assert body["counts"]["lists_rename"] == 1 and "estimated_requests" in body


def test_sync_both_refuses_an_unresolved_conflict_without_yes(conflicted, cli_run, database):
    code, _out, err = cli_run("sync", "both")
    assert code == 3 and "renamed_on_both:" in err and "--resolve" in err
    assert names_here(database) == ["General Interest", "News (here)"]


def test_sync_both_takes_a_resolution_by_id(conflicted, cli_run, database, active_client):
    _code, out, _err = cli_run("plan", "both", "--json")
    conflict_id = json.loads(out)["conflicts"][0]["id"]
    code, out, err = cli_run("sync", "both", "--resolve", f"{conflict_id}=local", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "completed"
    assert "News (here)" in remote_lists(active_client)


def test_a_resolution_naming_no_conflict_is_refused(conflicted, cli_run):
    code, _out, err = cli_run("sync", "both", "--resolve", "renamed_on_both:nope=local", "--yes")
    assert code == 1 and "there is no conflict 'renamed_on_both:nope'" in err
    code, _out, err = cli_run("sync", "both", "--resolve", "renamed_on_both")
    assert code == 1 and "is not ID=CHOICE" in err


def test_background_sync_is_committed_by_the_worker(service, database, active_client, cli_run):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com", "p1@acme.com")
    code, out, err = cli_run("sync", "both", "--yes", "--background", "--json")
    assert code == 0, err
    queued = json.loads(out)
    assert queued["state"] == "queued" and queued["workers"] == []
    code, out, _err = cli_run("history", "--json")
    assert [run["state"] for run in json.loads(out) if run["run_id"] == queued["run_id"]] == ["queued"]
    code, out, _err = cli_run("worker", "--once", "--json")
    assert code == 0 and json.loads(out)["committed"] == [queued["run_id"]]
    code, out, _err = cli_run("history", "--json")
    assert [run["state"] for run in json.loads(out) if run["run_id"] == queued["run_id"]] == ["completed"]
    assert remote_members(active_client, "News") == ["p0@acme.com", "p1@acme.com"]


def test_schedules_from_the_command_line(cli_run):
    code, out, _err = cli_run("schedule", "add", "both", "--every", "15", "--json")
    assert code == 0
    added = json.loads(out)
    assert (added["direction"], added["every_minutes"], added["paused"]) == ("both", 15, False)
    code, out, _err = cli_run("schedule", "add", "pull", "--daily", "06:30", "--json")
    assert json.loads(out)["daily_at"] == "06:30"
    code, out, _err = cli_run("schedule", "list", "--json")
    assert [item["direction"] for item in json.loads(out)] == ["both", "pull"]
    assert cli_run("schedule", "pause", str(added["id"]))[0] == 0
    assert json.loads(cli_run("schedule", "list", "--json")[1])[0]["paused"] is True
    assert cli_run("schedule", "resume", str(added["id"]))[0] == 0
    assert json.loads(cli_run("schedule", "list", "--json")[1])[0]["paused"] is False
    assert cli_run("schedule", "remove", str(added["id"]))[0] == 0
    assert [item["direction"] for item in json.loads(cli_run("schedule", "list", "--json")[1])] == ["pull"]
    code, _out, err = cli_run("schedule", "add", "both", "--daily", "7:5")
    assert code == 1 and "--daily takes a time as HH:MM" in err
    code, _out, err = cli_run("schedule", "remove", "99")
    assert code == 1 and "there is no schedule 99" in err
    code, _out, _err = cli_run("schedule", "add", "both")
    assert code == 2
