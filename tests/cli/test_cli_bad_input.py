"""SPEC §10 for the command line itself: a database URL the console cannot use, no command at all,
a mistyped one, a command stopped midway — each one line on stderr with the next step (or, with
no command, the list of commands), and the README's exit codes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from ctct import cli
from ctct.cli import main
from ctct.sandbox.process import free_port

ROOT = Path(__file__).resolve().parents[2]
NEXT_STEP = "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("url", "driver"),
    [("mysql://shop:s3cret@db.example/crm", "MySQLdb"), ("mysql+pymysql://shop:s3cret@db/crm", "pymysql")],
)
def test_a_database_whose_driver_is_not_installed(capsys, url, driver):
    if importlib.util.find_spec(driver):
        pytest.skip(f"{driver} is installed here: the URL would open")
    assert main(["--db", url, "lists"]) == 1
    err = one_error_line(capsys)
    assert f"needs a driver that is not installed ({driver}): {NEXT_STEP}" in err
    assert "s3cret" not in err and "shop:***@" in err  # named, its password masked


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "'not a url' (from --db): Could not parse"),
        ("postgresql://shop:s3cret@db:fivefourthreetwo/crm", "'postgresql://shop:***@db:fivefourthreetwo/crm'"),
        ("nosuchdb://x", "'nosuchdb://x' (from --db) names a database SQLAlchemy does not know"),
        ("sqlite:/relative.db", "'sqlite:/relative.db'"),
    ],
)
def test_a_malformed_database_url(capsys, url, fragment):
    assert main(["--db", url, "lists"]) == 1
    err = one_error_line(capsys)
    assert err.startswith("error: the database URL is not valid: ") and fragment in err
    assert err.rstrip().endswith(NEXT_STEP) and "s3cret" not in err


def test_a_malformed_database_url_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("CTCT_DATABASE_URL", "postgres ql://x")
    assert main(["lists"]) == 1
    assert "(from CTCT_DATABASE_URL)" in one_error_line(capsys)


def test_a_sqlite_file_that_cannot_be_created(capsys, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert main(["--db", f"sqlite:///{blocker / 'console.db'}", "lists"]) == 1
    err = one_error_line(capsys)
    assert "cannot be created" in err and "choose another path with --db sqlite:///PATH" in err


def test_a_database_server_that_does_not_answer(capsys):
    # psycopg puts its hint on a second line: the message is still one.
    assert main(["--db", f"postgresql://shop:s3cret@127.0.0.1:{free_port()}/crm", "lists"]) == 1
    err = one_error_line(capsys)
    assert err.startswith("error: the database cannot be reached: ") and "s3cret" not in err
    assert "check the database URL (--db or CTCT_DATABASE_URL)" in err


COMMANDS = [
    "demo-data",
    "import",
    "export",
    "lists",
    "list",
    "unlock",
    "activate",
    "deactivate",
    "status",
    "plan",
    "sync",
    "history",
    "sandbox",
]


def test_no_command_lists_the_commands_one_line_each(capsys):
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    described = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    for command in COMMANDS:
        # On its own line with what it does, not wrapped onto the next one.
        assert command in described and len(described[command].split()) > 1, out
    assert "python -m ctct COMMAND --help" in out


def test_python_dash_m_ctct_without_arguments_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "ctct"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert all(f"\n    {command} " in done.stdout for command in COMMANDS), done.stdout


@pytest.mark.parametrize(
    ("args", "prog"),
    [
        (["frobnicate"], "python -m ctct"),
        (["list"], "python -m ctct list"),
        (["sync", "sideways"], "python -m ctct sync"),
    ],
)
def test_usage_errors_are_one_line_pointing_at_help(capsys, args, prog):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{prog}: ") and err.rstrip().endswith(f"see `{prog} --help`")


def test_a_stopped_command_other_than_sync_does_not_point_at_sync_resume(capsys, monkeypatch, sqlite_url):
    def stopped(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.demo, "load_demo_data", stopped)
    assert main(["--db", sqlite_url, "demo-data"]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted: what it had not finished was not saved; run the command again\n"
