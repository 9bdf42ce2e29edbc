"""The pure planner (SPEC §3, §4, §7) through its public functions, on snapshots built directly."""

from __future__ import annotations

import os
from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from ctct.sync.plan import MassRemovalPolicy, Plan, plan_import, plan_pull, plan_push
from tests.unit.plan_snapshots import (
    Here,
    There,
    World,
    baseline_of,
    local_side,
    pull_applied,
    push_applied,
    remote_side,
    shuffled,
    worlds,
)

POLICY = MassRemovalPolicy(percent=20, min_list_size=10)
# PLAN_TESTS_NO_SHRINK=1 (mutation runs): a failing example is enough, its smallest form costs minutes.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate) if os.environ.get("PLAN_TESTS_NO_SHRINK") else tuple(Phase)
PROPERTY = settings(max_examples=12, deadline=None, phases=PHASES)


def people(count: int, start: int = 1) -> list[Here]:
    return [Here(n, f"p{n}@acme.com", ctct_contact_id=f"C{n}") for n in range(start, start + count)]


def ctct_people(count: int, start: int = 1) -> list[There]:
    return [There(f"C{n}", f"p{n}@acme.com") for n in range(start, start + count)]


def kinds(plan: Plan) -> list[str]:
    return [warning.kind for warning in plan.warnings]


def messages(plan: Plan, kind: str) -> list[str]:
    return [warning.message for warning in plan.warnings if warning.kind == kind]


def rows(plan: Plan, kind: str, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in plan[kind][list(columns)].itertuples(index=False)]


# Mass removals (SPEC §7)


def linked_list(size: int, kept: int, *, count: int | None = None) -> World:
    """News, linked and synced, with `size` members in CTCT of which `kept` are still members here."""
    here = people(size)
    return World(
        local_lists=((1, "News", "L1"),),
        local_contacts=tuple(here),
        local_members=frozenset((1, person.contact_id) for person in here[:kept]),
        remote_lists=(("L1", "News"),),
        remote_contacts=tuple(ctct_people(size)),
        remote_members=frozenset(("L1", f"C{n}") for n in range(1, size + 1)),
        baseline_lists=(("L1", "News"),),
        baseline_members=frozenset(("L1", f"p{n}@acme.com") for n in range(1, size + 1)),
        remote_counts={"L1": count} if count is not None else {},
    )


def pulled_list(size: int, kept: int) -> World:
    """News with `size` members here of which CTCT keeps `kept`."""
    return replace(linked_list(size, size), remote_members=frozenset(("L1", f"C{n}") for n in range(1, kept + 1)))


@pytest.mark.parametrize(
    ("size", "kept", "expected"),
    [
        (10, 8, []),
        (10, 7, ["removes 3 of the 10 members of 'News' (over 20 %)"]),
        (9, 4, []),
        (9, 0, ["empties the list 'News' (9 members)"]),
        (1, 0, ["empties the list 'News' (1 members)"]),
        (11, 9, []),
    ],
)
def test_push_mass_removal_boundaries(size: int, kept: int, expected: list[str]) -> None:
    plan = plan_push(*linked_list(size, kept).snapshots(), POLICY)
    assert len(plan["memberships_remove"]) == size - kept
    assert plan.mass_removals == expected


@pytest.mark.parametrize(
    ("size", "kept", "expected"),
    [
        (10, 8, []),
        (10, 7, ["removes 3 of the 10 members of 'News' (over 20 %)"]),
        (9, 4, []),
        (9, 0, ["empties the list 'News' (9 members)"]),
    ],
)
def test_pull_mass_removal_boundaries(size: int, kept: int, expected: list[str]) -> None:
    plan = plan_pull(*pulled_list(size, kept).snapshots(), policy=POLICY)
    assert len(plan["memberships_remove"]) == size - kept
    assert plan.mass_removals == expected


def test_push_list_sizes_come_from_ctct_membership_counts() -> None:
    # CTCT counts 15 members (more than the snapshot read): 3 of 15 is 20 %, not over it.
    assert plan_push(*linked_list(10, 7, count=15).snapshots(), POLICY).mass_removals == []
    # CTCT counts 9: the small-list exemption applies although ten members were read.
    assert plan_push(*linked_list(10, 7, count=9).snapshots(), POLICY).mass_removals == []


def test_pull_list_sizes_come_from_the_members_here() -> None:
    world = replace(pulled_list(10, 7), remote_counts={"L1": 1000})
    assert plan_pull(*world.snapshots(), policy=POLICY).mass_removals == [
        "removes 3 of the 10 members of 'News' (over 20 %)"
    ]


