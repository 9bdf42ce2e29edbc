"""The engine loses nothing: failed activities, edits while a sync runs, lists deleted during a
push, refused resumes, crashed lock holders, re-activation, email changes (issue 12)."""

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from ctct import lists
from ctct.db.models import MembershipChangeHow, RowChange, SyncLock, SyncRun, SyncStep, utcnow
from ctct.errors import SyncBusy, SyncRefused
from ctct.sync import journal
from ctct.sync.apply import COMPLETED, COMPLETED_WITH_ERRORS
from ctct.sync.snapshot import load_baseline
from tests.sync.test_push_pull_rules import crm, local_list, remote_lists, remote_members

PEOPLE = [(f"p{number}@acme.com", f"P{number}") for number in range(6)]


def members_here(database, name):
    with database.session() as session:
        return sorted(lists.member_emails(session, lists.get_list(session, name)))


def baseline_pairs(database):
    with database.session() as session:
        baseline = load_baseline(session)
    return set(zip(baseline.members["ctct_list_id"], baseline.members["email_key"], strict=True))


def pushed_list(service, database, name="News", emails=("p0@acme.com",)):
    """A list pushed once, so that it is linked and in the baseline."""
    local_list(database, name, *emails)
    assert service.commit(service.plan("push")).status == COMPLETED


def test_a_failed_activity_is_reported_failed_and_stays_pending(service, database, active_client, sandbox):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "News", *[email for email, _ in PEOPLE[1:]])
    sandbox.faults.fail_next_activity = True
    result = service.commit(service.plan("push"))
    assert result.status == COMPLETED_WITH_ERRORS and result.to_json()["state"] == "completed_with_errors"
    assert {row["email"] for row in result.failed} == {email for email, _ in PEOPLE[1:]}
    assert all("failed" in row["reason"] for row in result.failed)
    with database.session() as session:
        outcomes = dict(
            session.execute(select(RowChange.email, RowChange.outcome).where(RowChange.run_id == result.run_id)).all()
        )
        assert session.get(SyncRun, result.run_id).status == "completed_with_errors"
    assert set(outcomes.values()) == {"failed"}
    # Not recorded as agreed: a pull now warns that it would undo them, and a push sends them again.
    news = remote_lists(active_client)["News"]["list_id"]
    assert baseline_pairs(database) == {(news, "p0@acme.com")}
    pull = service.plan("pull")
    assert len(pull["memberships_remove"]) == 5
    assert any("5 member(s) added here since the last sync" in w.message for w in pull.warnings)
    retry = service.plan("push")
    assert len(retry["memberships_add"]) == 5
    assert service.commit(retry).status == COMPLETED
    assert remote_members(active_client, "News") == sorted(email for email, _ in PEOPLE)


def test_the_cli_exits_4_when_a_push_completes_with_errors(service, database, sandbox, cli_run):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "News", "p1@acme.com")
    sandbox.faults.fail_next_activity = True
    code, out, _ = cli_run("sync", "push", "--yes", "--json")
    body = json.loads(out)
    assert code == 4 and body["state"] == "completed_with_errors" and body["failed"][0]["email"] == "p1@acme.com"


def test_edits_made_while_a_push_runs_are_not_swallowed(service, database, active_client):
    crm(database, *PEOPLE)
    pushed_list(service, database, emails=("p0@acme.com", "p1@acme.com"))
    local_list(database, "News", "p2@acme.com")
    plan = service.plan("push")
    edited = []

    def edit_during_the_push(fraction, message):
        # Someone ticks two contacts and unticks one in the console while CTCT processes.
        if "processing" in message and not edited:
            with database.session() as session:
                origin = lists.ChangeOrigin("ops", MembershipChangeHow.TICK)
                lists.add_members(session, "News", ["p3@acme.com", "p4@acme.com"], origin=origin)
                lists.remove_members(session, "News", ["p1@acme.com"], origin=origin)
            edited.append(True)

    result = service.commit(plan, progress=edit_during_the_push)
    assert edited and result.status == COMPLETED
    news = remote_lists(active_client)["News"]["list_id"]
    # What the push sent and CTCT confirmed is agreed; p1's removal and p3/p4 stay to be pushed.
    assert baseline_pairs(database) == {(news, "p0@acme.com"), (news, "p1@acme.com"), (news, "p2@acme.com")}
    pull = service.plan("pull")
    assert any("2 member(s) added here" in w.message for w in pull.warnings)
    push = service.plan("push")
    assert sorted(push["memberships_add"]["email"]) == ["p3@acme.com", "p4@acme.com"]
    assert push["memberships_remove"]["email"].tolist() == ["p1@acme.com"]


