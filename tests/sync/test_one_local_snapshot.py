"""One local snapshot per sync: the commit's stale check is the CRM revision (bumped by database
triggers on any change, whoever makes it), and the baseline after a commit is recorded from the
plan's snapshot, not from another read of the whole CRM."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import event, select, text, update

from ctct import lists
from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm import importer, services
from ctct.db import Database
from ctct.db.models import Contact, EmailStatus
from ctct.errors import SyncRefused
from ctct.sync import journal
from ctct.sync.apply import SyncService
from ctct.sync.baseline import observed_baseline
from ctct.sync.local_read import local_snapshot
from ctct.sync.pull import pull
from ctct.sync.push import push
from ctct.sync.push_progress import silent
from ctct.sync.recording import _confirmed, _local_side, _remote_side, local_after, record_baseline
from ctct.sync.snapshot import load_baseline
from tests.unit.plan_snapshots import Here, local_side


def crm(database: Database) -> None:
    """Two companies, three contacts, two lists with members: something to change."""
    with database.session() as session:
        acme = services.create_company(session, "Acme")
        services.create_company(session, "Globex")
        for email, first in (("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"), ("cy@acme.com", "Cy")):
            services.create_contact(session, acme.id, email=email, first_name=first, last_name="Lee")
        lists.create_list(session, "News")
        lists.create_list(session, "Events")
        lists.add_members(session, "News", ["ann@acme.com", "bo@acme.com"])
        lists.add_members(session, "Events", ["cy@acme.com"])


def contact_id(session, email: str) -> int:
    return session.scalar(select(Contact.id).where(Contact.email == email))


def _contact_field(session) -> None:
    services.update_contact(session, contact_id(session, "ann@acme.com"), job_title="Owner")


def _email(session) -> None:
    services.update_contact(session, contact_id(session, "bo@acme.com"), email="bo@globex.com")


def _unsubscribe(session) -> None:
    session.execute(update(Contact).where(Contact.email == "cy@acme.com").values(email_status=EmailStatus.UNSUBSCRIBED))


def _company_rename(session) -> None:
    services.update_company(session, services.find_companies_by_name(session, "Acme")[0].id, name="Acme Inc")


def _company_general_address(session) -> None:
    # Makes Ann ineligible (her email becomes the company's general address): the old stale
    # check hashed names and emails only and let this plan through.
    services.update_company(session, services.find_companies_by_name(session, "Acme")[0].id, email="ann@acme.com")


def _company_added(session) -> None:
    services.create_company(session, "Initech")


def _contact_added(session) -> None:
    globex = services.find_companies_by_name(session, "Globex")[0]
    services.create_contact(session, globex.id, email="di@globex.com", first_name="Di")


def _contact_deleted(session) -> None:
    services.delete_contact(session, contact_id(session, "cy@acme.com"))


def _list_rename(session) -> None:
    lists.rename_list(session, "Events", "Meetups")


def _list_create(session) -> None:
    lists.create_list(session, "Offers")


def _list_delete(session) -> None:
    lists.delete_list(session, "Offers")


def _member_add(session) -> None:
    lists.add_members(session, "News", ["di@globex.com"])


def _member_remove(session) -> None:
    lists.remove_members(session, "News", ["ann@acme.com"])


def _bulk_import(session) -> None:
    csv = (
        "Company,Kind,Company Email,First Name,Last Name,Email,Job Title,Tags\nHooli,prospect,,Ed,Ray,ed@hooli.com,,\n"
    )
    frame, ignored = importer.read_import_file("crm.csv", csv.encode())
    importer.commit_crm_import(session, importer.plan_crm_import(session, frame, ignored_columns=ignored))


def _raw_sql_update(session) -> None:
    session.execute(text("UPDATE contacts SET last_name = 'Lim' WHERE email = 'ann@acme.com'"))


def _raw_sql_membership_delete(session) -> None:
    session.execute(text("DELETE FROM list_memberships"))


CHANGES: dict[str, Callable] = {
    "contact field": _contact_field,
    "email": _email,
    "unsubscribe": _unsubscribe,
    "company rename": _company_rename,
    "company general address": _company_general_address,
    "company added": _company_added,
    "contact added": _contact_added,
    "contact deleted": _contact_deleted,
    "list rename": _list_rename,
    "list create": _list_create,
    "list delete": _list_delete,
    "membership add": _member_add,
    "membership remove": _member_remove,
    "bulk import": _bulk_import,
    "raw SQL update": _raw_sql_update,
    "raw SQL membership delete": _raw_sql_membership_delete,
}


def test_any_change_in_customer_focus_after_the_preview_makes_the_commit_refuse(
    service: SyncService, database: Database
) -> None:
    crm(database)
    refused_on = []
    # One database for all the changes (each on top of the last), the directions taking turns.
    for number, (change, make) in enumerate(CHANGES.items()):
        plan = service.plan("push" if number % 2 else "pull")
        with database.session() as session:
            make(session)
        with pytest.raises(SyncRefused, match="Customer Focus changed"):
            service.commit(plan)
        refused_on.append(change)
    assert refused_on == list(CHANGES)


@pytest.mark.parametrize("direction", ["push", "pull"])
def test_a_commit_goes_ahead_when_nothing_changed_here_since_the_preview(
    service: SyncService, database: Database, direction: str
) -> None:
    crm(database)
    plan = service.plan(direction)
    with database.session() as session:
        # Reads, and a write that matches no row, change nothing.
        local_snapshot(session, service.settings.role_addresses)
        session.execute(update(Contact).where(Contact.email == "nobody@nowhere.com").values(first_name="X"))
    assert service.commit(plan).status == "completed"


def statements_reading_contacts(database: Database, work: Callable[[], object]) -> list[str]:
    """The SELECTs of the contacts table that SQLite ran during `work`, raw cursors' included."""
    seen: list[str] = []
    database.engine.dispose()

    def trace(connection, _record) -> None:
        connection.set_trace_callback(seen.append)

    event.listen(database.engine, "connect", trace)
    try:
        work()
    finally:
        event.remove(database.engine, "connect", trace)
        database.engine.dispose()
    reads = re.compile(r"^\s*SELECT\b.*\b(FROM|JOIN)\s+contacts\b", re.IGNORECASE | re.DOTALL)
    return [sql for sql in seen if reads.search(sql)]


