"""Sync both ways (SPEC §7, issue 18): the three-way merge rule by rule, through the service and the
in-process sandbox. The random walks over both sides are in test_both_ways_model.py."""

import pytest
from sqlalchemy import select

from ctct import lists
from ctct.db.models import Contact, EmailList, MembershipChangeHow, RowChange, SyncRun
from ctct.errors import InvalidInput
from ctct.sync.merge import DELETED_HERE_CHANGED_IN_CTCT, DELETED_IN_CTCT_CHANGED_HERE, RENAMED_ON_BOTH
from tests.sync.test_push_pull_rules import crm, local_list, remote_lists, remote_members

ORIGIN = lists.ChangeOrigin("test", MembershipChangeHow.TICK)
PEOPLE = [(f"p{n}@acme.com", f"P{n}") for n in range(6)]


def members_here(database, name):
    with database.session() as session:
        found = lists.find_list(session, name)
        return sorted(lists.member_emails(session, found)) if found is not None else None


def names_here(database):
    with database.session() as session:
        return sorted(session.scalars(select(EmailList.name)))


@pytest.fixture
def synced(service, database, active_client):
    """News (p0, p1, p2) and Events (p3) in both places, the baseline recorded."""
    crm(database, *PEOPLE)
    local_list(database, "News", "p0@acme.com", "p1@acme.com", "p2@acme.com")
    local_list(database, "Events", "p3@acme.com")
    service.commit(service.plan("push"))
    service.commit(service.plan("pull"))
    assert service.plan("both").is_empty
    return remote_lists(active_client)


def rename_news_on_both_sides(synced, database, client):
    """News renamed 'News (CTCT)' in CTCT and 'News (here)' here since the last sync."""
    client.lists.rename(synced["News"]["list_id"], "News (CTCT)")
    with database.session() as session:
        lists.rename_list(session, "News", "News (here)")


def add_in_ctct(sandbox, list_name, email):
    """A member added in CTCT (a new contact there if CTCT has none with that email)."""
    with sandbox.lock:
        account, now = sandbox.account("demo"), sandbox.now()
        target = next(item for item in account.live_lists() if item.name == list_name)
        contact = account.find_by_email(email) or account.new_contact(email, now, "Account", "implicit")
        account.add_membership(contact, target.list_id)
        contact.updated_at = now


def test_the_seeds_story_a_ctct_rename_and_members_added_here_both_survive(synced, service, database, active_client):
    active_client.lists.rename(synced["News"]["list_id"], "Newsletter")
    local_list(database, "News", "p4@acme.com")
    plan = service.plan("both")
    assert plan.to_local["lists_rename"][["from", "to"]].values.tolist() == [["News", "Newsletter"]]
    assert plan.to_ctct["memberships_add"]["email"].tolist() == ["p4@acme.com"]
    assert plan.to_ctct["lists_rename"].empty and not plan.conflicts and not plan.mass_removals
    result = service.commit(plan)
    assert result.status == "completed"
    assert members_here(database, "Newsletter") == ["p0@acme.com", "p1@acme.com", "p2@acme.com", "p4@acme.com"]
    assert remote_members(active_client, "Newsletter") == members_here(database, "Newsletter")
    assert "News" not in remote_lists(active_client)
    again = service.plan("both")
    assert again.is_empty, again.summary()


def test_each_sides_member_changes_reach_the_other(synced, service, database, active_client, sandbox):
    add_in_ctct(sandbox, "Events", "p5@acme.com")
    local_list(database, "Events", "p4@acme.com")
    with database.session() as session:
        news = lists.find_list(session, "News")
        p0 = session.scalar(select(Contact.id).where(Contact.email == "p0@acme.com"))
        lists.change_members(session, news, remove=[p0], origin=ORIGIN)
    plan = service.plan("both")
    assert plan.to_local["memberships_add"]["email"].tolist() == ["p5@acme.com"]
    assert plan.to_ctct["memberships_add"]["email"].tolist() == ["p4@acme.com"]
    assert plan.to_ctct["memberships_remove"]["email"].tolist() == ["p0@acme.com"]
    assert plan.to_local["memberships_remove"].empty
    service.commit(plan)
    assert members_here(database, "Events") == ["p3@acme.com", "p4@acme.com", "p5@acme.com"]
    assert remote_members(active_client, "Events") == members_here(database, "Events")
    assert remote_members(active_client, "News") == members_here(database, "News") == ["p1@acme.com", "p2@acme.com"]
    assert service.plan("both").is_empty


