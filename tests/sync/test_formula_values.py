"""SPEC §11: values typed into CTCT (its sign-up forms) that a spreadsheet would run as formulas.
The import and pull previews name each such row, the CRM keeps the text as it is, and every CSV
the CLI writes gives such a cell a leading `'`."""

import csv
import io
import json

from sqlalchemy import select

from ctct.db.models import Company, Contact, EmailList

EVIL_LIST = '=HYPERLINK("http://evil.example","Click")'
EVIL_PEOPLE = {
    "calc@example.org": {"first_name": "=cmd|' /C calc'!A0", "last_name": "Calc"},
    "sum@example.org": {"first_name": "+SUM(1,2)", "company_name": "@SUM(A1:A9)"},
    "minus@example.org": {"first_name": "Mina", "last_name": "-2+3", "job_title": "\tTab"},
    "-dash@example.org": {"first_name": "Dash"},  # a valid address, and a formula to a spreadsheet
}
EVIL_VALUES = {EVIL_LIST, "-dash@example.org"} | {
    value for fields in EVIL_PEOPLE.values() for value in fields.values() if value not in ("Calc", "Mina", "Dash")
}


def seed_evil_values(sandbox, emails=EVIL_PEOPLE):
    account = sandbox.account("demo")
    evil = next((item for item in account.lists.values() if item.name == EVIL_LIST), None)
    evil = evil or account.create_list(EVIL_LIST, sandbox.now())
    for email, fields in emails.items():
        contact = account.new_contact(email, sandbox.now(), "Contact", "implicit")
        for name, value in fields.items():
            setattr(contact, name, value)
        account.add_membership(contact, evil.list_id)


def formula_warnings(plan):
    return [warning["message"] for warning in plan["warnings"] if warning["kind"] == "formula_like"]


def test_the_import_preview_names_each_formula_like_value_and_the_crm_keeps_them_as_text(cli_run, sandbox, database):
    seed_evil_values(sandbox)
    code, out, _ = cli_run("activate", "--json")
    assert code == 0
    code, out, _ = cli_run("plan", "import", "--json")
    warnings = formula_warnings(json.loads(out))
    assert len(warnings) == len(EVIL_VALUES)
    assert any(repr(EVIL_LIST) in message and "Lists to create" in message for message in warnings)
    assert any("'calc@example.org'" in message and repr("=cmd|' /C calc'!A0") in message for message in warnings)
    assert any("'sum@example.org'" in message and "company '@SUM(A1:A9)'" in message for message in warnings)
    assert any("'minus@example.org'" in message and "last name '-2+3'" in message for message in warnings)
    code, out, _ = cli_run("plan", "import")
    assert "looks like a spreadsheet formula" in out

    code, out, _ = cli_run("sync", "import", "--yes", "--json")
    assert code == 0, out
    with database.session() as session:
        assert EVIL_LIST in set(session.scalars(select(EmailList.name)))
        people = {contact.email: contact for contact in session.scalars(select(Contact))}
        assert people["calc@example.org"].first_name == "=cmd|' /C calc'!A0"
        assert people["sum@example.org"].first_name == "+SUM(1,2)"
        assert people["minus@example.org"].last_name == "-2+3"
        assert people["minus@example.org"].job_title == "\tTab"
        assert "@SUM(A1:A9)" in set(session.scalars(select(Company.name)))
    run_id = json.loads(out)["run_id"]

    # The CSVs: every formula-like cell starts with ', the JSON keeps the values as they are.
    code, out, _ = cli_run("history", "show", str(run_id), "--csv")
    assert_formula_safe(out, expect={EVIL_LIST, "-dash@example.org"})
    code, out, _ = cli_run("history", "show", str(run_id), "--json")
    assert EVIL_LIST in {row.get("list") for row in json.loads(out)["changes"]}
    # The list journal's CSVs: a change made here to the list CTCT named.
    assert cli_run("list", "remove", EVIL_LIST, "--", "-dash@example.org")[0] == 0
    code, out, _ = cli_run("list", "changes", "--csv")
    assert_formula_safe(out, expect={EVIL_LIST})
    change = json.loads(cli_run("list", "changes", "--json")[1])[0]["change"]
    code, out, _ = cli_run("list", "change", str(change), "--csv")
    assert code == 0
    assert_formula_safe(out, expect={"-dash@example.org"})


def test_the_pull_preview_names_new_formula_like_values(cli_run, sandbox):
    cli_run("activate", "--yes")
    seed_evil_values(sandbox)
    plan = json.loads(cli_run("plan", "pull", "--json")[1])
    warnings = formula_warnings(plan)
    assert len(warnings) == len(EVIL_VALUES)
    assert all("kept as text" in message for message in warnings)
    # A rename in CTCT to a formula-like name is named too.
    cli_run("sync", "pull", "--yes")
    account = sandbox.account("demo")
    evil = next(item for item in account.lists.values() if item.name == EVIL_LIST)
    evil.name = "@RENAMED()"
    warnings = formula_warnings(json.loads(cli_run("plan", "pull", "--json")[1]))
    assert warnings == [
        "Lists to rename — '@RENAMED()': looks like a spreadsheet formula; kept as text here, "
        "and CSV downloads write it with a leading '"
    ]


def test_a_flood_of_formula_like_values_is_summed_up(cli_run, sandbox):
    cli_run("activate", "--yes")
    seed_evil_values(sandbox, {f"p{number}@example.org": {"first_name": f"=A{number}"} for number in range(30)})
    warnings = formula_warnings(json.loads(cli_run("plan", "pull", "--json")[1]))
    assert len(warnings) == 21  # the list's name and 19 people, then the rest in one line
    assert warnings[-1].startswith("and 11 more value(s)")


def assert_formula_safe(text, expect):
    """No cell starts like a formula unless guarded by a leading '; `expect` values are seen guarded."""
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert cells, "an empty CSV"
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    for value in expect:
        assert any(cell.startswith("'" + value) for cell in cells), f"{value!r} missing from the CSV"