def test_a_list_ctct_counts_empty_does_not_hide_the_next_list() -> None:
    # CTCT's count of L1 lags behind its members: no size, no guard for L1 — but L2 is still weighed.
    world = replace(
        linked_list(10, 7),
        local_lists=((1, "News", "L2"), (2, "Events", "L1")),
        remote_lists=(("L1", "Events"), ("L2", "News")),
        remote_members=frozenset({*(("L2", f"C{n}") for n in range(1, 11)), ("L1", "C1")}),
        baseline_lists=(("L1", "Events"), ("L2", "News")),
        remote_counts={"L1": 0},
    )
    plan = plan_push(*world.snapshots(), POLICY)
    assert rows(plan, "memberships_remove", "ctct_list_id", "email")[0] == ("L1", "p1@acme.com")
    assert plan.mass_removals == ["removes 3 of the 10 members of 'News' (over 20 %)"]


def test_a_list_replaced_by_new_members_is_not_emptied() -> None:
    world = linked_list(3, 0)
    newcomers = people(3, start=4)
    world = replace(
        world,
        local_contacts=(*world.local_contacts, *newcomers),
        local_members=frozenset((1, person.contact_id) for person in newcomers),
        remote_contacts=(*world.remote_contacts, *ctct_people(3, start=4)),
    )
    plan = plan_push(*world.snapshots(), POLICY)
    assert len(plan["memberships_remove"]) == 3 and len(plan["memberships_add"]) == 3
    assert plan.mass_removals == []


def test_thresholds_come_from_the_policy() -> None:
    policy = MassRemovalPolicy(percent=50, min_list_size=4)
    assert plan_push(*linked_list(4, 2).snapshots(), policy).mass_removals == []
    assert plan_push(*linked_list(4, 1).snapshots(), policy).mass_removals == [
        "removes 3 of the 4 members of 'News' (over 50 %)"
    ]
    assert plan_pull(*pulled_list(4, 1).snapshots(), policy=policy).mass_removals == [
        "removes 3 of the 4 members of 'News' (over 50 %)"
    ]
    assert plan_pull(*pulled_list(10, 7).snapshots(), policy=MassRemovalPolicy()).mass_removals == [
        "removes 3 of the 10 members of 'News' (over 20 %)"
    ]


