"""The change-kind registry describes every kind a plan holds, and a Plan cannot be changed once made."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from ctct.sync.changes import CHANGE_KINDS, CHANGES, DONE_WORDS, ROW_KINDS, SCHEMAS, SPECS, ChangeKind, Direction
from ctct.sync.journal import ROW_KINDS as JOURNAL_ROW_KINDS
from ctct.sync.plan import Plan, plan_import, plan_pull, plan_push
from ctct.sync.snapshot import Baseline, LocalSnapshot, RemoteSnapshot


def snapshots() -> tuple[LocalSnapshot, RemoteSnapshot, Baseline]:
    """Two lists here (one linked, renamed in CTCT), two in CTCT; a contact on each side only."""
    local = LocalSnapshot(
        lists=pd.DataFrame(
            {
                "list_id": [1, 2],
                "name": ["News", "Promo"],
                "name_key": ["news", "promo"],
                "ctct_list_id": ["l-1", None],
            }
        ),
        contacts=pd.DataFrame(
            {
                "contact_id": [1, 2],
                "company_id": [1, 1],
                "company": ["Acme", "Acme"],
                "first_name": ["Ann", "Bob"],
                "last_name": ["Lee", None],
                "email": ["ann@acme.com", "bob@acme.com"],
                "job_title": ["Buyer", None],
                "unsubscribed": [False, False],
                "unsubscribe_source": [None, None],
                "ctct_contact_id": ["c-1", None],
                "email_key": ["ann@acme.com", "bob@acme.com"],
                "reason": [None, None],
            }
        ),
        members=pd.DataFrame({"list_id": [1, 1, 2], "contact_id": [1, 2, 1]}),
        companies=pd.DataFrame({"company_id": [1], "name": ["Acme"], "name_key": ["acme"]}),
    )
    remote = RemoteSnapshot(
        lists=pd.DataFrame(
            {
                "ctct_list_id": ["l-1", "l-2"],
                "name": ["News letter", "Other"],
                "name_key": ["news letter", "other"],
                "membership_count": [2, 1],
            }
        ),
        contacts=pd.DataFrame(
            {
                "ctct_contact_id": ["c-1", "c-3"],
                "email": ["ann@acme.com", "info@globex.com"],
                "first_name": ["Ann", None],
                "last_name": ["Lee", None],
                "job_title": ["Buyer", "Owner"],
                "company_name": [None, "Globex"],
                "permission": ["implicit", "implicit"],
                "opt_out_source": [None, None],
                "deleted": [False, False],
                "updated_at": ["2026-11-29T12:00:00Z", "2026-11-29T12:00:00Z"],
                "email_key": ["ann@acme.com", "info@globex.com"],
            }
        ),
        members=pd.DataFrame({"ctct_list_id": ["l-1", "l-1", "l-2"], "ctct_contact_id": ["c-1", "c-3", "c-3"]}),
        taken_at="2026-11-29T12:00:00Z",
    )
    return local, remote, Baseline()


@pytest.fixture(params=["push", "pull", "import"])
def plan(request: pytest.FixtureRequest) -> Plan:
    planner = {"push": plan_push, "pull": plan_pull, "import": plan_import}[request.param]
    return planner(*snapshots())


def test_the_registry_covers_every_kind_a_plan_holds_in_its_order(plan: Plan) -> None:
    assert list(plan.changes) == [spec.kind for spec in CHANGES]
    assert set(plan.changes) == set(SPECS) == set(ChangeKind)
    assert sum(plan.counts().values()) > 0  # the snapshots give every direction something to do


def test_every_kind_has_the_columns_of_its_frame(plan: Plan) -> None:
    for kind, frame in plan.changes.items():
        assert list(frame.columns) == list(SPECS[ChangeKind(kind)].columns), kind
        assert set(SPECS[ChangeKind(kind)].reviewed) <= set(frame.columns), kind
        assert set(SPECS[ChangeKind(kind)].sort_key) <= set(frame.columns), kind


def test_the_json_lays_out_the_kinds_a_person_reviews(plan: Plan) -> None:
    body = plan.to_json()
    assert list(body) == [
        "direction",
        "lists",
        "contacts",
        "memberships",
        "skipped",
        "warnings",
        "mass_removals",
        "counts",
        "estimated_requests",
    ]
    assert list(body["lists"]) == ["create", "rename", "delete"]
    assert list(body["contacts"]) == ["create", "update", "unsubscribed", "resubscribed", "deleted_in_ctct"]
    assert list(body["memberships"]) == ["add", "remove"]
    assert list(body["counts"]) == [kind for kind in SCHEMAS if kind != "contacts_link"]


def test_the_kinds_keep_their_public_names() -> None:
    assert [kind.value for kind in ChangeKind] == [
        "lists_create",
        "lists_rename",
        "lists_delete",
        "contacts_create",
        "contacts_update",
        "contacts_unsubscribed",
        "contacts_resubscribed",
        "contacts_deleted_in_ctct",
        "contacts_link",
        "memberships_add",
        "memberships_remove",
        "skipped",
    ]
    assert "contacts_link" not in CHANGE_KINDS and "contacts_link" not in ROW_KINDS
    assert set(CHANGE_KINDS) == set(ROW_KINDS) == set(ChangeKind) - {ChangeKind.CONTACTS_LINK}
    assert JOURNAL_ROW_KINDS is ROW_KINDS
    assert CHANGE_KINDS["lists_create"] == ("Lists to create or link", ["name", "link"])
    assert ROW_KINDS["memberships_add"] == ("member added", "list", "email")
    # A CRM file import's runs are said in History too.
    assert DONE_WORDS["rows_rejected"] == ("row rejected", "rows rejected")
    assert DONE_WORDS["memberships_add"] == ("member added", "members added")


def test_a_direction_is_one_of_four() -> None:
    assert [direction.value for direction in Direction] == ["push", "pull", "import", "both"]
    assert Direction("pull") == "pull"
    with pytest.raises(ValueError, match="sideways"):
        Direction("sideways")


def test_a_plan_refuses_assignment(plan: Plan) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.estimated_requests = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.mass_removals = []  # type: ignore[misc]


def test_a_pull_works_out_its_companies_once() -> None:
    plan = plan_pull(*snapshots())
    matches = plan.company_matches()
    assert matches is not None and matches is plan.company_matches()
    assert list(matches["email"]) == ["info@globex.com"]
    assert matches["company_here"].isna().all()  # Globex is a new company here
    assert plan_push(*snapshots()).company_matches() is None


def test_every_sort_key_is_among_the_kinds_columns() -> None:
    for spec in CHANGES:
        assert set(spec.sort_key) <= set(spec.columns), spec.kind


def test_a_kinds_title_comes_from_the_registry_and_an_unknown_kind_reads_as_words() -> None:
    from ctct.sync.changes import title_of

    assert title_of("lists_create") == "Lists to create or link"
    assert title_of(ChangeKind.SKIPPED) == "Skipped"
    assert title_of("companies_created") == "companies created"
