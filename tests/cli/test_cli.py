import json
import subprocess
import sys

import pytest

from ctct.cli import main

HEADER = "Company,Kind,Company Email,First Name,Last Name,Email,Job Title,Tags\n"


@pytest.fixture
def cli(database_url, capsys):
    def run(*args):
        code = main(["--db", database_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_demo_data_then_export(cli):
    code, out, err = cli("demo-data", "--companies", "10", "--seed", "2")
    assert code == 0 and "loaded 10 companies" in out and "demo data: 100%" in err
    code, out, _ = cli("export", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["companies"]) == 10
    assert {"name", "kind", "tags"} <= set(data["companies"][0])
    assert {"company", "email", "status"} <= set(data["contacts"][0])
    code, _, err = cli("demo-data")
    assert code == 1 and err.count("\n") == 1 and "--replace" in err


def test_list_commands(cli):
    cli("demo-data")
    assert cli("list", "create", "Apparel Sports Wear")[0] == 0
    code, out, _ = cli("list", "add", "Apparel Sports Wear", "--all", "--tag", "apparel sports wear")
    assert code == 0 and "added" in out
    code, out, _ = cli("list", "add", "Apparel Sports Wear", "--all", "--type", "prospect")
    assert code == 0
    code, out, _ = cli("lists", "--json")
    lists = json.loads(out)
    assert lists[0]["name"] == "Apparel Sports Wear" and lists[0]["members"] > 0 and lists[0]["ctct_list_id"] is None
    members = json.loads(cli("export", "--json")[1])["lists"][0]["members"]
    assert len(members) == lists[0]["members"]
    assert cli("list", "remove", "apparel sports wear", members[0])[0] == 0
    assert cli("list", "rename", "Apparel Sports Wear", "Sportswear")[0] == 0
    code, out, _ = cli("lists", "--json")
    assert json.loads(out)[0] == {"name": "Sportswear", "ctct_list_id": None, "members": len(members) - 1}
    code, out, _ = cli("list", "remove", "Sportswear", "--all", "--type", "prospect")
    assert code == 0 and "removed" in out
    remaining = json.loads(cli("lists", "--json")[1])[0]["members"]
    assert 0 < remaining < len(members) - 1
    assert cli("list", "remove", "Sportswear", "--all")[0] == 0
    assert json.loads(cli("lists", "--json")[1])[0]["members"] == 0
    assert cli("list", "delete", "Sportswear")[0] == 0
    assert json.loads(cli("lists", "--json")[1]) == []


def test_list_add_by_email_refuses_ineligible_with_reason(cli, tmp_path):
    csv = tmp_path / "crm.csv"
    csv.write_text(HEADER + "Acme,customer,,Ann,Lee,ann@acme.com,,\nAcme,customer,,Bo,Berg,bo@acme.com,,\n")
    assert cli("import", str(csv))[0] == 0
    cli("list", "create", "News")
    code, out, _ = cli("list", "add", "News", "ann@acme.com", "BO@acme.com")
    assert code == 0 and "added 2 contact(s)" in out
    code, _, err = cli("list", "add", "News", "ghost@acme.com")
    assert code == 1 and "ghost@acme.com: no contact has this email" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["list", "create", ""], "list name is required"),
        (["list", "delete", "Nope"], "no email list named 'Nope'"),
        (["list", "rename", "Nope", "X"], "no email list named 'Nope'"),
        (["list", "add", "Nope", "a@b.com"], "no email list named 'Nope'"),
        (["import", "/no/such/file.csv"], "file not found"),
    ],
)
def test_errors_are_one_line_exit_1(cli, args, fragment):
    code, _, err = cli(*args)
    assert code == 1 and fragment in err and err.count("\n") == 1 and err.startswith("error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["list", "add", "News"],
        ["list", "add", "News", "a@b.com", "--all"],
        ["list", "add", "News", "a@b.com", "--tag", "VIP"],
        ["list", "add", "News", "--all", "--type", "partner"],
        ["demo-data", "--companies", "many"],
        ["list", "remove", "News"],
        ["list", "remove", "News", "a@b.com", "--type", "prospect"],
    ],
)
def test_usage_errors_exit_2(cli, args):
    code, _, err = cli(*args)
    assert code == 2 and err.strip()


def test_import_dry_run_then_commit(cli, tmp_path):
    csv = tmp_path / "crm.csv"
    csv.write_text(
        HEADER
        + "Acme,customer,,Ann,Lee,ann@acme.com,,VIP\nAcme,customer,,Info,Desk,info@acme,,\n"
        + "Acme,customer,,Sal,Es,sales@acme.com,,\n"
    )
    code, out, _ = cli("import", str(csv), "--dry-run")
    assert code == 0 and "line 3: rejected" in out and "email 'info@acme' is not valid" in out
    assert "line 4: email 'sales@acme.com' is a role address" in out and "nothing was changed" in out
    code, out, _ = cli("import", str(csv), "--dry-run", "--json")
    plan = json.loads(out)
    assert plan["counts"]["contacts_to_create"] == 2 and plan["rejected"][0]["line"] == 3
    code, _, err = cli("import", str(csv))
    assert code == 1 and "--skip-invalid" in err
    assert json.loads(cli("export", "--json")[1])["contacts"] == []
    code, out, _ = cli("import", str(csv), "--skip-invalid", "--json")
    assert code == 0 and json.loads(out)["result"]["contacts_created"] == 2


def test_bad_database_url_is_a_clear_error(capsys):
    assert main(["--db", "nosuchdb://x", "lists"]) == 1
    assert "database URL is not valid" in capsys.readouterr().err


def test_python_dash_m_ctct_runs(sqlite_url):
    result = subprocess.run(
        [sys.executable, "-m", "ctct", "--db", sqlite_url, "lists", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and json.loads(result.stdout) == []
    # With no command it lists the commands (test_cli_bad_input.py); a wrong one is a usage error.
    usage = subprocess.run([sys.executable, "-m", "ctct", "frobnicate"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2


def test_demo_data_if_empty_loads_once(cli):
    assert cli("demo-data", "--if-empty", "--companies", "3")[0] == 0
    code, out, _ = cli("demo-data", "--if-empty")
    assert code == 0 and "not loaded again" in out
    assert len(json.loads(cli("export", "--json")[1])["companies"]) == 3
