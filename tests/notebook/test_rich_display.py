"""What plans, results and history show in Jupyter: compact HTML, escaped, with frames to filter."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from ctct import display
from ctct.activation import ConnectionStatus
from ctct.crm import importer
from ctct.lists import ListChange
from ctct.sync.apply import SyncResult
from ctct.sync.history import RunDetail, RunHistory
from ctct.sync.plan import SCHEMAS, Plan, PlanWarning, empty

EVIL = "<script>alert('x')</script>"
RAW_REPR = re.compile(r"object at 0x|^\w+\(\w+=")


def assert_escaped(markup: str) -> None:
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup


def a_plan(rows: int = 3) -> Plan:
    changes = {kind: empty(kind) for kind in SCHEMAS}
    changes["lists_create"] = pd.DataFrame(
        [{"name": EVIL, "list_id": 1, "ctct_list_id": None, "link": False}], columns=SCHEMAS["lists_create"]
    )
    changes["memberships_add"] = pd.DataFrame(
        [
            {"list": EVIL, "email": f"person{number}@example.com", "list_id": 1, "contact_id": number}
            for number in range(rows)
        ],
        columns=SCHEMAS["memberships_add"],
    )
    return Plan(
        "push",
        changes,
        warnings=[PlanWarning("possible_duplicate", f"new company '{EVIL}' looks like 'Acme'")],
        mass_removals=[f"empties list {EVIL}"],
        estimated_requests=7,
    )


def test_a_plan_shows_counts_warnings_and_first_rows_escaped():
    markup = a_plan()._repr_html_()
    assert_escaped(markup)
    assert "Push plan" in markup
    assert re.search(r"Members to add</td><td class=\"count\">3<", markup)
    assert "Lists to delete" not in markup  # kinds without rows are left out
    assert "About 7 Constant Contact requests" in markup
    assert "looks like" in markup and "Mass removal" in markup
    assert "person2@example.com" in markup


def test_a_long_table_shows_its_first_rows_and_says_how_many_more():
    markup = a_plan(rows=25)._repr_html_()
    assert "person9@example.com" in markup
    assert "person10@example.com" not in markup
    assert "… and 15 more rows" in markup and "to_frames()[&#x27;memberships_add&#x27;]" in markup


def test_an_empty_plan_says_both_sides_agree():
    plan = Plan("pull", {kind: empty(kind) for kind in SCHEMAS})
    assert "Both sides already agree" in plan._repr_html_()
    assert repr(plan) == "<Pull plan: nothing to change; about 0 requests>"


def test_to_frames_gives_one_independent_frame_per_change_kind():
    plan = a_plan()
    frames = plan.to_frames()
    assert set(frames) == set(SCHEMAS) - {"contacts_link"}
    assert list(frames["memberships_add"].columns) == SCHEMAS["memberships_add"]
    frames["memberships_add"].loc[0, "email"] = "changed@example.com"
    assert plan["memberships_add"].loc[0, "email"] == "person0@example.com"  # the plan itself is untouched


def test_plain_text_reprs_are_summaries_not_raw_objects():
    plan = a_plan()
    result = SyncResult("completed", 4, "push", 9, {"memberships_add": 3, "lists_delete": 0}, [], ["bad row"])
    status = ConnectionStatus(True, "Demo", "owner@demo.example", None, False, 5, 95, 100)
    added = ListChange("Newsletter", 7, added_ids=[1, 2], already_members=1, skipped={"unsubscribed": 1})
    for shown in (repr(plan), repr(result), repr(status), repr(added)):
        assert not RAW_REPR.search(shown), shown
    assert repr(result) == (
        "<Push completed: run 4, 9 requests — memberships add 3; 1 error(s) reported by Constant Contact>"
    )
    assert repr(added) == "<2 contact(s) added to 'Newsletter', 1 already members; skipped 1: unsubscribed>"


def test_a_sync_result_shows_counts_and_escaped_errors():
    result = SyncResult("completed", 4, "push", 9, {"memberships_add": 3}, [EVIL], [f"{EVIL}: invalid email"])
    markup = result._repr_html_()
    assert_escaped(markup)
    assert "Push completed: run 4" in markup and "9 Constant Contact requests used" in markup
    assert "Constant Contact reported" in markup


def run(run_id: int, direction: str = "push", **changes: int) -> dict:
    return {
        "run_id": run_id,
        "direction": direction,
        "status": "completed",
        "started_by": "notebook",
        "started_at": "2026-11-29T10:00:00",
        "finished_at": "2026-11-29T10:00:03",
        "duration_seconds": 3.0,
        "requests_used": 12,
        "counts": changes,
        "warnings": [f"new company '{EVIL}' looks like 'Acme'"],
        "error": None,
    }


def test_history_shows_a_table_of_runs_and_a_run_with_its_row_changes():
    history = RunHistory([run(2, memberships_add=3), run(1, "import", lists_create=1)])
    markup = history._repr_html_()
    assert "History: 2 runs" in markup and "memberships add 3" in markup
    assert list(history.to_frame()["Run"]) == [2, 1]
    assert "no imports or syncs yet" in repr(RunHistory([]))

    changes = pd.DataFrame(
        [("member added", EVIL, "a@example.com", None, "applied")] * 12,
        columns=["change", "list", "email", "detail", "outcome"],
    )
    detail = RunDetail(run(2, memberships_add=12), changes)
    markup = detail._repr_html_()
    assert_escaped(markup)
    assert "run 2: push completed" in markup
    assert re.search(r"member added</td><td class=\"count\">12<", markup)
    assert "… and 2 more rows" in markup
    assert repr(detail).endswith("12 row-level changes>")


def test_connection_status_and_add_result_show_as_html():
    status = ConnectionStatus(True, EVIL, "owner@demo.example", "2026-11-30T10:00:00+00:00", False, 5, 95, 100)
    assert_escaped(status._repr_html_())
    assert "5 used, 95 of 100 left" in status._repr_html_()
    added = ListChange(EVIL, 7, added_ids=[1, 2], already_members=1, skipped={"unsubscribed": 1})
    assert_escaped(added._repr_html_())
    assert "skipped: unsubscribed" in added._repr_html_()


@pytest.fixture
def import_plan(database) -> importer.ImportPlan:
    content = (
        "company,email\n"
        f'"{EVIL}",ann@evil.example\n'
        "Blue Ridge Outfitters,pri@blueridge.example\n"
        "Blue Ridge Outfitter,leah@blueridge2.example\n"
        "Coastal Threads,info@coastal.example\n"
    )
    frame, _ignored = importer.read_import_file("export.csv", content.encode())
    with database.session() as session:
        return importer.plan_crm_import(session, frame, source=f"{EVIL}.csv")


def test_an_import_plan_shows_counts_warnings_and_rejected_rows(import_plan):
    markup = import_plan._repr_html_()
    assert_escaped(markup)
    assert "4 rows" in markup
    assert "looks like" in markup  # the near-duplicate Blue Ridge companies
    # A role address is CRM data (SPEC §3): imported, with a warning naming its line, not rejected.
    assert "line 5: email &#x27;info@coastal.example&#x27; is a role address" in markup or (
        "line 5: email 'info@coastal.example' is a role address" in markup
    )
    frames = import_plan.to_frames()
    assert frames["rejected"].empty
    assert frames["warnings"]["kind"].eq("role_address").sum() == 1
    assert frames["warnings"]["kind"].eq("possible_duplicate").sum() >= 1
    assert not RAW_REPR.search(repr(import_plan))


def test_a_crm_import_run_shows_its_counts_though_it_has_no_row_changes():
    crm_import = run(1, "crm_import", companies_created=12, contacts_created=20)
    markup = RunDetail(crm_import, pd.DataFrame(columns=["change", "list", "email", "detail", "outcome"]))._repr_html_()
    assert re.search(r"companies created</td><td class=\"count\">12<", markup)
    assert "No changes." not in markup


def test_a_result_with_a_count_kind_of_its_own_still_shows():
    result = SyncResult("completed", 2, "import", 4, {"memberships_add": 3, "lists_linked": 1})
    assert re.search(r"lists linked</td><td class=\"count\">1<", result._repr_html_())


def test_missing_values_show_as_empty_cells_and_formulas_are_not_typeset():
    frame = pd.DataFrame({"a": [None, float("nan"), pd.NA, pd.NaT, "$5 off $10"]}, dtype=object)
    markup = display.card(display.frame_table(frame))
    assert markup.count("<td></td>") == 4 and "NaT" not in markup and "&lt;NA&gt;" not in markup
    assert "mathjax_ignore" in markup


def test_progress_outside_a_notebook_is_a_line_per_ten_percent_on_stderr(capsys):
    with pytest.raises(RuntimeError), display.NotebookProgress("Committing") as progress:
        for fraction in (0.0, 0.04, 0.1, 0.55, 1.7):  # over 100 % is 100 %
            progress(fraction, "working")
        raise RuntimeError("connection lost")
    assert capsys.readouterr().err.splitlines() == [
        "Committing:   0% working",
        "Committing:  10% working",
        "Committing:  55% working",
        "Committing: 100% working",
        "Committing: stopped — connection lost",
    ]