def test_a_list_deleted_in_ctct_during_the_push_fails_its_rows(service, database, active_client, sandbox):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "News", "p1@acme.com", "p2@acme.com")
    plan = service.plan("push")
    news = remote_lists(active_client)["News"]["list_id"]
    deleted = []

    def delete_in_ctct(fraction, message):
        if "processing" in message and not deleted:
            account = sandbox.account("demo")
            account._delete_list_now(account.get_list(news), sandbox.now())
            deleted.append(True)

    result = service.commit(plan, progress=delete_in_ctct)
    assert deleted and result.status == COMPLETED_WITH_ERRORS
    assert {row["email"] for row in result.failed} == {"p1@acme.com", "p2@acme.com"}
    assert {row["reason"] for row in result.failed} == {"the list no longer exists in Constant Contact"}
    # The local list and its members stay; the list is still known as deleted in CTCT since the baseline.
    assert members_here(database, "News") == ["p0@acme.com", "p1@acme.com", "p2@acme.com"]
    assert (news, "p0@acme.com") in baseline_pairs(database)


def test_a_list_deleted_in_ctct_before_its_adds_fails_only_its_rows(service, database, active_client, sandbox):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "Events", "p3@acme.com")
    service.commit(service.plan("push"))
    local_list(database, "News", "p1@acme.com")
    local_list(database, "Events", "p4@acme.com")
    plan = service.plan("push")
    news = remote_lists(active_client)["News"]["list_id"]

    def account_lists():
        return {item.list_id for item in sandbox.account("demo").lists.values() if item.deleted_at is None}

    def delete_news_first(fraction, message):
        # Deleted in CTCT after the preview, before the push asks CTCT to add to it: CTCT
        # refuses the request itself (400), not just the activity.
        # The first step the push reports is its import, the last before the adds.
        if message.startswith("Step 1 of") and news in account_lists():
            account = sandbox.account("demo")
            account._delete_list_now(account.get_list(news), sandbox.now())

    result = service.commit(plan, progress=delete_news_first)
    assert result.status == COMPLETED_WITH_ERRORS
    # p1 was new and went only to News: neither its membership nor the contact itself was made.
    assert active_client.contacts.find_by_email("p1@acme.com") is None
    assert sorted((row["list"], row["email"]) for row in result.failed) == [
        ("", "p1@acme.com"),
        ("News", "p1@acme.com"),
    ]
    assert remote_members(active_client, "Events") == ["p3@acme.com", "p4@acme.com"]
    assert members_here(database, "News") == ["p0@acme.com", "p1@acme.com"]


