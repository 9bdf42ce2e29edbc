"""`python -m ctct …`: the console's services from a shell, for consultants' scripts.

Exit codes: 0 success, 1 error (one line on stderr naming what is wrong and the next step),
2 usage error, 3 refused, 4 completed with errors, 130 interrupted. Which error ends with which
code and line is one table, ERROR_EXITS.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar
from urllib.parse import urlsplit

import httpx
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from ctct import activation, lists
from ctct.api.client import CtctClient
from ctct.api.errors import CtctConnectionError
from ctct.api.oauth import Revocation
from ctct.config import DEFAULT_API_BASE, DEFAULT_AUTH_BASE, Settings
from ctct.crm import demo, importer
from ctct.crm.export import export_data
from ctct.db import Database
from ctct.db.models import MembershipChangeHow
from ctct.db.stores import open_client
from ctct.display import ProgressLine
from ctct.errors import ConsoleError, SyncRefused
from ctct.safe_csv import write_csv
from ctct.sandbox.config import SandboxAccount
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sync import background, history, journal, schedules, staleness
from ctct.sync.apply import COMPLETED_WITH_ERRORS, SyncResult, SyncService
from ctct.sync.changes import SHOWN_KINDS
from ctct.sync.merge import MergePlan, check_resolutions, parse_resolutions
from ctct.sync.plan import IMPORT, Plan
from ctct.worker import Worker

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REFUSED, EXIT_WITH_ERRORS = 0, 1, 2, 3, 4
# A sync stopped by Ctrl-C, SIGTERM or SIGHUP: 128 + the signal's number, as shells report it.
EXIT_INTERRUPTED = 130
WARNINGS_SHOWN = 20
REJECTS_SHOWN = 50


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


# The two kinds of database the console is built and tested for (README, Configuration).
DATABASE_URL_HELP = "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"


def _shown_url(url: str) -> str:
    """`url` as a message may show it: with its password masked, even when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def _database(args: argparse.Namespace) -> Database:
    url = args.db or Settings.load().database_url
    named = f"{_shown_url(url)!r} (from {'--db' if args.db else 'CTCT_DATABASE_URL'})"
    try:
        make_url(url)
    except (ArgumentError, ValueError) as error:  # ValueError: a port that is not a number
        raise ConsoleError(f"the database URL is not valid: {named}: {error}; {DATABASE_URL_HELP}") from None
    try:
        return Database(url)
    except NoSuchModuleError:
        raise ConsoleError(
            f"the database URL is not valid: {named} names a database SQLAlchemy does not know; {DATABASE_URL_HELP}"
        ) from None
    except ImportError as missing:
        # SQLAlchemy imports a URL's driver (mysql:// needs MySQLdb, say) only when the engine is made.
        raise ConsoleError(
            f"the database URL {named} needs a driver that is not installed ({missing.name}): {DATABASE_URL_HELP}"
        ) from None
    except OSError as error:  # a SQLite file whose folder cannot be made or opened
        raise ConsoleError(
            f"the database file of {named} cannot be created ({error.strerror}: {error.filename}): "
            "choose another path with --db sqlite:///PATH"
        ) from None


# Commands


def cmd_demo_data(args: argparse.Namespace) -> int:
    database = _database(args)
    with database.session() as session:
        if args.if_empty and not demo.crm_is_empty(session):
            print("the CRM already holds data; demo data not loaded again")
            return EXIT_OK
        summary = demo.load_demo_data(
            session,
            args.companies,
            args.seed,
            replace=args.replace,
            progress=ProgressLine("demo data"),
        )
    if args.json:
        _print_json(summary.to_json())
    else:
        print(f"loaded {summary.companies:,} companies, {summary.contacts:,} contacts, {summary.tags} marketing tags")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise ConsoleError(f"file not found: {path}")
    frame, ignored = importer.read_import_file(path)
    database = _database(args)
    with database.session() as session:
        plan = importer.plan_crm_import(
            session,
            frame,
            source=path.name,
            ignored_columns=ignored,
            role_addresses=Settings.load().role_addresses,
        )
        if args.dry_run:
            _report_plan(plan, args.json)
            return EXIT_OK
        summary = importer.commit_crm_import(
            session,
            plan,
            skip_invalid=args.skip_invalid,
            progress=ProgressLine("import"),
        )
    if args.json:
        _print_json({**plan.to_json(row_limit=0), "result": summary.to_json()})
    else:
        _print_plan_notes(plan)
        print(
            f"imported: {summary.companies_created:,} companies and {summary.contacts_created:,} contacts created, "
            f"{summary.companies_updated + summary.contacts_updated:,} filled in, "
            f"{summary.tags_created} tags created, {summary.rows_rejected:,} rows skipped"
        )
    return EXIT_OK


def _print_plan_notes(plan: importer.ImportPlan) -> None:
    if plan.ignored_columns:
        print(f"ignored columns: {', '.join(plan.ignored_columns)}")
    for warning in plan.warnings[:WARNINGS_SHOWN]:
        print(f"warning: {warning.message}")
    if len(plan.warnings) > WARNINGS_SHOWN:
        print(f"... and {len(plan.warnings) - WARNINGS_SHOWN:,} more warnings (--json lists them all)")


def _report_plan(plan: importer.ImportPlan, as_json: bool) -> None:
    if as_json:
        _print_json(plan.to_json())
        return
    counts = plan.counts()
    print(
        f"dry run of {plan.source}: {counts['rows']:,} rows — "
        f"{counts['companies_to_create']:,} companies to create, {counts['companies_matched']:,} matched; "
        f"{counts['contacts_to_create']:,} contacts to create, {counts['contacts_matched']:,} matched; "
        f"{counts['rejected']:,} rows rejected"
    )
    if plan.new_tags:
        print(f"new tags: {', '.join(plan.new_tags)}")
    _print_plan_notes(plan)
    for row in plan.rejected.head(REJECTS_SHOWN).itertuples():
        print(f"line {row.line}: rejected — {row.reason}")
    if len(plan.rejected) > REJECTS_SHOWN:
        print(f"... and {len(plan.rejected) - REJECTS_SHOWN:,} more rejected rows (--json lists them all)")
    print("nothing was changed (dry run)")


