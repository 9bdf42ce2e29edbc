"""notebooks/onboarding.ipynb runs top to bottom against a fresh database and its own sandbox,
and every output is something a consultant can read."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import select

from ctct.config import PROJECT_ROOT
from ctct.db import Database
from ctct.db.models import Contact, EmailList, EmailStatus, ListMembership

NOTEBOOK = PROJECT_ROOT / "notebooks" / "onboarding.ipynb"
RAW_REPR = re.compile(r"object at 0x|^<?\w+\(\w+=|^\w+\(\w+=")


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the notebook has code cells"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.fixture
def kernel_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel runs this interpreter (a `python3` kernelspec of our own, found first on
    JUPYTER_PATH), imports this checkout, and keeps its temporary files in the test's folder."""
    kernels = tmp_path / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "console tests",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    return scratch


@pytest.fixture
def executed(
    database_url: str, kernel_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, list[dict]]]:
    monkeypatch.setenv("ONBOARDING_DATABASE_URL", database_url)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # A failing cell raises CellExecutionError with the cell and its traceback.
    NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    return [(cell.source, cell.outputs) for cell in notebook.cells if cell.cell_type == "code"]


def shown(outputs: list[dict]) -> tuple[str, str]:
    """A cell's results as (html, plain text)."""
    results = [output for output in outputs if output["output_type"] in {"execute_result", "display_data"}]
    return (
        "\n".join(output["data"].get("text/html", "") for output in results),
        "\n".join(output["data"].get("text/plain", "") for output in results),
    )


def output_of(executed: list[tuple[str, list[dict]]], last_line: str) -> tuple[str, str]:
    matches = [outputs for source, outputs in executed if source.strip().splitlines()[-1] == last_line]
    assert len(matches) == 1, f"one cell ends with {last_line!r}"
    return shown(matches[0])


def test_the_onboarding_notebook_runs_and_every_output_is_meaningful(executed, database_url, kernel_environment):
    for source, outputs in executed:
        assert not [output for output in outputs if output["output_type"] == "error"], source
        streams = [output["text"] for output in outputs if output["output_type"] == "stream"]
        assert not streams, f"{source!r} printed {streams}"
        html, text = shown(outputs)
        if not source.lstrip().startswith("import "):  # only the setup cell shows nothing
            assert html or text, f"{source!r} shows nothing"
        for line in text.splitlines():
            assert not RAW_REPR.search(line), f"{source!r} shows a raw repr: {line}"

    crm_plan, _ = output_of(executed, "crm_plan")
    assert "Import of customer-export.csv: 22 rows" in crm_plan
    assert "Blue Ridge Outfitter" in crm_plan and "looks like" in crm_plan
    assert "role address" in crm_plan and "Rejected rows" not in crm_plan

    imported, _ = output_of(executed, "console.crm.commit_file(crm_plan)")
    assert "Importing customer-export.csv" in imported and "100%" in imported

    initial, _ = output_of(executed, "initial_import")
    assert "Import plan" in initial
    assert "&#x27;Summit Sportswear Inc&#x27; looks like &#x27;Summit Sports Wear&#x27;" in initial
    assert "Unsubscribed in Constant Contact" in initial

    _, connected = output_of(executed, 'console.activate(username="demo", password="demo")')
    assert "Connected to Constant Contact: Demo Company" in connected

    added, _ = output_of(executed, 'console.lists.add_matching("Apparel Sports Wear", tags=["Apparel Sports Wear"])')
    assert "13 contact(s) added to Apparel Sports Wear" in added and "skipped: unsubscribed" in added

    _, pushed = output_of(executed, "pushed")
    assert re.search(r"<Push completed: run 3, \d+ requests — lists create 1, contacts create 9", pushed)
    pull, _ = output_of(executed, "console.plan_pull()")
    assert "Both sides already agree" in pull
    history, _ = output_of(executed, "console.history()")
    assert "History: 3 runs" in history and "crm_import" in history
    _, stopped = output_of(executed, "sandbox")
    assert "(stopped;" in stopped
    assert list(kernel_environment.iterdir()) == []  # the rehearsal's folder was removed

    # What the notebook did is in the database: the tag-based list is in CTCT with its 13 members,
    # and the unsubscribe Constant Contact had came over.
    database = Database(database_url)
    try:
        with database.session() as session:
            apparel = session.scalar(select(EmailList).where(EmailList.name == "Apparel Sports Wear"))
            assert apparel is not None and apparel.ctct_list_id
            members = session.scalars(select(ListMembership).where(ListMembership.list_id == apparel.id)).all()
            assert len(members) == 13
            ben = session.scalar(select(Contact).where(Contact.email_key == "ben.adler@harborline.com"))
            assert ben.email_status == EmailStatus.UNSUBSCRIBED
    finally:
        database.dispose()