def test_new_lists_on_each_side_are_created_on_the_other(synced, service, database, active_client, sandbox):
    active_client.lists.create("Golf")
    add_in_ctct(sandbox, "Golf", "p1@acme.com")
    local_list(database, "Spring", "p2@acme.com")
    plan = service.plan("both")
    assert plan.to_local["lists_create"]["name"].tolist() == ["Golf"]
    assert plan.to_ctct["lists_create"]["name"].tolist() == ["Spring"]
    service.commit(plan)
    assert (
        names_here(database)
        == sorted(remote_lists(active_client))
        == ["Events", "General Interest", "Golf", "News", "Spring"]
    )
    assert members_here(database, "Golf") == remote_members(active_client, "Golf") == ["p1@acme.com"]
    assert members_here(database, "Spring") == remote_members(active_client, "Spring") == ["p2@acme.com"]
    assert service.plan("both").is_empty


def test_a_rename_here_goes_to_ctct(synced, service, database, active_client):
    with database.session() as session:
        lists.rename_list(session, "Events", "Events 2027")
    plan = service.plan("both")
    assert plan.to_ctct["lists_rename"][["from", "to"]].values.tolist() == [["Events", "Events 2027"]]
    assert plan.to_local["lists_rename"].empty
    service.commit(plan)
    assert "Events 2027" in remote_lists(active_client)
    assert service.plan("both").is_empty


def test_a_double_rename_is_a_conflict_that_keeps_ctcts_name_by_default(synced, service, database, active_client):
    rename_news_on_both_sides(synced, database, active_client)
    plan = service.plan("both")
    [conflict] = plan.conflicts
    assert (conflict.kind, conflict.resolution, conflict.choices) == (RENAMED_ON_BOTH, "ctct", ("ctct", "local"))
    assert "Constant Contact's name" in conflict.outcome and conflict.list == "News"
    service.commit(plan)
    assert "News (CTCT)" in names_here(database) and "News (CTCT)" in remote_lists(active_client)
    assert service.plan("both").is_empty


def test_a_double_rename_resolved_for_the_name_here(synced, service, database, active_client):
    rename_news_on_both_sides(synced, database, active_client)
    conflict_id = service.plan("both").conflicts[0].id
    plan = service.plan("both", resolutions={conflict_id: "local"})
    assert plan.conflicts[0].resolution == "local" and plan.conflicts[0].chosen
    service.commit(plan)
    assert "News (here)" in names_here(database) and "News (here)" in remote_lists(active_client)
    assert "News (CTCT)" not in remote_lists(active_client)
    assert service.plan("both").is_empty


def test_a_resolution_that_is_not_a_choice_is_refused_naming_the_conflict(synced, service, database, active_client):
    rename_news_on_both_sides(synced, database, active_client)
    with pytest.raises(InvalidInput, match=r"'delete' is not a choice for conflict renamed_on_both:.* ctct or local"):
        service.plan("both", resolutions={RENAMED_ON_BOTH: "delete"})


def test_a_list_deleted_here_and_unchanged_in_ctct_is_deleted_there_as_a_mass_removal(
    synced, service, database, active_client
):
    with database.session() as session:
        lists.delete_list(session, "Events")
    plan = service.plan("both")
    assert plan.to_ctct["lists_delete"]["name"].tolist() == ["Events"]
    assert plan.to_local["lists_create"].empty and plan.mass_removals
    service.commit(plan, allow_mass_removal=True)
    assert "Events" not in remote_lists(active_client)
    assert service.plan("both").is_empty


def test_a_list_deleted_here_and_changed_in_ctct_comes_back_by_default(
    synced, service, database, active_client, sandbox
):
    with database.session() as session:
        lists.delete_list(session, "Events")
    add_in_ctct(sandbox, "Events", "p5@acme.com")
    plan = service.plan("both")
    [conflict] = plan.conflicts
    assert (conflict.kind, conflict.resolution) == (DELETED_HERE_CHANGED_IN_CTCT, "keep")
    assert plan.to_ctct["lists_delete"].empty and not plan.mass_removals
    # p5's details here go to CTCT, whose new contact has none.
    assert plan.to_ctct["contacts_update"]["email"].tolist() == ["p5@acme.com"]
    service.commit(plan)
    assert members_here(database, "Events") == remote_members(active_client, "Events") == ["p3@acme.com", "p5@acme.com"]
    assert service.plan("both").is_empty