def cmd_export(args: argparse.Namespace) -> int:
    with _database(args).session() as session:
        _print_json(export_data(session))
    return EXIT_OK


def cmd_lists(args: argparse.Namespace) -> int:
    with _database(args).session() as session:
        rows = [
            {
                "name": email_list.name,
                "ctct_list_id": email_list.ctct_list_id,
                "members": members,
            }
            for email_list, members in lists.all_lists(session)
        ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("no email lists")
    else:
        for row in rows:
            linked = f" (CTCT {row['ctct_list_id']})" if row["ctct_list_id"] else ""
            print(f"{row['name']}: {row['members']:,} members{linked}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """`list SUBCOMMAND`: each subcommand's function (its parser's `list_handler`) in one session."""
    with _database(args).session() as session:
        list_handler: Callable[[Session, argparse.Namespace], int] = args.list_handler
        return list_handler(session, args)


def _list_create(session: Session, args: argparse.Namespace) -> int:
    created = lists.create_list(session, args.name)
    print(f"created list {created.name!r}")
    return EXIT_OK


def _list_rename(session: Session, args: argparse.Namespace) -> int:
    renamed = lists.rename_list(session, args.old, args.new)
    print(f"renamed list {args.old!r} to {renamed.name!r}")
    return EXIT_OK


def _list_delete(session: Session, args: argparse.Namespace) -> int:
    lists.delete_list(session, args.name)
    print(f"deleted list {args.name!r}")
    return EXIT_OK


def _list_remove(session: Session, args: argparse.Namespace) -> int:
    contact_filter = _contact_filter(args)
    if contact_filter is not None:
        change = lists.remove_matching(session, args.name, contact_filter, origin=_cli_origin())
    else:
        change = lists.remove_members(session, args.name, args.emails, origin=_cli_origin())
    print(f"removed {change.removed:,} contact(s) from {args.name!r}")
    return EXIT_OK


def _list_changes(session: Session, args: argparse.Namespace) -> int:
    _print_table(lists.change_history(session, list_name=args.name, limit=args.limit), args, "no changes")
    return EXIT_OK


def _list_change(session: Session, args: argparse.Namespace) -> int:
    _print_table(lists.change_rows(session, args.change), args, f"change {args.change} changed no contact")
    return EXIT_OK


def _list_undo(session: Session, args: argparse.Namespace) -> int:
    change = lists.undo_change(session, args.change, Settings.load().role_addresses, origin=_cli_origin())
    print(f"undid change {args.change}: {change.summary()}")
    for reason, count in sorted(change.skipped.items()):
        print(f"not put back {count:,}: {reason}")
    return EXIT_OK


def _print_table(frame: Any, args: argparse.Namespace, empty: str) -> None:
    if args.csv:
        write_csv(frame, sys.stdout)
    elif args.json:
        _print_json(frame.rename(columns=str.lower).to_dict("records"))
    else:
        print(frame.to_string(index=False) if len(frame) else empty)


def _cli_origin() -> lists.ChangeOrigin:
    return lists.ChangeOrigin(made_by=f"{getpass.getuser()} (command line)", how=MembershipChangeHow.CLI)


def _list_add(session: Session, args: argparse.Namespace) -> int:
    roles = Settings.load().role_addresses
    contact_filter = _contact_filter(args)
    if contact_filter is not None:
        result = lists.add_matching(session, args.name, contact_filter, roles, origin=_cli_origin())
    else:
        result = lists.add_members(session, args.name, args.emails, roles, origin=_cli_origin())
    print(f"added {result.added:,} contact(s) to {args.name!r}; {result.already_members:,} already members")
    for reason, count in sorted(result.skipped.items()):
        print(f"skipped {count:,}: {reason}")
    return EXIT_OK


def _contact_filter(args: argparse.Namespace) -> lists.ContactFilter | None:
    """The filter of `list add|remove --all`, or None when EMAILs were given instead."""
    if args.all == bool(args.emails):
        raise UsageError(f"list {args.list_command} takes either EMAIL... or --all, not both and not neither")
    if not args.all:
        if args.type or args.tag or args.search:
            raise UsageError("--type, --tag and --search go with --all")
        return None
    return lists.ContactFilter(
        contact_type=lists.ContactType(args.type or "all"), tags=tuple(args.tag or ()), search=args.search or ""
    )


def _client(args: argparse.Namespace) -> CtctClient:
    return open_client(Settings.load(), _database(args))


def cmd_activate(args: argparse.Namespace) -> int:
    settings = Settings.load()
    database = _database(args)
    client = open_client(settings, database)
    authorize_url = client.authorization.start()
    if args.browser or (settings.is_real_ctct and not args.username):
        print("Open this address in a browser, log in to Constant Contact and allow access:\n")
        print(f"  {authorize_url}\n")
        print(
            f"Then paste the address the browser was sent to (it starts with {settings.redirect_uri}) and press Enter:"
        )
        redirected = sys.stdin.readline().strip()
        if not redirected:
            raise ConsoleError("no address was pasted: nothing was connected")
    else:
        username, password = args.username or "demo", args.password or "demo"
        redirected = sign_in_to_sandbox(client.http, authorize_url, username, password)
    status = activation.complete_activation(client, redirected)
    if not args.json:
        print(
            f"Connected to Constant Contact account {status.account_name!r} ({status.account_email}); "
            f"{activation.describe_expiry(status)}."
        )
    service = SyncService(database, client, settings)
    plan = service.plan(IMPORT, progress=_status_line)
    result = _review_and_commit(service, plan, args, "import Constant Contact's lists")
    if args.json:
        _print_json({"connection": status.to_json(), "plan": plan.to_json(), "result": result})
    return _exit_code(result)


def _status_line(message: str) -> None:
    print(message, file=sys.stderr)


def _print_plan_summary(plan: Plan | MergePlan) -> None:
    print(plan.summary())
    if isinstance(plan, MergePlan):
        for conflict in plan.conflicts:
            how = "chosen" if conflict.chosen else "default"
            print(
                f"conflict {conflict.id}: '{conflict.list}' was {conflict.local} here and {conflict.ctct} in Constant "
                f"Contact — {conflict.resolution} ({how}: {conflict.outcome}); choices: {', '.join(conflict.choices)}"
            )
        for warning in plan.all_warnings()[:WARNINGS_SHOWN]:
            if warning.kind != "conflict":
                print(f"warning: {warning.message}")
        for removal in plan.mass_removals:
            print(f"mass removal {removal}")
        return
    for warning in plan.warnings[:WARNINGS_SHOWN]:
        print(f"warning: {warning.message}")
    for removal in plan.mass_removals:
        print(f"mass removal: this {removal}")


def _refuse_open_conflicts(plan: Plan | MergePlan, args: argparse.Namespace) -> None:
    """Exit 3: a both-ways plan with a conflict nobody resolved, and no --yes to take the defaults."""
    if isinstance(plan, MergePlan) and plan.unresolved and not getattr(args, "yes", False):
        ids = ", ".join(f"{c.id} ({'/'.join(c.choices)})" for c in plan.unresolved[:5])
        raise SyncRefused(
            f"{len(plan.unresolved):,} conflict(s) have no resolution: {ids}: choose with --resolve ID=CHOICE, "
            "or take the defaults (never delete, never lose a change) with --yes"
        )


def _review_and_commit(
    service: SyncService, plan: Plan | MergePlan, args: argparse.Namespace, what: str, run_id: int | None = None
) -> dict[str, Any] | None:
    """Shows the plan, asks (unless --yes), commits — or queues it for the worker (--background);
    None when the user declined."""
    if not args.json:
        _print_plan_summary(plan)
    if plan.is_empty and not len(plan["contacts_link"]):
        if run_id is not None:
            background.dismiss(service.database, run_id, "a review that found nothing left to change")
        if not args.json:
            print("nothing to do")
        return None
    _refuse_open_conflicts(plan, args)
    if not _confirmed(args, what):
        return None
    allow_mass_removal = getattr(args, "allow_mass_removal", False)
    if getattr(args, "background", False):
        return _queue(service, plan, args, allow_mass_removal, run_id)
    result = service.commit(plan, allow_mass_removal=allow_mass_removal, progress=ProgressLine("sync"), run_id=run_id)
    if not args.json:
        _print_result(result)
    return result.to_json()


def _confirmed(args: argparse.Namespace, what: str) -> bool:
    """--yes, or the person at the terminal says yes; without a terminal, a clear refusal."""
    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        if args.command == "activate":
            print(
                "The initial import was not committed: review it with `python -m ctct plan import`, "
                "then commit it with `python -m ctct sync import --yes`."
            )
            return False
        raise ConsoleError(f"not committed: confirm with --yes to {what} (or review it with `plan`)")
    if input(f"Commit: {what}? [y/N] ").strip().lower() not in {"y", "yes"}:
        print("nothing was changed")
        return False
    return True


def _queue(
    service: SyncService,
    plan: Plan | MergePlan,
    args: argparse.Namespace,
    allow_mass_removal: bool,
    held_run: int | None = None,
) -> dict[str, Any]:
    """Queues the previewed plan for the worker (a held run reviewed: that run), refused now for
    what the commit would refuse."""
    if plan.mass_removals and not allow_mass_removal:
        raise SyncRefused(
            "this plan " + "; ".join(plan.mass_removals[:3]) + ": confirm the mass removal (--allow-mass-removal)"
        )
    if held_run is not None:
        background.requeue_held(service.database, held_run, plan, allow_mass_removal=allow_mass_removal)
        run_id = held_run
    else:
        run_id = background.queue_run(service.database, plan, started_by="cli", allow_mass_removal=allow_mass_removal)
    workers = background.workers_alive(service.database)
    if not args.json:
        print(f"queued: run {run_id} — follow it with `python -m ctct history`")
        if not workers:
            print("no worker is running: start one with `python -m ctct worker` (it commits the queued runs)")
    return {"run_id": run_id, "status": background.QUEUED, "state": background.QUEUED, "workers": workers}


def _print_result(result: SyncResult) -> None:
    print(f"{result.status.replace('_', ' ')}: run {result.run_id}, {result.requests_used:,} requests used")
    for row in result.failed[:REJECTS_SHOWN]:
        where = f" on '{row['list']}'" if row["list"] else ""
        print(f"did not apply: {row['kind'].replace('_', ' ')} {row['email']}{where} — {row['reason']}")
    if len(result.failed) > REJECTS_SHOWN:
        print(f"... and {len(result.failed) - REJECTS_SHOWN:,} more (--json lists them all)")
    if result.failed:
        print("what did not apply stays a difference: the next plan shows it again")
    for error in result.activity_errors[:10]:
        print(f"Constant Contact reported: {error}")


def _exit_code(result: dict[str, Any] | None) -> int:
    return EXIT_WITH_ERRORS if result and result.get("state") == COMPLETED_WITH_ERRORS else EXIT_OK


def _sync_service(args: argparse.Namespace) -> SyncService:
    settings = Settings.load()
    database = _database(args)
    return SyncService(database, open_client(settings, database), settings)


def _planned(
    service: SyncService, args: argparse.Namespace, resolutions: dict[str, str] | None = None
) -> Plan | MergePlan:
    chosen = {**(resolutions or {}), **parse_resolutions(getattr(args, "resolve", None))}
    if chosen and args.direction != "both":
        raise UsageError("--resolve is for `both`: only a both-ways plan has conflicts")
    plan = service.plan(args.direction, progress=_status_line, resolutions=chosen or None)
    if isinstance(plan, MergePlan):
        check_resolutions(plan, parse_resolutions(getattr(args, "resolve", None)))
    return plan


def cmd_plan(args: argparse.Namespace) -> int:
    plan = _planned(_sync_service(args), args)
    if args.json:
        _print_json(plan.to_json())
    else:
        _print_plan_summary(plan)
        parts = plan.parts if isinstance(plan, MergePlan) else (("", plan),)
        for side, part in parts:
            for kind in SHOWN_KINDS:
                frame = part[kind]
                if len(frame):
                    print(f"\n{kind.replace('_', ' ')}{' ' + side if side else ''}:")
                    print(frame.head(20).to_string(index=False))
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    if args.direction in ("review", "dismiss"):
        return _cmd_held_run(args)
    if args.run is not None:
        raise UsageError(
            f"sync {args.direction} takes no run number (only `sync review RUN` and `sync dismiss RUN` do)"
        )
    service = _sync_service(args)
    if args.resume:
        resumed = service.resume(
            args.direction,
            allow_mass_removal=args.allow_mass_removal,
            progress=ProgressLine("sync"),
            resolutions=parse_resolutions(args.resolve),
            accept_defaults=args.yes or args.direction != "both",
        )
        if not args.json:
            _print_result(resumed)
        result: dict[str, Any] | None = resumed.to_json()
        plan_json = None
    else:
        plan = _planned(service, args)
        result = _review_and_commit(service, plan, args, f"{args.direction} now")
        plan_json = plan.to_json()
    if args.json:
        body = {**(plan_json or {}), **(result or {"status": "not committed", "state": "not committed"})}
        _print_json(body)
    return _exit_code(result)


def _cmd_held_run(args: argparse.Namespace) -> int:
    """`sync review RUN` commits a run held for review (planned again when either side changed
    since, or when --resolve chooses otherwise); `sync dismiss RUN` drops it."""
    if args.run is None:
        raise UsageError(f"usage: python -m ctct sync {args.direction} RUN")
    database = _database(args)
    if args.direction == "dismiss":
        background.dismiss(database, args.run)
        if args.json:
            _print_json({"run_id": args.run, "status": background.DISMISSED, "state": background.DISMISSED})
        else:
            print(f"dismissed: run {args.run} — nothing of it was made")
        return EXIT_OK
    held = background.held(database, args.run, states=(background.NEEDS_REVIEW,))
    service = _sync_service(args)
    args.direction = str(held.plan.direction)
    chosen = parse_resolutions(args.resolve)
    if chosen and args.direction != "both":
        raise UsageError(f"--resolve is for `both`: run {args.run} is a {args.direction}, which has no conflicts")
    stored = schedules.view(database, held.schedule_id).resolutions if held.schedule_id is not None else {}
    plan = held.plan
    try:
        staleness.refuse_local_change(plan, database, service.settings.role_addresses)
        staleness.refuse_remote_change(plan, service.client)
        stale = False
    except SyncRefused:
        stale = True
    if stale or chosen:
        if stale and not args.json:
            print("a side changed since this run was held: planned again")
        plan = service.plan(args.direction, progress=_status_line, resolutions={**stored, **chosen} or None)
        if isinstance(plan, MergePlan):
            check_resolutions(plan, chosen)
        background.replan_run(database, args.run, plan)
    result = _review_and_commit(service, plan, args, f"commit held run {args.run}", run_id=args.run)
    if args.json:
        _print_json({**plan.to_json(), **(result or {"status": "not committed", "state": "not committed"})})
    return _exit_code(result)


def cmd_worker(args: argparse.Namespace) -> int:
    settings = Settings.load()
    database = _database(args)
    worker = Worker(database, lambda: SyncService(database, open_client(settings, database), settings))
    if args.once:
        report = worker.run_once()
        background.note_worker_stopped(database, worker.name)
        if args.json:
            _print_json(
                {
                    "committed": report.committed,
                    "held": report.held,
                    "failed": report.failed,
                    "nothing_to_do": report.nothing_to_do,
                }
            )
        else:
            print(
                f"worker: {len(report.committed):,} run(s) committed, {len(report.held):,} held for review, "
                f"{len(report.failed):,} failed, {len(report.nothing_to_do):,} with nothing to change"
            )
        return EXIT_WITH_ERRORS if report.failed else EXIT_OK
    print(f"worker {worker.name}: committing queued runs and running schedules (Ctrl-C stops it)", file=sys.stderr)
    worker.run_forever()
    return EXIT_OK


def cmd_schedule(args: argparse.Namespace) -> int:
    database = _database(args)
    command = args.schedule_command
    if command == "add":
        found = schedules.add_schedule(
            database,
            args.direction,
            every_minutes=args.every,
            daily_at=args.daily,
            resolutions=parse_resolutions(args.resolve),
        )
        if args.json:
            _print_json(found.to_json())
        else:
            print(f"schedule {found.id}: {found.direction} {found.when}; next at {found.next_due:%Y-%m-%d %H:%M} UTC")
            if not background.workers_alive(database):
                print("no worker is running: schedules run only while `python -m ctct worker` does")
        return EXIT_OK
    if command in (None, "list"):
        return _list_schedules(database, args)
    if command == "remove":
        schedules.remove_schedule(database, args.id)
        body: dict[str, Any] = {"id": args.id, "removed": True}
    else:
        body = schedules.set_paused(database, args.id, command == "pause").to_json()
    if args.json:
        _print_json(body)
    else:
        print(f"schedule {args.id} {'removed' if command == 'remove' else command + 'd'}")
    return EXIT_OK


def _list_schedules(database: Database, args: argparse.Namespace) -> int:
    found = schedules.list_schedules(database)
    if args.json:
        _print_json([item.to_json() for item in found])
    elif not found:
        print("no schedules")
    for item in [] if args.json else found:
        state = "paused" if item.paused else f"next at {item.next_due:%Y-%m-%d %H:%M} UTC"
        print(f"schedule {item.id}: {item.direction} {item.when} — {state}")
    return EXIT_OK


def cmd_unlock(args: argparse.Namespace) -> int:
    """Removes a sync lock left by a process that cannot be proved dead (another host, say)."""
    database = _database(args)
    held = journal.current_lock(database)
    if held is None:
        print("no sync lock is held")
        return EXIT_OK
    what = f"the sync lock of {held.holder} (run {held.run_id}, expires {held.expires_at:%Y-%m-%d %H:%M} UTC)"
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConsoleError(f"{what} is held: confirm with --yes to remove it")
        if input(f"Remove {what}? Only if that sync is not running any more. [y/N] ").strip().lower() not in {
            "y",
            "yes",
        }:
            print("nothing was changed")
            return EXIT_OK
    journal.break_lock(database)
    print(f"removed {what}; resume the interrupted sync with `python -m ctct sync DIRECTION --resume`")
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    database = _database(args)
    if args.history_command == "show":
        run = history.run_detail(database, args.run)
        if args.csv:
            write_csv(run["changes"], sys.stdout)
        elif args.json:
            _print_json({**run["run"], "changes": run["changes"].to_dict("records")})
        else:
            print(history.describe(run["run"]))
            print(run["changes"].to_string(index=False) if len(run["changes"]) else "no row-level changes")
        return EXIT_OK
    runs = history.runs(database)
    if args.json:
        _print_json(runs)
    elif not runs:
        print("no syncs yet")
    else:
        for run in runs:
            print(history.describe(run))
    return EXIT_OK


def cmd_deactivate(args: argparse.Namespace) -> int:
    database = _database(args)
    client = open_client(Settings.load(), database)
    if not args.yes:
        lists_held = activation.list_count(database)
        if not sys.stdin.isatty():
            raise ConsoleError(f"deactivating deletes all {lists_held:,} email lists here: confirm with --yes")
        answer = input(
            f"Deactivate Constant Contact and delete all {lists_held:,} email lists here "
            "(companies and contacts stay)? [y/N] "
        )
        if answer.strip().lower() not in {"y", "yes"}:
            print("nothing was changed")
            return EXIT_OK
    # Revoked here first, as deactivate() itself would, to learn whether CTCT revoked the token:
    # deactivate() then finds no token left and deletes the lists.
    revocation = client.authorization.revoke_and_forget()
    summary = activation.deactivate(client, database)
    if args.json:
        _print_json({**summary.to_json(), "token": str(revocation)})
    else:
        print(
            f"Deactivated: {REVOCATION_TEXT[revocation]}; {summary.lists_deleted:,} lists and "
            f"{summary.memberships_deleted:,} memberships deleted; companies and contacts kept."
        )
    return EXIT_OK


_FORGOTTEN = "it was deleted here and expires on its own"
REVOCATION_TEXT = {
    Revocation.REVOKED: "token revoked at Constant Contact",
    Revocation.NOT_REACHED: f"the token could not be revoked at Constant Contact (not reachable): {_FORGOTTEN}",
    Revocation.REFUSED: f"Constant Contact did not accept the token's revocation: {_FORGOTTEN}",
    Revocation.KEY_LOST: (
        f"the token could not be revoked (the key that encrypted it is missing or wrong): {_FORGOTTEN}"
    ),
    Revocation.NO_TOKEN: "no token was stored",
}


def cmd_status(args: argparse.Namespace) -> int:
    status = activation.connection_status(_client(args))
    if args.json:
        _print_json(status.to_json())
        return EXIT_OK
    if status.key_error:
        print(f"Inactive: {status.key_error} (python -m ctct activate)")
    elif status.active:
        print(f"Active: {status.account_name} ({status.account_email}); {activation.describe_expiry(status)}")
    elif status.reauthorization_required:
        print(f"Inactive: {status.account_name} needs to be activated again (python -m ctct activate)")
    else:
        print("Not connected to Constant Contact (python -m ctct activate)")
    print(
        f"Requests today: {status.requests_used_today:,} used, {status.requests_remaining_today:,} "
        f"of {status.daily_quota:,} left"
    )
    return EXIT_OK


def _sandbox_account(text: str) -> SandboxAccount:
    username, _, rest = text.partition(":")
    password, _, name = rest.partition(":")
    if not username or not password:
        raise argparse.ArgumentTypeError("an account is USER:PASSWORD[:Account Name]")
    return SandboxAccount(username=username, password=password, name=name or f"{username} Company")


def _sandbox_client_secret(text: str) -> tuple[str, str]:
    client_id, _, secret = text.partition(":")
    if not client_id or not secret:
        raise argparse.ArgumentTypeError("a confidential client is ID:SECRET")
    return client_id, secret


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from ctct.sandbox import DEMO_ACCOUNT, SandboxConfig, create_app

    config = SandboxConfig(
        accounts=args.account or [DEMO_ACCOUNT],
        client_ids=frozenset(args.client_id) if args.client_id else None,
        client_secrets=dict(args.client_secret or ()),
        redirect_uris=frozenset(args.redirect_uri or ()),
        rate_limit=args.rate_limit,
        daily_quota=args.daily_quota,
        activity_seconds=args.activity_seconds,
        state_file=Path(args.state) if args.state else None,
    )
    app = create_app(config)
    print(f"CTCT sandbox on http://{args.host}:{args.port}  (API /v3, OAuth /oauth2/default/v1, controls /_sandbox)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


# Parser


class UsageError(ConsoleError):
    """The command line itself is wrong: an unknown command or option, a missing argument."""


class _HelpFormatter(argparse.HelpFormatter):
    """argparse leaves the commands' own indent out when it places the help column, so the
    longest names (demo-data, deactivate) got their help wrapped onto a line of its own."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is argparse.SUPPRESS:
            return
        for command in self._iter_indented_subactions(action):  # indents while it yields
            width = len(self._format_action_invocation(command)) + self._current_indent
            self._action_max_length = max(self._action_max_length, width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)  # for the subcommands' parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse would print the whole usage block: one line, and where the options are listed.
        raise UsageError(f"{self.prog}: {message}; see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ctct",
        description="Constant Contact list-sync console",
        epilog="`python -m ctct COMMAND --help` shows a command's options. Exit codes: 0 done, 1 error, "
        "2 usage error, 3 refused, 4 completed with errors, 130 interrupted.",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $CTCT_DATABASE_URL, else data/console.db)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    # In the order `--help` lists them.
    _add_crm_commands(commands)
    _add_list_commands(commands)
    _add_unlock_command(commands)
    _add_connection_commands(commands)
    _add_sync_commands(commands)
    _add_sandbox_command(commands)
    return parser


# What `add_subparsers` returns (argparse names its class as private).
Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _add_crm_commands(commands: Commands) -> None:
    demo_parser = commands.add_parser("demo-data", help="load the deterministic demo CRM data")
    demo_parser.add_argument("--companies", type=int, default=demo.DEFAULT_COMPANIES, metavar="N")
    demo_parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, metavar="S")
    demo_parser.add_argument("--replace", action="store_true", help="delete the CRM data and lists first")
    demo_parser.add_argument("--if-empty", action="store_true", help="load only into an empty CRM (demo start)")
    demo_parser.add_argument("--json", action="store_true")
    demo_parser.set_defaults(handler=cmd_demo_data)

    import_parser = commands.add_parser("import", help="import companies and contacts from CSV or .xlsx")
    import_parser.add_argument("file")
    import_parser.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
    import_parser.add_argument("--skip-invalid", action="store_true", help="import the valid rows, skip rejected ones")
    import_parser.add_argument("--json", action="store_true")
    import_parser.set_defaults(handler=cmd_import)

    export_parser = commands.add_parser("export", help="companies, contacts and lists as JSON")
    export_parser.add_argument("--json", action="store_true", help="JSON output (the only format)")
    export_parser.set_defaults(handler=cmd_export)


