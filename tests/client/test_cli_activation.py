"""`python -m ctct activate|status|deactivate` against the in-process sandbox."""

import io
import json
import re

import pytest

from ctct.api.errors import BudgetExceeded
from ctct.sandbox.demo_account import sign_in_to_sandbox


def test_activate_status_deactivate(cli_run):
    code, out, _ = cli_run("activate")
    assert code == 0 and "Connected to Constant Contact account 'Demo Company'" in out
    code, out, _ = cli_run("status", "--json")
    status = json.loads(out)
    assert status["active"] and status["account_name"] == "Demo Company" and status["requests_remaining_today"] > 0
    assert set(status) >= {
        "active",
        "account_name",
        "token_expires_at",
        "requests_used_today",
        "requests_remaining_today",
    }
    code, _, err = cli_run("deactivate")  # no terminal, no --yes
    assert code == 1 and "--yes" in err
    code, out, _ = cli_run("deactivate", "--yes")
    assert code == 0 and "companies and contacts kept" in out
    assert json.loads(cli_run("status", "--json")[1])["active"] is False


def test_wrong_sandbox_password_is_one_line_exit_1(cli_run):
    code, _, err = cli_run("activate", "--password", "nope")
    assert code == 1 and err.count("\n") == 1 and "not correct" in err


def test_the_browser_flow_prints_the_address_and_reads_the_redirect(cli_run, http, monkeypatch, capsys):
    class Browser(io.StringIO):
        """What a person does: open the printed address, log in, paste where they landed."""

        def readline(self):
            printed = capsys.readouterr().out
            url = re.search(r"(http://sandbox/oauth2/\S+)", printed).group(1)
            print(printed, end="")
            return sign_in_to_sandbox(http, url, "demo", "demo") + "\n"

    monkeypatch.setattr("sys.stdin", Browser())
    code, out, _ = cli_run("activate", "--browser")
    assert code == 0 and "Open this address" in out and "Connected" in out


def test_bulk_work_beyond_todays_budget_is_refused_before_it_starts(active_client, sandbox):
    list_id = next(active_client.lists.iterate())["list_id"]
    active_client.budget.record(active_client.budget.remaining() - 1)
    before = sandbox.stats.copy()
    with pytest.raises(BudgetExceeded, match="only 1 are left"):
        active_client.activities.import_contacts([{"email": "a@acme.com"}], [list_id])
    assert sandbox.stats == before