def test_a_list_deleted_in_ctct_and_changed_here_is_created_again_by_default(synced, service, database, active_client):
    active_client.activities.delete_lists([synced["Events"]["list_id"]])
    local_list(database, "Events", "p4@acme.com")
    plan = service.plan("both")
    [conflict] = plan.conflicts
    assert (conflict.kind, conflict.resolution) == (DELETED_IN_CTCT_CHANGED_HERE, "keep")
    assert plan.to_local["lists_delete"].empty
    service.commit(plan)
    assert members_here(database, "Events") == remote_members(active_client, "Events") == ["p3@acme.com", "p4@acme.com"]
    assert service.plan("both").is_empty


def test_a_list_deleted_in_ctct_and_unchanged_here_is_deleted_here(synced, service, database, active_client):
    active_client.activities.delete_lists([synced["Events"]["list_id"]])
    plan = service.plan("both")
    assert plan.to_local["lists_delete"]["name"].tolist() == ["Events"] and not plan.conflicts
    assert plan.to_ctct["lists_create"].empty
    service.commit(plan, allow_mass_removal=True)
    assert "Events" not in names_here(database)
    assert service.plan("both").is_empty


def test_an_unsubscribe_in_ctct_leaves_every_list_here_and_is_never_undone(synced, service, database, sandbox):
    local_list(database, "Events", "p1@acme.com")
    with sandbox.lock:
        account = sandbox.account("demo")
        account.unsubscribe(account.find_by_email("p1@acme.com"), "Contact", sandbox.now())
    plan = service.plan("both")
    assert plan.to_local["contacts_unsubscribed"]["email"].tolist() == ["p1@acme.com"]
    # Added here since the baseline, yet never sent: CTCT's unsubscribe wins.
    assert "p1@acme.com" not in plan.to_ctct["memberships_add"]["email"].tolist()
    service.commit(plan)
    assert "p1@acme.com" not in members_here(database, "News")
    assert "p1@acme.com" not in members_here(database, "Events")
    with sandbox.lock:
        assert sandbox.account("demo").find_by_email("p1@acme.com").permission == "unsubscribed"
    assert service.plan("both").is_empty


def test_a_both_run_is_journaled_with_each_rows_side(synced, service, database, active_client, sandbox):
    add_in_ctct(sandbox, "Events", "p5@acme.com")
    local_list(database, "Events", "p4@acme.com")
    result = service.commit(service.plan("both"))
    with database.session() as session:
        run = session.get(SyncRun, result.run_id)
        rows = session.scalars(
            select(RowChange).where(RowChange.run_id == run.id, RowChange.change_kind == "member added")
        )
        details = sorted((row.email, row.detail, row.outcome) for row in rows)
        assert run.direction == "both" and run.status == "completed"
        assert run.plan["sides"]["to_local"]["memberships_add"] == 1
    assert details == [
        ("p4@acme.com", "in Constant Contact", "applied"),
        ("p5@acme.com", "in Customer Focus", "applied"),
    ]


def converge(service, plan=None, *, syncs=2):
    """Commits both-ways syncs until one plans nothing (at most `syncs`); each completes."""
    for _ in range(syncs):
        plan = plan or service.plan("both")
        if plan.is_empty and not len(plan["contacts_link"]):
            return
        assert service.commit(plan, allow_mass_removal=True).status == "completed"
        plan = None
    assert service.plan("both").is_empty


def test_a_rename_here_onto_a_name_ctct_gives_another_list_is_held_back_said(synced, service, database, active_client):
    active_client.lists.rename(synced["News"]["list_id"], "Golf")
    with database.session() as session:
        lists.rename_list(session, "Events", "Golf")
    plan = service.plan("both")
    assert [w.kind for w in plan.all_warnings()].count("name_clash") >= 1
    assert service.commit(plan).status == "completed"
    # Nothing lost: both lists and their members are there, on both sides, under distinct names.
    here, there = names_here(database), sorted(remote_lists(active_client))
    assert len(here) == len(set(map(str.casefold, here))) == 3
    assert sorted(members_here(database, name) for name in here) == sorted(
        remote_members(active_client, name) for name in there
    )
    converge(service)


