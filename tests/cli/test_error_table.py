"""One error root for the console, and the CLI's one table from error classes to exit codes.

The exit codes and their one-line messages are a public interface (consultants' scripts read
them): each row of the table is checked here through `main`, word for word.
"""

import importlib
import inspect
import io
import pkgutil
import sys
from collections import Counter

import httpx
import pytest
from sqlalchemy.exc import OperationalError, SQLAlchemyError

import ctct
from ctct import cli
from ctct.api.errors import ApiStatusError, CtctConnectionError, CtctError, NotActivated
from ctct.api.vault import SecretKeyError
from ctct.errors import (
    ConsoleError,
    ImportFileError,
    ImportRejected,
    ImportStale,
    IneligibleContacts,
    InvalidInput,
    RecordConflict,
    RecordNotFound,
    SyncBusy,
    SyncRefused,
)
from ctct.sync.journal import SyncInterrupted

SANDBOX = "http://127.0.0.1:8765"
SANDBOX_HINT = (
    f"is the sandbox at {SANDBOX} running? start it with `python -m ctct sandbox --port 8765`, "
    "or point CTCT_API_BASE and CTCT_AUTH_BASE at the one that runs"
)

# (what the command raised, the command, the exit code, the line on stderr)
CASES = [
    pytest.param(
        cli.UsageError("python -m ctct: unknown option --x; see `python -m ctct --help`"),
        ["status"],
        2,
        "python -m ctct: unknown option --x; see `python -m ctct --help`",
        id="usage",
    ),
    pytest.param(
        SyncRefused("Customer Focus changed since this preview: make a new preview"),
        ["status"],
        3,
        "refused: Customer Focus changed since this preview: make a new preview",
        id="sync-refused",
    ),
    pytest.param(
        SyncBusy("another sync is running (run 4)"),
        ["status"],
        3,
        "refused: another sync is running (run 4)",
        id="sync-busy",
    ),
    pytest.param(
        CtctConnectionError("Constant Contact could not be reached for GET /v3/contact_lists"),
        ["status"],
        1,
        f"error: Constant Contact could not be reached for GET /v3/contact_lists; {SANDBOX_HINT}",
        id="ctct-unreachable",
    ),
    pytest.param(
        CtctConnectionError("the connection to Constant Contact broke during POST /v3/activities"),
        ["status"],
        1,
        "error: the connection to Constant Contact broke during POST /v3/activities",
        id="ctct-connection-broke",
    ),
    pytest.param(NotActivated(), ["status"], 1, f"error: {NotActivated()}", id="ctct-not-activated"),
    pytest.param(
        ApiStatusError(
            "Constant Contact answered 418 to GET /v3/x: teapot",
            status_code=418,
            error_key=None,
            method="GET",
            path="/v3/x",
        ),
        ["status"],
        1,
        "error: Constant Contact answered 418 to GET /v3/x: teapot",
        id="ctct-status",
    ),
    pytest.param(
        RecordNotFound("no email list named 'Golf'"), ["status"], 1, "error: no email list named 'Golf'", id="service"
    ),
    pytest.param(
        ImportStale("the CRM changed since crm.csv was planned: plan the file again"),
        ["status"],
        1,
        "error: the CRM changed since crm.csv was planned: plan the file again",
        id="import",
    ),
    pytest.param(
        ConsoleError("no address was pasted: nothing was connected"),
        ["status"],
        1,
        "error: no address was pasted: nothing was connected",
        id="console",
    ),
    pytest.param(
        httpx.ConnectError("[Errno 111] Connection refused", request=httpx.Request("GET", f"{SANDBOX}/oauth2/x")),
        ["status"],
        1,
        "error: the Constant Contact sandbox cannot be reached (ConnectError: [Errno 111] Connection refused): "
        + SANDBOX_HINT,
        id="transport",
    ),
    pytest.param(
        OperationalError("SELECT 1", {}, Exception("connection refused\n\tIs the server running?")),
        ["status"],
        1,
        "error: the database cannot be reached: connection refused Is the server running?: check the database "
        "URL (--db or CTCT_DATABASE_URL) and that its server is running",
        id="database-unreachable",
    ),
    pytest.param(
        SQLAlchemyError("no such table: sync_runs\n[SQL: SELECT …]"),
        ["status"],
        1,
        "error: database error: no such table: sync_runs",
        id="database",
    ),
    pytest.param(
        KeyboardInterrupt(),
        ["status"],
        130,
        "interrupted: what it had not finished was not saved; run the command again",
        id="interrupted",
    ),
    pytest.param(
        SyncInterrupted("SIGTERM"),
        ["sync", "push"],
        130,
        "interrupted (SIGTERM): nothing half-done is lost; finish it with `python -m ctct sync push --resume` "
        "(or make a new plan)",
        id="sync-interrupted",
    ),
]