def _add_list_commands(commands: Commands) -> None:
    lists_parser = commands.add_parser("lists", help="email lists with member counts")
    lists_parser.add_argument("--json", action="store_true")
    lists_parser.set_defaults(handler=cmd_lists)

    list_parser = commands.add_parser("list", help="create, rename, delete lists; add and remove members")
    list_parser.set_defaults(handler=cmd_list)
    list_commands = list_parser.add_subparsers(
        dest="list_command", metavar="SUBCOMMAND", required=True, parser_class=_Parser
    )
    create = list_commands.add_parser("create", help="create an empty email list")
    create.add_argument("name")
    create.set_defaults(list_handler=_list_create)
    rename = list_commands.add_parser("rename", help="rename an email list")
    rename.add_argument("old")
    rename.add_argument("new")
    rename.set_defaults(list_handler=_list_rename)
    delete = list_commands.add_parser("delete", help="delete an email list (its contacts stay)")
    delete.add_argument("name")
    delete.set_defaults(list_handler=_list_delete)
    _add_membership_commands(list_commands)
    _add_change_commands(list_commands)


def _add_membership_commands(list_commands: Commands) -> None:
    add = list_commands.add_parser("add", help="add contacts by email, or --all that match a filter")
    add.add_argument("name")
    add.add_argument("emails", nargs="*", metavar="EMAIL")
    _add_filter_options(add, "every eligible contact matching the filter")
    add.set_defaults(list_handler=_list_add)
    remove = list_commands.add_parser("remove", help="remove members by email, or --all that match a filter")
    remove.add_argument("name")
    remove.add_argument("emails", nargs="*", metavar="EMAIL")
    _add_filter_options(remove, "every member matching the filter")
    remove.set_defaults(list_handler=_list_remove)