def test_the_push_warns_only_about_what_it_really_puts_back(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"), ("bo@acme.com", "Bo"))
    pushed_list(service, database, emails=("ann@acme.com", "bo@acme.com"))
    bo = active_client.contacts.find_by_email("bo@acme.com")
    active_client.contacts.update(
        bo["contact_id"],
        {"email_address": {"address": "bo@acme.com", "permission_to_send": "unsubscribed"}, "update_source": "Contact"},
    )
    plan = service.plan("push")
    assert plan["memberships_add"].empty and len(plan["skipped"]) == 1
    assert not any("will be undone" in w.message for w in plan.warnings)


def test_an_email_changed_here_reaches_the_same_ctct_contact(service, database, active_client):
    crm(database, ("ann@acme.com", "Ann"))
    pushed_list(service, database, emails=("ann@acme.com",))
    service.commit(service.plan("pull"))  # links the CTCT contact id
    ann_id = active_client.contacts.find_by_email("ann@acme.com")["contact_id"]
    from ctct.crm import services

    with database.session() as session:
        services.update_contact(
            session, services.find_contacts_by_email(session, "ann@acme.com")[0].id, email="ann@acme.io"
        )
    plan = service.plan("push")
    assert plan["contacts_update"][["email", "previous_email"]].values.tolist() == [["ann@acme.io", "ann@acme.com"]]
    assert plan["contacts_create"].empty
    assert service.commit(plan).status == COMPLETED
    moved = active_client.contacts.get(ann_id)
    assert moved["email_address"]["address"] == "ann@acme.io" and moved["first_name"] == "Ann"
    assert active_client.contacts.find_by_email("ann@acme.com") is None  # no second contact
    assert remote_members(active_client, "News") == ["ann@acme.io"]
    assert service.plan("push").is_empty


def test_a_dead_holders_lock_is_taken_over_and_a_live_one_refuses(service, database, active_client):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com")
    host = journal.holder_name().split(":")[0]
    with database.session() as session:
        session.add(
            SyncLock(
                name=journal.LOCK_NAME, holder=f"{host}:999999:1", run_id=7, expires_at=utcnow() + dt.timedelta(hours=1)
            )
        )
    assert service.commit(service.plan("push")).status == COMPLETED  # pid 999999 is not running here
    with database.session() as session:
        assert session.get(SyncLock, journal.LOCK_NAME) is None
        session.add(
            SyncLock(
                name=journal.LOCK_NAME,
                holder=journal.holder_name(),  # this very process: alive
                run_id=8,
                expires_at=utcnow() + dt.timedelta(hours=1),
            )
        )
    with pytest.raises(SyncBusy, match="python -m ctct unlock"):
        service.commit(service.plan("push"))
    with database.session() as session:  # a lapsed renewal is taken over too
        session.execute(update(SyncLock).values(holder="elsewhere:1:1", expires_at=utcnow() - dt.timedelta(seconds=1)))
    local_list(database, "News", "p1@acme.com")
    assert service.commit(service.plan("push")).status == COMPLETED


def test_the_lock_is_renewed_while_the_sync_runs(service, database, active_client, monkeypatch):
    monkeypatch.setattr(journal, "LOCK_RENEW_EVERY", 0.05)
    seen = []
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com")

    def watch(fraction, message):
        import time

        time.sleep(0.2)
        with database.session() as session:
            seen.append(session.get(SyncLock, journal.LOCK_NAME).expires_at)

    service.commit(service.plan("push"), progress=watch)
    assert len(set(seen)) > 1  # the expiry moved on while it ran


def test_unlock_asks_and_removes_a_stale_lock(database, cli_run):
    with database.session() as session:
        session.add(
            SyncLock(
                name=journal.LOCK_NAME, holder="elsewhere:42:1", run_id=3, expires_at=utcnow() + dt.timedelta(hours=1)
            )
        )
    code, _, _ = cli_run("unlock")
    assert code == 1  # not a terminal and no --yes: refused, lock kept
    assert journal.current_lock(database) is not None
    code, out, _ = cli_run("unlock", "--yes")
    assert code == 0 and "elsewhere:42:1" in out and journal.current_lock(database) is None


def test_an_interrupted_push_is_marked_and_releases_its_lock(service, database, active_client):
    crm(database, *PEOPLE)
    local_list(database, "News", *[email for email, _ in PEOPLE])

    def stop(fraction, message):
        if "processing" in message:
            raise journal.SyncInterrupted("SIGTERM")

    with pytest.raises(KeyboardInterrupt):
        service.commit(service.plan("push"), progress=stop)
    with database.session() as session:
        run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert run.status == "interrupted" and run.error == "SIGTERM"
        assert session.get(SyncLock, journal.LOCK_NAME) is None
    result = service.resume("push")
    assert result.status == COMPLETED
    assert remote_members(active_client, "News") == sorted(email for email, _ in PEOPLE)


def test_a_resume_waits_for_the_interrupted_runs_activities_and_a_refused_one_is_not_consumed(
    service, database, active_client, sandbox, clock
):
    crm(database, *PEOPLE)
    local_list(database, "News", *[email for email, _ in PEOPLE])

    def crash_after_submitting(fraction, message):
        if "queue" in message or "processing" in message:
            raise journal.SyncInterrupted("SIGKILL")

    with pytest.raises(KeyboardInterrupt):
        service.commit(service.plan("push"), progress=crash_after_submitting)
    assert active_client.activities.unfinished()  # CTCT still works on what was submitted
    # A resume refused (over the budget here) leaves the interrupted run to resume later.
    service.client.budget.quota = service.client.budget.used() + 1
    with pytest.raises(SyncRefused):
        service.resume("push")
    with database.session() as session:
        statuses = [run.status for run in session.scalars(select(SyncRun).order_by(SyncRun.id))]
    assert statuses[-1] == "interrupted"
    service.client.budget.quota = 10_000
    result = service.resume("push")
    assert result.status == COMPLETED and not active_client.activities.unfinished()
    assert remote_members(active_client, "News") == sorted(email for email, _ in PEOPLE)
    with database.session() as session:
        assert [run.status for run in session.scalars(select(SyncRun).order_by(SyncRun.id))][-2:] == [
            "resumed",
            "completed",
        ]


def test_activating_again_keeps_what_was_changed_here_since_the_last_sync(service, database, active_client):
    from tests.sandbox_client import activate

    crm(database, *PEOPLE)
    pushed_list(service, database, emails=("p0@acme.com", "p1@acme.com"))
    # The grant is revoked; meanwhile one member is added and one removed here.
    with database.session() as session:
        lists.add_members(session, "News", ["p2@acme.com"])
        lists.remove_members(session, "News", ["p1@acme.com"])
    activate(active_client)
    plan = service.plan("import")
    assert plan["memberships_remove"].empty and plan["memberships_add"].empty
    kept = [w.message for w in plan.warnings if w.kind == "kept_local_change"]
    assert any("1 member(s) added here" in message for message in kept)
    assert any("1 removal(s) made here" in message for message in kept)
    service.commit(plan)
    assert members_here(database, "News") == ["p0@acme.com", "p2@acme.com"]
    assert service.commit(service.plan("push")).status == COMPLETED
    assert remote_members(active_client, "News") == ["p0@acme.com", "p2@acme.com"]


def rename_in_ctct(sandbox, list_id, name):
    account = sandbox.account("demo")
    target = account.get_list(list_id)
    account.update_list(list_id, name, sandbox.now(), target.description, target.favorite)


def test_a_pull_takes_names_swapped_in_ctct(service, database, active_client, sandbox):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "Events", "p1@acme.com")
    service.commit(service.plan("push"))
    ids = {name: item["list_id"] for name, item in remote_lists(active_client).items()}
    rename_in_ctct(sandbox, ids["News"], "Swap")
    rename_in_ctct(sandbox, ids["Events"], "News")
    rename_in_ctct(sandbox, ids["News"], "Events")
    assert service.commit(service.plan("pull")).status == COMPLETED
    assert members_here(database, "Events") == ["p0@acme.com"]
    assert members_here(database, "News") == ["p1@acme.com"]


