"""What a commit tells the person watching it: one progress bar that only moves forward, naming the
step it is on (only steps that happen), and at the end what it did in plain words (per list)."""

import pytest

from ctct import lists
from ctct.sync import history, journal
from ctct.sync.apply import COMPLETED_WITH_ERRORS
from tests.sync.test_push_pull_rules import crm, local_list

PEOPLE = [(f"p{number}@acme.com", f"P{number}") for number in range(4)]


def watched(service, plan):
    seen = []
    result = service.commit(plan, progress=lambda fraction, message: seen.append((fraction, message)))
    return result, seen


def test_a_push_moves_one_bar_forward_through_only_the_steps_it_takes(service, database):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com", "p1@acme.com")
    local_list(database, "Promo", "p3@acme.com")
    service.commit(service.plan("push"))
    # Next: one contact CTCT has not got, one it has (on another list), one removal; no list changes.
    # The new one goes to another list than the add: an add to the list a new contact is imported
    # into rides along in that import (one activity fewer), and then has no step of its own.
    local_list(database, "Promo", "p2@acme.com")
    local_list(database, "News", "p3@acme.com")
    with database.session() as session:
        lists.remove_members(session, "News", ["p0@acme.com"])

    result, seen = watched(service, service.plan("push"))
    assert result.status == "completed"
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions), seen  # never back (each activity counts 0–100 % again)
    assert fractions[-1] == 1.0 and len(set(fractions)) > 4
    steps = [message.split(":")[0] for _, message in seen if message.startswith("Step ")]
    assert list(dict.fromkeys(steps)) == ["Step 1 of 4", "Step 2 of 4", "Step 3 of 4", "Step 4 of 4"]
    said = "\n".join(message for _, message in seen)
    assert "Step 1 of 4: sending 1 new or changed contact(s) to Constant Contact" in said
    assert "Step 2 of 4: adding 1 member(s) to 'News'" in said
    assert "Step 3 of 4: removing 1 member(s) from 'News'" in said
    assert "Step 4 of 4: checking what Constant Contact shows now" in said
    assert "you are in the queue, your data will be processed" in said  # SPEC §7's words while queued
    for absent in ("creating", "renaming", "deleting", "members removed", "lists created"):
        assert absent not in said


def test_a_push_with_lists_only_names_that_step_and_no_member_steps(service, database, active_client):
    active_client.lists.create("Partners")
    local_list(database, "News")
    local_list(database, "partners")
    _, seen = watched(service, service.plan("push"))
    said = [message for _, message in seen if message.startswith("Step ")]
    assert said[0] == "Step 1 of 2: creating 1 and linking 1 list(s) in Constant Contact"
    assert {message.split(":")[0] for message in said} == {"Step 1 of 2", "Step 2 of 2"}
    assert not [message for message in said if "member" in message]


def test_a_pull_says_what_it_does_and_only_moves_forward(service, database, active_client):
    active_client.lists.create("Partners")
    _, seen = watched(service, service.plan("pull"))
    assert [fraction for fraction, _ in seen] == [0.0, 0.0, 1.0]
    assert seen[1][1] == "saving the changes in Customer Focus, all in one go"


def test_the_summary_of_a_run_says_what_was_done_per_list(service, database, active_client):
    crm(database, *PEOPLE)
    active_client.lists.create("Partners")
    local_list(database, "News", "p0@acme.com", "p1@acme.com", "p2@acme.com")
    local_list(database, "Promo", "p0@acme.com")
    local_list(database, "Partners", "p3@acme.com")
    first = service.commit(service.plan("push"))
    assert history.run_summary(database, first.run_id) == (
        "2 lists created (News, Promo); 1 list linked to the one of the same name (Partners); "
        "4 contacts created; News: 3 added; Partners: 1 added; Promo: 1 added"
    )
    with database.session() as session:
        lists.rename_list(session, "Promo", "Spring Promo")
        lists.remove_members(session, "News", ["p2@acme.com"])
    local_list(database, "News", "p3@acme.com")
    second = service.commit(service.plan("push"))
    assert history.run_summary(database, second.run_id) == (
        "1 list renamed (Promo → Spring Promo); News: 1 added, 1 removed"
    )


def test_the_summary_says_what_did_not_apply_and_what_a_stopped_run_never_did(service, database, sandbox):
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com")
    local_list(database, "Promo", "p1@acme.com", "p2@acme.com")
    service.commit(service.plan("push"))
    local_list(database, "News", "p1@acme.com", "p2@acme.com")  # both in CTCT already
    sandbox.faults.fail_next_activity = True
    failed = service.commit(service.plan("push"))
    assert failed.status == COMPLETED_WITH_ERRORS
    assert history.run_summary(database, failed.run_id) == (
        "2 change(s) did not apply, each with Constant Contact's reason in History"
    )

    def stop(fraction, message):
        if "processing" in message:
            raise journal.SyncInterrupted("SIGTERM")

    with pytest.raises(KeyboardInterrupt):
        service.commit(service.plan("push"), progress=stop)
    stopped = history.runs(database)[0]["run_id"]
    assert history.run_summary(database, stopped) == "2 planned change(s) were not made: the run did not finish"


def test_a_crm_file_import_run_is_summed_up_from_its_counts(database):
    run_id = journal.record_import_run(database, "crm_import", {"companies_created": 2, "contacts_created": 1})
    assert history.run_summary(database, run_id) == "2 companies created; 1 contact created"