def _add_filter_options(parser: argparse.ArgumentParser, all_help: str) -> None:
    parser.add_argument("--all", action="store_true", help=all_help)
    parser.add_argument("--type", choices=["customer", "prospect"])
    parser.add_argument("--tag", action="append", metavar="TAG", help="marketing tag (repeat for any of several)")
    parser.add_argument("--search", metavar="TEXT")


def _add_change_commands(list_commands: Commands) -> None:
    changes = list_commands.add_parser("changes", help="the journal of membership changes, newest first")
    changes.add_argument("name", nargs="?", help="only this list's changes")
    changes.add_argument("--limit", type=int, default=50, help="how many changes (default 50)")
    changes.set_defaults(list_handler=_list_changes)
    change = list_commands.add_parser("change", help="the contacts one journaled change added or removed")
    change.add_argument("change", type=int, metavar="CHANGE")
    change.set_defaults(list_handler=_list_change)
    for table in (changes, change):
        output = table.add_mutually_exclusive_group()
        output.add_argument("--json", action="store_true")
        output.add_argument("--csv", action="store_true")
    undo = list_commands.add_parser("undo", help="revert one journaled change (journaled as an undo)")
    undo.add_argument("change", type=int, metavar="CHANGE")
    undo.set_defaults(list_handler=_list_undo)