def test_a_ctct_rename_onto_the_name_of_a_list_here_is_held_back(service, database, active_client, sandbox):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "VIP", "p2@acme.com")  # never pushed
    rename_in_ctct(sandbox, remote_lists(active_client)["News"]["list_id"], "vip")
    plan = service.plan("pull")
    assert plan["lists_rename"].empty
    assert any(w.kind == "name_clash" and "'News' keeps its name" in w.message for w in plan.warnings)
    assert service.commit(plan).status == COMPLETED
    assert members_here(database, "News") == ["p0@acme.com"] and members_here(database, "VIP") == ["p2@acme.com"]


def test_a_pull_warns_about_members_of_a_list_it_links_by_name(service, database, active_client):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "Golf", "p1@acme.com", "p2@acme.com")
    golf = active_client.lists.create("Golf")["list_id"]
    p3 = active_client.contacts.create({"email_address": {"address": "p3@acme.com"}, "create_source": "Contact"})
    active_client.activities.add_memberships([p3["contact_id"]], [golf])
    plan = service.plan("pull")
    assert sorted(plan["memberships_remove"]["email"]) == ["p1@acme.com", "p2@acme.com"]
    assert any(
        w.message.startswith("2 member(s) here on lists not synced before") and "'Golf'" in w.message
        for w in plan.warnings
    )