def test_a_push_commit_reads_no_contact_of_the_crm_again(service: SyncService, database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("the statements are traced through SQLite's own trace callback")
    crm(database)
    assert statements_reading_contacts(database, lambda: service.plan("push"))  # the trace sees raw reads
    plan = service.plan("push")
    # The old commit built the whole local snapshot twice more: for its stale check and for the baseline.
    assert statements_reading_contacts(database, lambda: service.commit(plan)) == []


Scenario = Callable[[SyncService], str]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


def _commit(service: SyncService, direction: str) -> None:
    service.commit(service.plan(direction))


def _ctct_lists(service: SyncService) -> dict[str, str]:
    return {item["name"]: item["list_id"] for item in service.client.lists.iterate()}


@scenario("push: new lists and new contacts")
def _first_push(service: SyncService) -> str:
    crm(service.database)
    return "push"


@scenario("push: adds, removes, renames, a field, a new list")
def _second_push(service: SyncService) -> str:
    crm(service.database)
    _commit(service, "push")
    with service.database.session() as session:
        lists.add_members(session, "Events", ["ann@acme.com"])
        lists.remove_members(session, "News", ["bo@acme.com"])
        lists.rename_list(session, "Events", "Meetups")
        _contact_field(session)
        lists.create_list(session, "Offers")
        lists.add_members(session, "Offers", ["cy@acme.com"])
    return "push"


@scenario("push: a list deleted here, one CTCT already has linked by name")
def _push_linking(service: SyncService) -> str:
    crm(service.database)
    _commit(service, "push")
    service.client.lists.create("Offers")
    with service.database.session() as session:
        lists.delete_list(session, "Events")
        lists.create_list(session, "offers")
        lists.add_members(session, "offers", ["ann@acme.com"])
    return "push"


@scenario("pull: CTCT's new list, contact, member and rename")
def _pull(service: SyncService) -> str:
    crm(service.database)
    _commit(service, "push")
    by_name = _ctct_lists(service)
    service.client.lists.create("Webinar")
    service.client.lists.rename(by_name["Events"], "Conferences")
    service.client.contacts.sign_up({"email_address": "new@else.com", "list_memberships": [by_name["News"]]})
    return "pull"


@scenario("import: CTCT's contacts into an empty CRM")
def _import(service: SyncService) -> str:
    by_name = _ctct_lists(service)
    for email in ("a@x.com", "b@y.com"):
        service.client.contacts.sign_up({"email_address": email, "list_memberships": [by_name["General Interest"]]})
    return "import"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_baseline_after_a_commit_is_the_one_a_full_read_of_the_crm_gives(
    service: SyncService, database: Database, name: str
) -> None:
    direction = SCENARIOS[name](service)
    plan = service.plan(direction)
    run_id = journal.start_run(database, plan, "test")
    if direction == "push":
        outcome = push(plan, run_id, database, service.client, silent)
    else:
        outcome = pull(plan, run_id, database)
    with database.session() as session:
        old = load_baseline(session)
        reread = local_snapshot(session, service.settings.role_addresses)
    remote, confirmed = _remote_side(plan, outcome), _confirmed(plan, outcome)
    after = local_after(database, plan, outcome)
    expected = observed_baseline(old, _local_side(reread), remote, confirmed)
    got = observed_baseline(old, _local_side(after), remote, confirmed)
    assert len(expected.members) and len(expected.contacts)
    for part in ("lists", "members", "contacts"):
        want, have = (_sorted(getattr(baseline, part)) for baseline in (expected, got))
        pd.testing.assert_frame_equal(have, want, check_dtype=False)
    record_baseline(database, after, plan, outcome)
    with database.session() as session:
        stored = load_baseline(session)
    assert sorted(stored.members["email_key"]) == sorted(expected.members["email_key"])


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_the_planner_tests_build_the_frames_a_database_gives(database: Database) -> None:
    """tests/unit/plan_snapshots.py's builder and the bulk read agree on columns and dtypes,
    missing values included (a column of None only is text all the same)."""
    with database.session() as session:
        acme = services.create_company(session, "Acme")
        services.create_contact(session, acme.id, email="ann@acme.com", first_name="Ann", last_name="Lee")
        lists.create_list(session, "News")
        lists.add_members(session, "News", ["ann@acme.com"])
    with database.session() as session:
        real = local_snapshot(session, frozenset(DEFAULT_ROLE_ADDRESSES))
        ann, news = contact_id(session, "ann@acme.com"), real.lists["list_id"].iloc[0]
    built = local_side([(int(news), "News", None)], [Here(ann, "ann@acme.com")], [(int(news), ann)])
    for part in ("lists", "contacts", "members", "companies"):
        got, want = getattr(built, part), getattr(real, part)
        assert list(got.columns) == list(want.columns), part
        assert got.dtypes.astype(str).to_dict() == want.dtypes.astype(str).to_dict(), part
        pd.testing.assert_frame_equal(
            got.drop(columns=["company_id"], errors="ignore"), want.drop(columns=["company_id"], errors="ignore")
        )


def test_a_change_after_a_rolled_back_savepoint_still_counts(service: SyncService, database: Database) -> None:
    """PostgreSQL bumps the revision once per transaction; a savepoint rolled back takes its bump
    with it, and the transaction's next change bumps it again."""
    crm(database)
    plan = service.plan("push")
    with database.session() as session:
        savepoint = session.begin_nested()
        _contact_field(session)
        savepoint.rollback()
        _list_create(session)
    with pytest.raises(SyncRefused, match="Customer Focus changed"):
        service.commit(plan)
    plan = service.plan("push")
    with database.session() as session:
        savepoint = session.begin_nested()
        _list_delete(session)
        savepoint.rollback()
    assert service.commit(plan).status == "completed"