def _add_unlock_command(commands: Commands) -> None:
    unlock = commands.add_parser("unlock", help="remove a sync lock whose holder is not running any more")
    unlock.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    unlock.set_defaults(handler=cmd_unlock)


def _add_connection_commands(commands: Commands) -> None:
    activate = commands.add_parser("activate", help="connect a Constant Contact account (OAuth2 + PKCE)")
    activate.add_argument("--username", help="sandbox only: sign in with this username (default demo)")
    activate.add_argument("--password", help="sandbox only: and this password (default demo)")
    activate.add_argument(
        "--browser", action="store_true", help="print the login address and read the redirect, even for a sandbox"
    )
    activate.add_argument("--yes", action="store_true", help="commit the initial import without review")
    activate.add_argument("--json", action="store_true")
    activate.set_defaults(handler=cmd_activate)

    deactivate = commands.add_parser("deactivate", help="revoke the token and delete all email lists here")
    deactivate.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    deactivate.add_argument("--json", action="store_true")
    deactivate.set_defaults(handler=cmd_deactivate)

    status = commands.add_parser("status", help="connection state and requests used today")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)


def _add_sync_commands(commands: Commands) -> None:
    plan_parser = commands.add_parser("plan", help="preview an import, push, pull or both ways (changes nothing)")
    plan_parser.add_argument("direction", choices=["import", "push", "pull", "both"])
    plan_parser.add_argument("--resolve", action="append", metavar="ID=CHOICE", help="resolve a conflict of `both`")
    plan_parser.add_argument("--json", action="store_true")
    plan_parser.set_defaults(handler=cmd_plan)

    sync = commands.add_parser(
        "sync", help="push, pull or sync both ways; `sync review RUN` commits a held run, `sync dismiss RUN` drops it"
    )
    sync.add_argument("direction", choices=["import", "push", "pull", "both", "review", "dismiss"])
    sync.add_argument("run", nargs="?", type=int, help="the run to review or dismiss")
    sync.add_argument(
        "--yes", action="store_true", help="commit without asking (for `both`: conflicts take their defaults)"
    )
    sync.add_argument("--allow-mass-removal", action="store_true", help="confirm list deletions and mass removals")
    sync.add_argument(
        "--resolve",
        action="append",
        metavar="ID=CHOICE",
        help="resolve a conflict (its id or kind) otherwise than by default",
    )
    sync.add_argument("--background", action="store_true", help="queue the sync for the worker and print its run id")
    sync.add_argument("--resume", action="store_true", help="finish an interrupted sync")
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(handler=cmd_sync)

    worker = commands.add_parser("worker", help="commit queued syncs and run schedules in the background")
    worker.add_argument("--once", action="store_true", help="run what is queued or due now, then exit")
    worker.add_argument("--json", action="store_true")
    worker.set_defaults(handler=cmd_worker)

    schedule = commands.add_parser("schedule", help="syncs run unattended, every N minutes or daily")
    schedule.add_argument("--json", action="store_true")
    schedule_commands = schedule.add_subparsers(dest="schedule_command", parser_class=_Parser)
    add = schedule_commands.add_parser("add", help="a new schedule")
    add.add_argument("direction", choices=["both", "pull", "push"])
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", type=int, metavar="MINUTES")
    when.add_argument("--daily", metavar="HH:MM", help="every day at this time (UTC)")
    add.add_argument("--resolve", action="append", metavar="ID=CHOICE", help="a stored resolution for its conflicts")
    add.add_argument("--json", action="store_true")
    listing = schedule_commands.add_parser("list", help="the schedules, with when each runs next")
    listing.add_argument("--json", action="store_true")
    for name, what in (
        ("remove", "delete a schedule"),
        ("pause", "stop a schedule for now"),
        ("resume", "run it again"),
    ):
        one = schedule_commands.add_parser(name, help=what)
        one.add_argument("id", type=int)
        one.add_argument("--json", action="store_true")
    schedule.set_defaults(handler=cmd_schedule)

    history_parser = commands.add_parser("history", help="past imports and syncs")
    history_parser.add_argument("--json", action="store_true")
    history_commands = history_parser.add_subparsers(dest="history_command", parser_class=_Parser)
    show = history_commands.add_parser("show", help="one run with its row-level changes")
    show.add_argument("run", type=int)
    show.add_argument("--csv", action="store_true")
    show.add_argument("--json", action="store_true")
    history_parser.set_defaults(handler=cmd_history)