def test_a_list_name_taken_in_ctct_during_the_push_is_not_linked_twice(service, database, active_client, sandbox, http):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "Golf", "p1@acme.com")
    plan = service.plan("push")
    news = remote_lists(active_client)["News"]["list_id"]

    def rename_news_to_golf_first(request):
        # Someone renames 'News' to 'Golf' in CTCT just before the push creates 'Golf'.
        if request.method == "POST" and request.url.path.endswith("/contact_lists"):
            rename_in_ctct(sandbox, news, "Golf")

    http.event_hooks["request"].append(rename_news_to_golf_first)
    result = service.commit(plan)
    assert result.status == COMPLETED_WITH_ERRORS
    # p1 was new and went only to Golf: neither its membership nor the contact itself was made.
    assert active_client.contacts.find_by_email("p1@acme.com") is None
    assert sorted((row["list"], row["email"]) for row in result.failed) == [
        ("", "p1@acme.com"),
        ("Golf", "p1@acme.com"),
    ]
    assert "another list named 'Golf'" in result.failed[0]["reason"]
    with database.session() as session:
        assert lists.get_list(session, "Golf").ctct_list_id is None
        assert lists.get_list(session, "News").ctct_list_id == news


def test_a_rename_here_onto_a_name_ctct_gave_another_list_is_held_back(service, database, active_client):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    active_client.lists.create("Golf")  # in CTCT only
    with database.session() as session:
        lists.rename_list(session, "News", "golf")
    plan = service.plan("push")
    assert plan["lists_rename"].empty
    assert any(w.kind == "name_clash" and "keeps the name 'News' there" in w.message for w in plan.warnings)
    assert service.commit(plan).status == COMPLETED
    assert sorted(remote_lists(active_client)) == ["General Interest", "Golf", "News"]


def test_contacts_a_failed_import_did_not_create_are_failed_in_history_too(service, database, sandbox):
    crm(database, *PEOPLE)
    pushed_list(service, database)
    local_list(database, "News", "p1@acme.com", "p2@acme.com")
    sandbox.faults.fail_next_activity = True  # the import that would create p1 and p2
    result = service.commit(service.plan("push"))
    assert result.status == COMPLETED_WITH_ERRORS
    with database.session() as session:
        created = dict(
            session.execute(
                select(RowChange.email, RowChange.outcome).where(
                    RowChange.run_id == result.run_id, RowChange.change_kind == "contact created"
                )
            ).all()
        )
    assert created == {"p1@acme.com": "failed", "p2@acme.com": "failed"}
    # And the next push proposes them again.
    assert set(service.plan("push")["contacts_create"]["email"]) == {"p1@acme.com", "p2@acme.com"}


def test_a_push_stopped_at_a_later_step_leaves_the_queued_ones_queued_not_failed(service, database, sandbox):
    """Adds are queued at CTCT, then the removes' submit fails for good: the adds' step says its
    activities were queued (they go on at CTCT), only the removes' step failed."""
    crm(database, *PEOPLE)
    pushed_list(service, database, "News", emails=("p0@acme.com",))
    pushed_list(service, database, "Events", emails=("p1@acme.com", "p2@acme.com"))
    local_list(database, "News", "p1@acme.com")  # a contact CTCT has: added by id
    with database.session() as session:
        lists.remove_members(session, "Events", ["p2@acme.com"])
    plan = service.plan("push")
    assert len(plan["memberships_add"]) == 1 and len(plan["memberships_remove"]) == 1

    def fail_when_removing(_fraction: float, message: str) -> None:
        if "removing" in message:
            sandbox.faults.server_errors = 1_000

    with pytest.raises(Exception):  # noqa: B017 - CTCT's 5xx, whatever the client makes of it
        service.commit(plan, progress=fail_when_removing)
    sandbox.faults.server_errors = 0
    with database.session() as session:
        steps = {
            step.kind: (step.status, step.activity_id)
            for step in session.scalars(select(SyncStep).where(SyncStep.run_id == journal_last_run(session)))
        }
    assert steps["add_memberships"][0] == journal.STEP_QUEUED and steps["add_memberships"][1]
    assert steps["remove_memberships"] == ("failed", None)


def journal_last_run(session):
    return session.scalar(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1))