def test_a_rename_here_onto_the_name_of_a_new_ctct_list_is_held_back_said(synced, service, database, active_client):
    active_client.lists.create("Golf")
    with database.session() as session:
        lists.rename_list(session, "Events", "Golf")
    plan = service.plan("both")
    assert any(w.kind == "name_clash" for w in plan.all_warnings())
    assert service.commit(plan).status == "completed"
    assert members_here(database, "Golf") == ["p3@acme.com"]
    converge(service)


def test_a_ctct_rename_onto_the_name_of_a_list_new_here_is_held_back_said(synced, service, database, active_client):
    local_list(database, "Golf", "p4@acme.com")
    active_client.lists.rename(synced["News"]["list_id"], "Golf")
    plan = service.plan("both")
    assert any(w.kind == "name_clash" for w in plan.all_warnings())
    result = service.commit(plan)
    assert result.status == "completed", result
    assert members_here(database, "Golf") == ["p4@acme.com"]


def test_a_list_deleted_and_made_anew_here_with_its_name_reaches_ctct_as_the_new_one(
    synced, service, database, active_client
):
    with database.session() as session:
        lists.delete_list(session, "Events")
    local_list(database, "Events", "p4@acme.com", "p5@acme.com")
    converge(service)
    assert members_here(database, "Events") == remote_members(active_client, "Events") == ["p4@acme.com", "p5@acme.com"]
    assert remote_lists(active_client)["Events"]["list_id"] != synced["Events"]["list_id"]


def test_every_list_deleted_here_leaves_ctct_its_last_one_and_brings_it_back(synced, service, database, active_client):
    for name in names_here(database):
        with database.session() as session:
            lists.delete_list(session, name)
    plan = service.plan("both")
    assert any(w.kind == "last_list" for w in plan.all_warnings())
    assert service.commit(plan, allow_mass_removal=True).status == "completed"
    assert names_here(database) == sorted(remote_lists(active_client)) and len(names_here(database)) == 1
    [kept] = names_here(database)
    assert members_here(database, kept) == remote_members(active_client, kept)
    assert service.plan("both").is_empty


def test_a_contact_unsubscribed_in_ctct_leaves_a_list_kept_against_ctcts_deletion(
    synced, service, database, active_client, sandbox
):
    """Events deleted in CTCT but given p1 here: kept (the default) — and p1, unsubscribed in
    CTCT meanwhile, leaves it here as it leaves every list."""
    local_list(database, "Events", "p1@acme.com")
    active_client.activities.delete_lists([synced["Events"]["list_id"]])
    with sandbox.lock:
        account = sandbox.account("demo")
        account.unsubscribe(account.find_by_email("p1@acme.com"), "Contact", sandbox.now())
    plan = service.plan("both")
    assert [c.kind for c in plan.conflicts] == [DELETED_IN_CTCT_CHANGED_HERE]
    assert service.commit(plan).status == "completed"
    assert members_here(database, "Events") == remote_members(active_client, "Events") == ["p3@acme.com"]
    assert "p1@acme.com" not in members_here(database, "News")
    assert service.plan("both").is_empty


@pytest.mark.parametrize("direction", ["both", "push"])
def test_names_swapped_or_passed_along_here_reach_ctct(synced, service, database, active_client, direction):
    local_list(database, "Golf", "p5@acme.com")
    service.commit(service.plan("push"))
    with database.session() as session:  # News <-> Events swapped; Golf -> News -> … passed along
        lists.rename_list(session, "News", "Swap")
        lists.rename_list(session, "Events", "News")
        lists.rename_list(session, "Swap", "Events")
        lists.rename_list(session, "Golf", "Golf 2027")
    assert service.commit(service.plan(direction)).status == "completed"
    there = remote_lists(active_client)
    assert there["Events"]["list_id"] == synced["News"]["list_id"]
    assert there["News"]["list_id"] == synced["Events"]["list_id"]
    assert "Golf 2027" in there and not any("renaming" in name for name in there)
    assert service.plan("both").is_empty


def test_every_list_deleted_here_and_a_new_one_of_an_old_name_keeps_ctct_a_list(
    synced, service, database, active_client
):
    for name in names_here(database):
        with database.session() as session:
            lists.delete_list(session, name)
    local_list(database, "News", "p4@acme.com")
    converge(service)
    assert members_here(database, "News") == remote_members(active_client, "News") == ["p4@acme.com"]
    assert sorted(remote_lists(active_client)) == names_here(database)