def _add_sandbox_command(commands: Commands) -> None:
    sandbox = commands.add_parser("sandbox", help="run the CTCT sandbox (API + OAuth emulator)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--state", metavar="FILE", help="keep the sandbox's data in this file across restarts")
    sandbox.add_argument("--rate-limit", type=float, default=4.0, metavar="PER_SECOND")
    sandbox.add_argument("--daily-quota", type=int, default=10_000)
    sandbox.add_argument("--activity-seconds", type=float, default=2.0, help="how long each bulk activity runs")
    sandbox.add_argument(
        "--account",
        action="append",
        type=_sandbox_account,
        metavar="USER:PASSWORD[:NAME]",
        help="an account (repeat for more; default demo:demo 'Demo Company')",
    )
    sandbox.add_argument("--client-id", action="append", metavar="ID", help="accept only these client ids")
    sandbox.add_argument(
        "--client-secret",
        action="append",
        type=_sandbox_client_secret,
        metavar="ID:SECRET",
        help="a confidential client: its token and revoke requests must authenticate with this secret",
    )
    sandbox.add_argument("--redirect-uri", action="append", metavar="URI", help="allow a non-loopback redirect URI")
    sandbox.set_defaults(handler=cmd_sandbox)


def _stop_on_signal(number: int, _frame: object) -> None:
    raise journal.SyncInterrupted(signal.Signals(number).name)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_ctct(origin: str) -> bool:
    return origin in {_origin(DEFAULT_API_BASE), _origin(DEFAULT_AUTH_BASE)}