def test_push_deleting_a_list_is_a_mass_removal() -> None:
    local = local_side([(2, "Events", "L2")], [], [])
    remote = remote_side([("L1", "News"), ("L2", "Events")], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News"), ("L2", "Events")]), POLICY)
    assert rows(plan, "lists_delete", "name", "ctct_list_id") == [("News", "L1")]
    assert plan.mass_removals == ["deletes the list 'News'"]


def test_pull_deleting_a_list_is_a_mass_removal() -> None:
    local = local_side([(1, "News", "L1"), (2, "Events", "L2")], [], [])
    remote = remote_side([("L2", "Events")], [], [])
    plan = plan_pull(local, remote, baseline_of([("L1", "News"), ("L2", "Events")]), policy=POLICY)
    assert rows(plan, "lists_delete", "name", "list_id") == [("News", 1)]
    assert plan.mass_removals == ["deletes the list 'News'"]


# What the losing side changed since the baseline, and other warnings


def test_pull_warns_that_a_rename_made_here_is_undone() -> None:
    local = local_side([(1, "Newsletter", "L1")], [], [])
    remote = remote_side([("L1", "News")], [], [])
    plan = plan_pull(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_rename", "from", "to", "list_id") == [("Newsletter", "News", 1)]
    assert messages(plan, "losing_side_change") == [
        "local rename of 'News' to 'Newsletter' will be undone: Constant Contact calls it 'News'"
    ]


def test_pull_of_a_rename_made_in_ctct_loses_nothing_here() -> None:
    local = local_side([(1, "News", "L1")], [], [])
    remote = remote_side([("L1", "Updates")], [], [])
    plan = plan_pull(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_rename", "from", "to") == [("News", "Updates")]
    assert plan.warnings == []


def test_pull_warns_that_a_list_deleted_here_comes_back() -> None:
    local = local_side([], [], [])
    remote = remote_side([("L1", "News")], [], [])
    plan = plan_pull(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_create", "name", "link") == [("News", False)]
    assert messages(plan, "losing_side_change") == [
        "local deletion of 'News' will be undone: it still exists in Constant Contact"
    ]


def test_push_warns_that_a_rename_made_in_ctct_is_undone() -> None:
    local = local_side([(1, "News", "L1")], [], [])
    remote = remote_side([("L1", "Updates")], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_rename", "from", "to", "ctct_list_id") == [("Updates", "News", "L1")]
    assert messages(plan, "losing_side_change") == [
        "rename in Constant Contact to 'Updates' will be undone (back to 'News') — pull first?"
    ]


def test_push_of_a_rename_made_here_loses_nothing_in_ctct() -> None:
    local = local_side([(1, "Newsletter", "L1")], [], [])
    remote = remote_side([("L1", "News")], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_rename", "from", "to") == [("News", "Newsletter")]
    assert plan.warnings == []


def test_push_warns_about_members_ctct_added_and_removed_since_the_baseline() -> None:
    world = replace(
        linked_list(3, 2),
        baseline_members=frozenset({("L1", "p1@acme.com"), ("L1", "p2@acme.com"), ("L1", "p4@acme.com")}),
        local_contacts=(*people(3), Here(4, "p4@acme.com", ctct_contact_id="C4")),
        local_members=frozenset({(1, 1), (1, 2), (1, 4)}),
        remote_contacts=(*ctct_people(4),),
        remote_members=frozenset({("L1", "C1"), ("L1", "C2"), ("L1", "C3")}),
    )
    plan = plan_push(*world.snapshots())
    assert messages(plan, "losing_side_change") == [
        "1 member(s) added in Constant Contact since the last sync (e.g. p3@acme.com to 'News') "
        "will be undone by this push — pull first?",
        "1 removal(s) in Constant Contact since the last sync (e.g. p4@acme.com from 'News') "
        "will be undone by this push — pull first?",
    ]


def test_pull_warns_about_members_changed_here_since_the_baseline() -> None:
    world = replace(
        linked_list(3, 3),
        baseline_members=frozenset({("L1", "p1@acme.com"), ("L1", "p2@acme.com")}),
        remote_members=frozenset({("L1", "C1")}),
    )
    plan = plan_pull(*world.snapshots())
    assert messages(plan, "losing_side_change") == [
        "1 member(s) added here since the last sync (e.g. p3@acme.com to 'News') will be undone by this pull"
    ]


def test_push_recreates_a_list_deleted_in_ctct_with_a_warning() -> None:
    local = local_side([(1, "News", "L-gone"), (2, "Events", "L2")], [], [])
    remote = remote_side([("L2", "Events")], [], [])
    plan = plan_push(local, remote, baseline_of([("L2", "Events")]))
    assert rows(plan, "lists_create", "name", "list_id", "link") == [("News", 1, False)]
    assert messages(plan, "deleted_in_ctct") == [
        "list 'News' was deleted in Constant Contact; this push creates it again — pull first to delete it here instead"
    ]


def test_push_keeps_a_rename_onto_a_name_ctct_holds() -> None:
    local = local_side([(1, "Events", "L1")], [], [])
    remote = remote_side([("L1", "News"), ("L2", "Events")], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News"), ("L2", "Events")]))
    assert plan["lists_rename"].empty
    assert messages(plan, "name_clash") == [
        "'News' is renamed 'Events' here, but another list in Constant Contact is called 'Events': "
        "it keeps the name 'News' there until one of the two is renamed"
    ]


def test_pull_keeps_a_ctct_rename_onto_a_name_a_list_here_holds() -> None:
    local = local_side([(1, "News", "L1"), (2, "Events", None)], [], [])
    remote = remote_side([("L1", "events")], [], [])
    plan = plan_pull(local, remote, baseline_of([("L1", "News")]))
    assert plan["lists_rename"].empty
    assert messages(plan, "name_clash") == [
        "Constant Contact renamed 'News' to 'events', the name of another list here: "
        "'News' keeps its name here until one of the two is renamed"
    ]


def test_pull_renames_onto_the_name_of_a_list_it_deletes() -> None:
    local = local_side([(1, "News", "L1"), (2, "Events", "L2")], [], [])
    remote = remote_side([("L1", "Events")], [], [])
    plan = plan_pull(local, remote, baseline_of([("L1", "News"), ("L2", "Events")]))
    assert rows(plan, "lists_rename", "from", "to") == [("News", "Events")]
    assert "name_clash" not in kinds(plan)


def test_push_cannot_delete_ctct_s_last_list() -> None:
    local = local_side([], [], [])
    remote = remote_side([("L1", "News")], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News")]))
    assert messages(plan, "last_list") == [
        "Constant Contact must keep at least one list: the last one cannot be deleted and will stay"
    ]
    # A list this push creates survives the deletion.
    local = local_side([(1, "Events", None)], [], [])
    assert "last_list" not in kinds(plan_push(local, remote, baseline_of([("L1", "News")])))


def test_push_restores_a_contact_deleted_in_ctct_and_says_so() -> None:
    local = local_side([(1, "News", "L1")], [Here(1, "ann@acme.com", ctct_contact_id="C1")], [(1, 1)])
    remote = remote_side([("L1", "News")], [There("C1", "ann@acme.com", deleted=True)], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "contacts_create", "email", "ctct_contact_id", "restored") == [("ann@acme.com", "C1", True)]
    assert rows(plan, "memberships_add", "email", "ctct_list_id") == [("ann@acme.com", "L1")]
    assert messages(plan, "restore") == [
        "1 contact(s) deleted in Constant Contact were re-added here and will be restored"
    ]


def test_push_names_lists_that_exist_only_in_ctct() -> None:
    local = local_side([(1, "News", "L1")], [], [])
    remote = remote_side([("L1", "News"), ("L2", "Events"), ("L3", "VIP")], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News")]))
    assert messages(plan, "ctct_only_lists") == [
        "2 list(s) exist only in Constant Contact (e.g. 'Events'); pull to bring them over"
    ]
    # A CTCT list the push links by name is not one of them.
    local = local_side([(1, "News", "L1"), (2, "events", None)], [], [])
    plan = plan_push(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_create", "name", "ctct_list_id", "link") == [("events", "L2", True)]
    assert messages(plan, "ctct_only_lists") == [
        "1 list(s) exist only in Constant Contact (e.g. 'VIP'); pull to bring them over"
    ]


def test_pull_warns_about_an_email_shared_here() -> None:
    here = [Here(1, "Ann@acme.com"), Here(2, "ann@acme.com")]
    local = local_side([], here, [])
    remote = remote_side([("L1", "News")], [There("C1", "ann@acme.com")], [("L1", "C1")])
    plan = plan_pull(local, remote, baseline_of())
    assert messages(plan, "shared_email") == [
        "ann@acme.com belongs to several contacts here; the oldest one is matched — resolve the conflict"
    ]
    assert rows(plan, "contacts_link", "contact_id", "ctct_contact_id") == [(1, "C1")]


def test_pull_warns_about_role_addresses_it_brings_over() -> None:
    remote = remote_side(
        [("L1", "News")],
        [There("C1", "info@acme.com"), There("C2", "ann@acme.com"), There("C3", "no-reply+x@acme.com")],
        [("L1", "C1"), ("L1", "C2"), ("L1", "C3")],
    )
    plan = plan_pull(local_side([], [], []), remote, baseline_of())
    assert len(plan["memberships_add"]) == 3
    assert messages(plan, "role_address") == [
        "2 member(s) in Constant Contact have a role address (e.g. info@acme.com on 'News', "
        "no-reply+x@acme.com on 'News'), which Constant Contact does not mail: they come over as "
        "contacts and members here, but cannot be selected for a list"
    ]


def test_pull_warns_about_a_new_company_like_one_here() -> None:
    local = local_side([], [Here(1, "bo@acme.com", company="Acme Sports")], [])
    remote = remote_side([("L1", "News")], [There("C1", "ann@sportz.com", company_name="Acme Sportz")], [("L1", "C1")])
    plan = plan_pull(local, remote, baseline_of())
    assert rows(plan, "contacts_create", "email", "company") == [("ann@sportz.com", "Acme Sportz")]
    assert messages(plan, "possible_duplicate") == [
        "new company 'Acme Sportz' looks like 'Acme Sports' (already in the CRM); they are kept apart "
        "— merge them by hand if they are one"
    ]


def test_pull_warns_about_values_that_look_like_formulas() -> None:
    remote = remote_side([("L1", "=News")], [There("C1", "ann@acme.com", first_name="=1+2")], [("L1", "C1")])
    plan = plan_pull(local_side([], [], []), remote, baseline_of())
    assert messages(plan, "formula_like") == [
        "Lists to create or link — '=News': looks like a spreadsheet formula; kept as text here, and "
        "CSV downloads write it with a leading '",
        "Contacts to create — 'ann@acme.com', first name '=1+2': looks like a spreadsheet formula; "
        "kept as text here, and CSV downloads write it with a leading '",
    ]


def test_import_keeps_what_was_changed_here_since_the_last_sync() -> None:
    world = replace(
        linked_list(3, 3),
        baseline_members=frozenset({("L1", "p1@acme.com"), ("L1", "p2@acme.com")}),
        remote_members=frozenset({("L1", "C1"), ("L1", "C2")}),
    )
    pulled = plan_pull(*world.snapshots())
    assert rows(pulled, "memberships_remove", "email") == [("p3@acme.com",)]
    imported = plan_import(*world.snapshots())
    assert imported["memberships_remove"].empty
    assert "losing_side_change" not in kinds(imported)
    assert messages(imported, "kept_local_change") == [
        "1 member(s) added here since the last sync are kept (Constant Contact does not have them yet): "
        "push to send them"
    ]


def test_import_keeps_a_rename_and_a_deletion_made_here() -> None:
    local = local_side([(1, "Newsletter", "L1")], [], [])
    remote = remote_side([("L1", "News"), ("L2", "Events")], [], [])
    plan = plan_import(local, remote, baseline_of([("L1", "News"), ("L2", "Events")]))
    assert plan["lists_rename"].empty and plan["lists_create"].empty
    assert messages(plan, "kept_local_change") == [
        "1 list rename(s) made here since the last sync are kept (Constant Contact does not have them yet): "
        "push to send them",
        "1 list deletion(s) made here since the last sync are kept (Constant Contact does not have them yet): "
        "push to send them",
    ]


# Skipped rows and unsubscribed contacts (SPEC §3, §7)


def test_push_skips_ineligible_members_with_their_reasons() -> None:
    here = [
        Here(1, "ann@acme.com"),
        Here(2, "info@acme.com"),
        Here(3, "bo@acme.com", unsubscribed=True, unsubscribe_source="Customer Focus"),
        Here(4, "cy@acme.com"),
        Here(5, "CY@acme.com"),
        Here(6, "not an email"),
        Here(7, "hello@acme.com"),
        Here(8, "dee@acme.com", ctct_contact_id="C8"),
    ]
    local = local_side(
        [(1, "News", None)], here, [(1, person.contact_id) for person in here], company_emails=["hello@acme.com"]
    )
    remote = remote_side([("L9", "General Interest")], [There("C8", "dee@acme.com", permission="unsubscribed")], [])
    plan = plan_push(local, remote, baseline_of([("L9", "General Interest")]))
    skipped = dict(zip(plan["skipped"]["email"], plan["skipped"]["reason"], strict=True))
    assert skipped.pop("not an email").startswith("invalid email: ")
    assert skipped == {
        "info@acme.com": "role address (info@), which Constant Contact does not mail",
        "bo@acme.com": "unsubscribed",
        "cy@acme.com": "email shared with 1 other contact: resolve the conflict first",
        "CY@acme.com": "email shared with 1 other contact: resolve the conflict first",
        "hello@acme.com": "company general address, not a contact",
        "dee@acme.com": "unsubscribed in Constant Contact: never re-added",
    }
    assert set(plan["skipped"]["list"]) == {"News"}
    assert rows(plan, "contacts_create", "email") == [("ann@acme.com",)]
    assert rows(plan, "memberships_add", "email", "list") == [("ann@acme.com", "News")]


def test_push_leaves_an_ineligible_member_ctct_already_has() -> None:
    local = local_side([(1, "News", "L1")], [Here(1, "info@acme.com", ctct_contact_id="C1")], [(1, 1)])
    remote = remote_side([("L1", "News")], [There("C1", "info@acme.com")], [("L1", "C1")])
    plan = plan_push(local, remote, baseline_of([("L1", "News")], [("L1", "info@acme.com")]))
    assert plan.is_empty and plan["skipped"].empty


def test_pull_marks_a_ctct_unsubscribe_and_leaves_every_list_here() -> None:
    here = [Here(1, "ann@acme.com", ctct_contact_id="C1"), Here(2, "bo@acme.com", ctct_contact_id="C2")]
    local = local_side([(1, "News", "L1"), (2, "Local only", None)], here, [(1, 1), (2, 1), (1, 2)])
    remote = remote_side(
        [("L1", "News")],
        [There("C1", "ann@acme.com", permission="unsubscribed", opt_out_source="Contact"), There("C2", "bo@acme.com")],
        [("L1", "C2")],
    )
    plan = plan_pull(local, remote, baseline_of([("L1", "News")], [("L1", "ann@acme.com"), ("L1", "bo@acme.com")]))
    assert rows(plan, "contacts_unsubscribed", "email", "contact_id", "source") == [("ann@acme.com", 1, "ctct:Contact")]
    assert sorted(rows(plan, "memberships_remove", "list", "contact_id")) == [("Local only", 1), ("News", 1)]
    assert plan["memberships_add"].empty


def test_pull_clears_a_ctct_unsubscribe_reversed_there_only() -> None:
    here = [
        Here(1, "ann@acme.com", unsubscribed=True, unsubscribe_source="ctct:Contact", ctct_contact_id="C1"),
        Here(2, "bo@acme.com", unsubscribed=True, unsubscribe_source="Customer Focus", ctct_contact_id="C2"),
        Here(3, "cy@acme.com", unsubscribed=True, unsubscribe_source="ctct:Contact", ctct_contact_id="C3"),
    ]
    remote = remote_side(
        [("L1", "News")],
        [There("C1", "ann@acme.com"), There("C2", "bo@acme.com"), There("C3", "cy@acme.com", deleted=True)],
        [],
    )
    plan = plan_pull(local_side([(1, "News", "L1")], here, []), remote, baseline_of([("L1", "News")]))
    assert rows(plan, "contacts_resubscribed", "email", "contact_id") == [("ann@acme.com", 1)]
    assert plan["contacts_unsubscribed"].empty


def test_pull_reports_contacts_deleted_in_ctct_that_leave_a_list() -> None:
    here = [Here(1, "ann@acme.com", ctct_contact_id="C1"), Here(2, "bo@acme.com", ctct_contact_id="C2")]
    remote = remote_side(
        [("L1", "News")], [There("C1", "ann@acme.com", deleted=True), There("C2", "bo@acme.com", deleted=True)], []
    )
    plan = plan_pull(local_side([(1, "News", "L1")], here, [(1, 1)]), remote, baseline_of([("L1", "News")]))
    assert rows(plan, "contacts_deleted_in_ctct", "email", "contact_id") == [("ann@acme.com", 1)]
    assert rows(plan, "memberships_remove", "email") == [("ann@acme.com",)]


def test_pull_fills_only_empty_fields() -> None:
    here = [Here(1, "ann@acme.com", first_name=None, last_name="Lee", job_title=None, ctct_contact_id="C1")]
    remote = remote_side(
        [("L1", "News")],
        [There("C1", "ann@acme.com", first_name="Ann", last_name="Li", job_title="CEO")],
        [("L1", "C1")],
    )
    plan = plan_pull(local_side([(1, "News", "L1")], here, [(1, 1)]), remote, baseline_of([("L1", "News")]))
    update = plan["contacts_update"]
    assert rows(plan, "contacts_update", "first_name", "job_title", "changes") == [
        ("Ann", "CEO", "first_name → Ann, job_title → CEO")
    ]
    assert update["last_name"].isna().all()


def test_push_sends_fields_changed_here_since_the_baseline() -> None:
    here = [
        Here(1, "ann@acme.com", first_name="Annie", ctct_contact_id="C1"),
        Here(2, "bo@acme.com", first_name="Bo", ctct_contact_id="C2"),
    ]
    remote = remote_side(
        [("L1", "News")],
        [There("C1", "ann@acme.com"), There("C2", "bo@acme.com", first_name="Bob")],
        [("L1", "C1"), ("L1", "C2")],
    )
    baseline = baseline_of(
        [("L1", "News")],
        [("L1", "ann@acme.com"), ("L1", "bo@acme.com")],
        [("ann@acme.com", "Ann", "Lee", "Acme", None), ("bo@acme.com", "Bo", "Lee", "Acme", None)],
    )
    plan = plan_push(local_side([(1, "News", "L1")], here, [(1, 1), (1, 2)]), remote, baseline)
    assert rows(plan, "contacts_update", "email", "first_name", "ctct_contact_id", "changes") == [
        ("ann@acme.com", "Annie", "C1", "name, company or job title changed here")
    ]


def test_push_sends_a_new_email_to_the_same_ctct_contact() -> None:
    here = [Here(1, "ann.lee@acme.com", ctct_contact_id="C1")]
    remote = remote_side([("L1", "News")], [There("C1", "ann@acme.com")], [("L1", "C1")])
    plan = plan_push(local_side([(1, "News", "L1")], here, [(1, 1)]), remote, baseline_of([("L1", "News")]))
    assert rows(plan, "contacts_update", "email", "previous_email", "ctct_contact_id", "changes") == [
        ("ann.lee@acme.com", "ann@acme.com", "C1", "email ann@acme.com → ann.lee@acme.com")
    ]
    assert plan["memberships_add"].empty and plan["contacts_create"].empty


# Properties over small worlds


def links_by_name_to_a_different_list(plan: Plan, world: World) -> bool:
    """Whether the push links a CTCT list by name that differs from the list here: in its
    name's case, or in members CTCT has and the list here lacks (see the two strict xfails)."""
    creates = plan["lists_create"]
    linked = creates[creates["link"].astype(bool)]
    names = dict(world.remote_lists)
    renamed = any(names[ctct_id] != name for ctct_id, name in zip(linked["ctct_list_id"], linked["name"], strict=True))
    filled = any(list_id in set(linked["ctct_list_id"]) for list_id, _contact in world.remote_members)
    return renamed or filled


@PROPERTY
@given(worlds())
def test_a_push_leaves_nothing_for_the_next_push(world: World) -> None:
    plan = plan_push(*world.snapshots())
    # A rename held back by a name clash, or a deletion of CTCT's last list, is left undone on purpose.
    assume(not {"name_clash", "last_list"} & set(kinds(plan)))
    assume(not links_by_name_to_a_different_list(plan, world))
    again = plan_push(*push_applied(world, plan).snapshots())
    assert again.is_empty, again.to_json()


@PROPERTY
@given(worlds())
def test_a_pull_leaves_nothing_for_the_next_pull(world: World) -> None:
    plan = plan_pull(*world.snapshots())
    again = plan_pull(*pull_applied(world, plan).snapshots())
    assert again.is_empty, again.to_json()


@PROPERTY
@given(worlds(), st.integers(0, 2**16))
def test_plans_do_not_depend_on_row_order(world: World, seed: int) -> None:
    """Every row, every warning and the example each one names: the same whatever the order of
    the snapshots' rows (a database returns them in no fixed order)."""
    snapshots = world.snapshots()
    for planner in (plan_push, plan_pull, plan_import):
        assert planner(*snapshots).to_json() == planner(*shuffled(snapshots, seed)).to_json()


@PROPERTY
@given(worlds())
def test_pull_fills_only_fields_empty_here(world: World) -> None:
    local, remote, baseline = world.snapshots()
    plan = plan_pull(local, remote, baseline)
    here = local.contacts.set_index("contact_id")
    for row in plan["contacts_update"].to_dict("records"):
        filled = [name for name in ("first_name", "last_name", "job_title") if pd.notna(row[name])]
        assert filled, row
        assert here.loc[row["contact_id"], filled].isna().all(), row


@PROPERTY
@given(worlds())
def test_push_never_re_adds_an_unsubscribed_contact(world: World) -> None:
    local, remote, baseline = world.snapshots()
    plan = plan_push(local, remote, baseline)
    unsubscribed_here = set(local.contacts.loc[local.contacts["unsubscribed"], "contact_id"])
    unsubscribed_there = remote.contacts.loc[remote.contacts["permission"] == "unsubscribed", "email_key"]
    refused = unsubscribed_here | set(
        local.contacts.loc[local.contacts["email_key"].isin(unsubscribed_there), "contact_id"]
    )
    assert not refused & set(plan["memberships_add"]["contact_id"])
    assert not refused & set(plan["contacts_create"]["contact_id"])


@PROPERTY
@given(worlds())
def test_pull_takes_a_ctct_unsubscribed_contact_off_every_list(world: World) -> None:
    local, remote, baseline = world.snapshots()
    plan = plan_pull(local, remote, baseline)
    unsubscribed = set(plan["contacts_unsubscribed"]["contact_id"])
    on_lists = local.members[local.members["contact_id"].isin(unsubscribed)]
    # A list the pull deletes takes its members with it.
    on_lists = on_lists[~on_lists["list_id"].isin(plan["lists_delete"]["list_id"])]
    removed = set(zip(plan["memberships_remove"]["list_id"], plan["memberships_remove"]["contact_id"], strict=True))
    assert set(zip(on_lists["list_id"], on_lists["contact_id"], strict=True)) <= removed
    assert not unsubscribed & set(plan["memberships_add"]["contact_id"])
    after = pull_applied(world, plan)
    still = {c.contact_id for c in after.local_contacts if c.unsubscribed and c.contact_id in unsubscribed}
    assert still == unsubscribed
    assert not {contact for _list, contact in after.local_members} & unsubscribed


def expected_mass_removal(size: int, removed: int, policy: MassRemovalPolicy) -> list[str]:
    if removed == 0:
        return []
    if removed == size:
        return [f"empties the list 'News' ({size:,} members)"]
    if size >= policy.min_list_size and removed * 100 > policy.percent * size:
        return [f"removes {removed:,} of the {size:,} members of 'News' (over {policy.percent:g} %)"]
    return []


@settings(max_examples=10, deadline=None, phases=PHASES)
@given(st.data(), st.integers(1, 25))
def test_push_mass_removal_over_sizes(data: st.DataObject, size: int) -> None:
    removed = data.draw(st.integers(0, size))
    plan = plan_push(*linked_list(size, size - removed).snapshots(), POLICY)
    assert plan.mass_removals == expected_mass_removal(size, removed, POLICY)


@settings(max_examples=10, deadline=None, phases=PHASES)
@given(st.data(), st.integers(1, 25))
def test_pull_mass_removal_over_sizes(data: st.DataObject, size: int) -> None:
    removed = data.draw(st.integers(0, size))
    plan = plan_pull(*pulled_list(size, size - removed).snapshots(), policy=POLICY)
    assert plan.mass_removals == expected_mass_removal(size, removed, POLICY)


# Known gaps: each passes once the planner is mended (strict, so that the mend is noticed).


def test_warnings_do_not_depend_on_row_order() -> None:
    local = local_side([], [], [])
    remote = remote_side([("L1", "News"), ("L2", "Events")], [], [])
    one = plan_pull(local, remote, baseline_of([("L1", "News"), ("L2", "Events")]))
    other = plan_pull(local, remote, baseline_of([("L2", "Events"), ("L1", "News")]))
    assert one.to_json() == other.to_json()


def test_the_example_a_warning_names_does_not_depend_on_row_order() -> None:
    local = local_side([], [], [])
    baseline = baseline_of()
    one = plan_push(local, remote_side([("L1", "News"), ("L2", "Events")], [], []), baseline)
    other = plan_push(local, remote_side([("L2", "Events"), ("L1", "News")], [], []), baseline)
    assert one.to_json() == other.to_json()


@pytest.mark.xfail(strict=True, reason="linking by name keeps CTCT's spelling of the name until the next push")
def test_a_push_linking_a_list_by_name_leaves_nothing_for_the_next_push() -> None:
    world = World(((1, "news", None),), (), frozenset(), (("L1", "News"),), (), frozenset())
    plan = plan_push(*world.snapshots())
    assert rows(plan, "lists_create", "name", "ctct_list_id", "link") == [("news", "L1", True)]
    assert plan_push(*push_applied(world, plan).snapshots()).is_empty


@pytest.mark.xfail(strict=True, reason="linking by name keeps CTCT's extra members until the next push removes them")
def test_a_push_linking_a_list_by_name_makes_its_members_the_ones_here() -> None:
    world = World(
        ((1, "News", None),),
        (Here(1, "ann@acme.com"),),
        frozenset({(1, 1)}),
        (("L1", "News"),),
        (There("C2", "bo@acme.com"),),
        frozenset({("L1", "C2")}),
    )
    plan = plan_push(*world.snapshots())
    assert rows(plan, "lists_create", "name", "ctct_list_id", "link") == [("News", "L1", True)]
    again = plan_push(*push_applied(world, plan).snapshots())
    assert again.is_empty, "the second push removes bo@acme.com, which the first neither removed nor named"


def test_a_pull_names_each_removal_once() -> None:
    """Removals from CTCT and those of a contact CTCT unsubscribed are two frames put together:
    a pull of both lists each removal once, in order (it once listed them twice)."""
    local = local_side(
        [(1, "News", "L1"), (2, "Local only", None)],
        [
            Here(1, "ann@acme.com", ctct_contact_id="C1"),
            Here(2, "bo@acme.com", ctct_contact_id="C2"),
            Here(3, "cy@acme.com", ctct_contact_id="C3"),
        ],
        [(1, 1), (1, 3), (2, 2)],
    )
    remote = remote_side(
        [("L1", "News")],
        [
            There("C1", "ann@acme.com"),
            There("C2", "bo@acme.com", permission="unsubscribed", opt_out_source="Contact"),
            There("C3", "cy@acme.com"),
        ],
        [("L1", "C3")],
    )
    plan = plan_pull(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "memberships_remove", "list", "email") == [
        ("Local only", "bo@acme.com"),
        ("News", "ann@acme.com"),
    ]


def test_import_keeps_members_added_and_removed_here_and_takes_ctcts_own_changes() -> None:
    """Connecting again: since the last sync Bo left News here and Cy joined it here, while Dee
    joined it in Constant Contact. The import keeps both changes made here and brings Dee over."""
    people = [
        Here(1, "ann@acme.com", ctct_contact_id="C1"),
        Here(2, "bo@acme.com", ctct_contact_id="C2"),
        Here(3, "cy@acme.com", ctct_contact_id="C3"),
        Here(4, "dee@acme.com", ctct_contact_id="C4"),
    ]
    local = local_side([(1, "News", "L1")], people, [(1, 1), (1, 3)])
    there = [There(f"C{n}", email) for n, email in enumerate(("ann", "bo", "cy", "dee"), start=1)]
    there = [replace(contact, email=f"{contact.email}@acme.com") for contact in there]
    remote = remote_side([("L1", "News")], there, [("L1", "C1"), ("L1", "C2"), ("L1", "C4")])
    baseline = baseline_of([("L1", "News")], [("L1", "ann@acme.com"), ("L1", "bo@acme.com")])
    plan = plan_import(local, remote, baseline)
    assert rows(plan, "memberships_add", "list", "email") == [("News", "dee@acme.com")]
    assert plan["memberships_remove"].empty
    kept = "since the last sync are kept (Constant Contact does not have them yet): push to send them"
    assert messages(plan, "kept_local_change") == [f"1 member(s) added here {kept}", f"1 removal(s) made here {kept}"]


def test_import_after_renames_on_both_sides_takes_ctcts_name() -> None:
    """Only a rename made here alone is kept; renamed on both sides, Constant Contact's name wins."""
    local = local_side([(1, "Newsletter", "L1")], [], [])
    remote = remote_side([("L1", "Updates")], [], [])
    plan = plan_import(local, remote, baseline_of([("L1", "News")]))
    assert rows(plan, "lists_rename", "from", "to") == [("Newsletter", "Updates")]
    assert messages(plan, "kept_local_change") == []


def test_push_does_not_send_a_company_an_import_made_up() -> None:
    """CTCT has no company for Ann and Bo; the import named theirs after the email's domain
    (`acme.com`) and, for a public mailbox, the person. Those are not changes to send; a company
    typed here is — even one that reads like a domain, where CTCT has a company."""
    here = [
        Here(1, "ann@acme.com", company="acme.com", ctct_contact_id="C1"),
        Here(2, "bo@gmail.com", first_name="Bo", company="Bo Lee", ctct_contact_id="C2"),
        Here(3, "cy@acme.com", first_name="Cy", company="Acme Corp", ctct_contact_id="C3"),
        Here(4, "dee@beta.org", first_name="Dee", company="beta.org", ctct_contact_id="C4"),
    ]
    there = [
        There("C1", "ann@acme.com", company_name=None),
        There("C2", "bo@gmail.com", first_name="Bo", company_name=None),
        There("C3", "cy@acme.com", first_name="Cy", company_name=None),
        There("C4", "dee@beta.org", first_name="Dee", company_name="Beta"),
    ]
    local = local_side([(1, "News", "L1")], here, [(1, 1), (1, 2), (1, 3), (1, 4)])
    remote = remote_side([("L1", "News")], there, [("L1", "C1"), ("L1", "C2"), ("L1", "C3"), ("L1", "C4")])
    baseline = baseline_of(
        [("L1", "News")],
        [("L1", "ann@acme.com"), ("L1", "bo@gmail.com"), ("L1", "cy@acme.com"), ("L1", "dee@beta.org")],
        [
            ("ann@acme.com", "Ann", "Lee", None, None),
            ("bo@gmail.com", "Bo", "Lee", None, None),
            ("cy@acme.com", "Cy", "Lee", None, None),
            ("dee@beta.org", "Dee", "Lee", "Beta", None),
        ],
    )
    plan = plan_push(local, remote, baseline)
    assert rows(plan, "contacts_update", "email", "company") == [
        ("cy@acme.com", "Acme Corp"),
        ("dee@beta.org", "beta.org"),
    ]