def raising(error):
    def handler(_args):
        raise error

    return handler


@pytest.fixture(autouse=True)
def sandbox_settings(monkeypatch):
    monkeypatch.setenv("CTCT_API_BASE", f"{SANDBOX}/v3")
    monkeypatch.setenv("CTCT_AUTH_BASE", f"{SANDBOX}/oauth2/default/v1")


@pytest.mark.parametrize(("error", "command", "code", "line"), CASES)
def test_each_error_class_ends_the_command_with_its_exit_code_and_one_line(
    monkeypatch, capsys, error, command, code, line
):
    monkeypatch.setattr(cli, f"cmd_{command[0]}", raising(error))
    assert cli.main(command) == code
    out, err = capsys.readouterr()
    assert (out, err) == ("", line + "\n")


def test_a_reader_gone_away_ends_quietly(monkeypatch):
    # `python -m ctct export | head`: nothing more can be printed, not even the interpreter's
    # complaint about flushing stdout.
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(cli, "cmd_export", raising(BrokenPipeError()))
    assert cli.main(["export"]) == 0
    assert stderr.closed


def test_every_row_of_the_table_is_checked_and_none_is_hidden_by_an_earlier_one():
    rows = [row.error for row in cli.ERROR_EXITS]
    for index, row in enumerate(rows):
        assert not any(issubclass(row, wider) for wider in rows[:index]), f"{row.__name__} is caught earlier"
    raised = [case.values[0] for case in CASES] + [BrokenPipeError()]
    first_matches = {next(row for row in rows if isinstance(error, row)) for error in raised}
    assert first_matches == set(rows)


def test_an_error_outside_the_table_is_not_swallowed(monkeypatch):
    monkeypatch.setattr(cli, "cmd_status", raising(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError):
        cli.main(["status"])


def test_the_exit_codes_are_defined_once_in_the_table():
    assert not hasattr(SyncRefused, "exit_code")
    assert cli.exit_for(SyncBusy("busy"), None) == (3, "refused: busy")
    assert cli.exit_for(SecretKeyError("the key is lost"), None) == (1, "error: the key is lost")


def error_classes_defined_in_ctct():
    for module_info in pkgutil.walk_packages(ctct.__path__, "ctct."):
        module = importlib.import_module(module_info.name)
        for _, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, BaseException) and member.__module__ == module.__name__:
                yield member


# A stop asked for from outside is handled as Ctrl-C is, so it stays a KeyboardInterrupt. The
# sandbox stands for Constant Contact itself: its errors become its HTTP answers.
NOT_THE_CONSOLES = {SyncInterrupted}
SANDBOX_PACKAGE = "ctct.sandbox."


def test_every_error_the_console_defines_is_a_console_error():
    defined = set(error_classes_defined_in_ctct())
    assert {CtctError, SecretKeyError, InvalidInput, IneligibleContacts, RecordConflict, ImportFileError} <= defined
    assert ImportRejected in defined and SyncBusy in defined
    outside = {
        f"{error.__module__}.{error.__qualname__}"
        for error in defined - NOT_THE_CONSOLES
        if not error.__module__.startswith(SANDBOX_PACKAGE) and not issubclass(error, ConsoleError)
    }
    assert outside == set()


def test_no_two_error_classes_share_a_name():
    names = Counter(error.__name__ for error in error_classes_defined_in_ctct())
    assert [name for name, count in names.items() if count > 1] == []