def _when_unreachable(origin: str) -> str:
    """The next step when the CTCT or sandbox server at `origin` did not answer."""
    if _is_ctct(origin):
        return "check this machine's internet connection (and proxy), then try again"
    parts = urlsplit(origin)
    if parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        start = f"start it with `python -m ctct sandbox --port {port}`"
    else:
        start = "start it there"
    return (
        f"is the sandbox at {origin} running? {start}, or point CTCT_API_BASE and CTCT_AUTH_BASE at the one that runs"
    )


def _transport_failure(error: httpx.TransportError) -> str:
    # The sandbox sign-in (demo_account.sign_in_to_sandbox) talks httpx directly: its failures
    # arrive here unwrapped.
    try:
        origin = _origin(str(error.request.url))
    except RuntimeError:  # an error raised without its request
        origin = _origin(Settings.load().auth_base)
    detail = " ".join(str(error).split())
    reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    who = f"Constant Contact ({origin})" if _is_ctct(origin) else "the Constant Contact sandbox"
    return f"{who} cannot be reached ({reason}): {_when_unreachable(origin)}"


def _connection_failure(error: CtctConnectionError) -> str:
    message = str(error)
    # The client's own wording for a server that did not answer ("could not be reached for GET …",
    # "sign-in service cannot be reached"); its other connection errors need no server started.
    if "reached" not in message:
        return message
    settings = Settings.load()
    origin = _origin(settings.auth_base if "sign-in" in message else settings.api_base)
    return f"{message}; {_when_unreachable(origin)}"


# How a command ends on an error

E = TypeVar("E", bound=BaseException)


@dataclass(frozen=True)
class ErrorExit(Generic[E]):
    """How a command ends on an error of class `error`: its exit code, and its one line on stderr
    (no `line`: nothing can be printed any more)."""

    error: type[E]
    code: int
    line: Callable[[E, argparse.Namespace | None], str] | None


def _interrupted(stop: KeyboardInterrupt, args: argparse.Namespace | None) -> str:
    what = f" ({stop})" if str(stop) else ""
    if args is not None and args.command == "sync":
        return (
            f"interrupted{what}: nothing half-done is lost; finish it with "
            f"`python -m ctct sync {args.direction} --resume` (or make a new plan)"
        )
    if args is not None and args.command == "worker":
        return (
            f"worker stopped{what}: a sync it was committing is marked interrupted — finish it with "
            "`python -m ctct sync DIRECTION --resume` (see `python -m ctct history`); queued runs wait for a worker"
        )
    # Only `sync` has runs to resume; the other commands commit their work in one
    # transaction, or can simply be run again (demo-data, import, activate).
    return f"interrupted{what}: what it had not finished was not saved; run the command again"


def _database_unreachable(error: OperationalError, _args: argparse.Namespace | None) -> str:
    # A driver's message may run over several lines (psycopg adds its hint on a second one).
    reason = " ".join(str(error.orig).split())
    return (
        f"error: the database cannot be reached: {reason}: check the database URL (--db or "
        "CTCT_DATABASE_URL) and that its server is running"
    )


def _database_error(error: SQLAlchemyError, _args: argparse.Namespace | None) -> str:
    return f"error: database error: {str(error).splitlines()[0]}"


# Most specific first: an error ends as the first row whose class it belongs to says. Scripts
# read these codes and lines: they change only with the README's list of exit codes.
ERROR_EXITS: tuple[ErrorExit[Any], ...] = (
    # Ctrl-C, and SIGTERM or SIGHUP (journal.SyncInterrupted).
    ErrorExit(KeyboardInterrupt, EXIT_INTERRUPTED, _interrupted),
    # The reader (e.g. `head`) went away: done as far as it wanted.
    ErrorExit(BrokenPipeError, EXIT_OK, None),
    ErrorExit(UsageError, EXIT_USAGE, lambda error, _args: str(error)),
    ErrorExit(SyncRefused, EXIT_REFUSED, lambda error, _args: f"refused: {error}"),
    ErrorExit(CtctConnectionError, EXIT_ERROR, lambda error, _args: f"error: {_connection_failure(error)}"),
    ErrorExit(ConsoleError, EXIT_ERROR, lambda error, _args: f"error: {error}"),
    ErrorExit(httpx.TransportError, EXIT_ERROR, lambda error, _args: f"error: {_transport_failure(error)}"),
    ErrorExit(OperationalError, EXIT_ERROR, _database_unreachable),
    ErrorExit(SQLAlchemyError, EXIT_ERROR, _database_error),
)
HANDLED_ERRORS = tuple(row.error for row in ERROR_EXITS)


def exit_for(error: BaseException, args: argparse.Namespace | None) -> tuple[int, str | None]:
    """The exit code and the stderr line (None: none) of the first row of ERROR_EXITS `error` belongs to."""
    row = next(row for row in ERROR_EXITS if isinstance(error, row.error))
    return row.code, (row.line(error, args) if row.line else None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # SIGTERM and SIGHUP stop a sync as Ctrl-C does: the run is marked interrupted, the lock
    # released, and `--resume` finishes it later.
    for number in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if number is not None and threading.current_thread() is threading.main_thread():
            signal.signal(number, _stop_on_signal)
    args: argparse.Namespace | None = None
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments:
        # Asking what the command does is not a mistake: the commands, one line each.
        parser.print_help()
        return EXIT_OK
    try:
        args = parser.parse_args(arguments)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except HANDLED_ERRORS as error:
        code, line = exit_for(error, args)
        if line is None:
            # Not even the interpreter's complaint that stdout could not be flushed at exit.
            sys.stderr.close()
        else:
            print(line, file=sys.stderr)
        return code
