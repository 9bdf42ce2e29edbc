"""How a push is cut into activities (ctct/sync/push_shape.py): by set of lists or list by list,
whichever takes fewer; existing contacts by import only where that is exact and takes fewer."""

import pandas as pd

from ctct.sync.changes import SCHEMAS
from ctct.sync.push_shape import ImportSet, activity_count, contact_sets, group_members, importable_contacts
from ctct.sync.snapshot import REMOTE_CONTACT_COLUMNS, RemoteSnapshot


def adds(pairs):
    """Membership adds of existing CTCT contacts: (contact number, local list id) pairs."""
    return pd.DataFrame(
        {
            "contact_id": [number for number, _ in pairs],
            "list_id": [list_id for _, list_id in pairs],
            "ctct_contact_id": [f"c{number}" for number, _ in pairs],
            "email": [f"m{number}@acme.com" for number, _ in pairs],
        }
    )


def everyone(frame):
    return pd.Series(True, index=pd.Index(sorted(set(frame["ctct_contact_id"]))))


def test_contacts_on_the_same_set_of_lists_share_activities_and_overlapping_sets_go_list_by_list():
    same = adds([(n, list_id) for n in range(3) for list_id in (1, 2)])
    grouped = group_members(same, "list_id", None, {})
    assert grouped.by_id == {(1, 2): ["c0", "c1", "c2"]} and activity_count(grouped) == 1
    # Four contacts on four different sets of three lists: three activities list by list, not four.
    overlapping = adds([(0, 1), (0, 2), (1, 1), (1, 3), (2, 2), (2, 3), (3, 1), (3, 2), (3, 3)])
    grouped = group_members(overlapping, "list_id", None, {})
    assert sorted(grouped.by_id) == [(1,), (2,), (3,)] and activity_count(grouped) == 3


def test_more_than_50_lists_or_500_contacts_take_more_activities():
    wide = adds([(0, list_id) for list_id in range(60)])
    assert activity_count(group_members(wide, "list_id", None, {})) == 2
    many = adds([(n, 1) for n in range(1001)])
    assert activity_count(group_members(many, "list_id", None, {})) == 3


def test_existing_contacts_join_an_import_only_where_that_takes_fewer_activities():
    few = adds([(n, 1) for n in range(500)])
    grouped = group_members(few, "list_id", everyone(few), {})
    assert not grouped.imports and len(grouped.by_id[(1,)]) == 500  # one activity by id either way
    more = adds([(n, 1) for n in range(501)])
    grouped = group_members(more, "list_id", everyone(more), {})
    assert not grouped.by_id and len(grouped.imports[(1,)].by_email) == 501 and activity_count(grouped) == 1
    # An import already goes to that list (new contacts): three existing contacts ride along.
    three = adds([(n, 1) for n in range(3)])
    grouped = group_members(three, "list_id", everyone(three), {(1,): ImportSet(2, 200)})
    assert not grouped.by_id and grouped.imports[(1,)].rows == 5 and activity_count(grouped) == 1
    # …but not to another set of lists.
    grouped = group_members(three, "list_id", everyone(three), {(2,): ImportSet(2, 200)})
    assert grouped.by_id == {(1,): ["c0", "c1", "c2"]} and activity_count(grouped) == 2


def test_only_a_contact_whose_address_an_import_row_finds_as_it_is_goes_by_import():
    frame = adds([(n, 1) for n in range(4)])
    frame.loc[3, "email"] = "a" * 60 + "@acme.com"  # too long for an import row
    changes = {
        "memberships_add": frame,
        "contacts_update": pd.DataFrame({"contact_id": [2], "previous_email": ["old@acme.com"]}),
    }
    remote = pd.DataFrame(
        {
            "ctct_contact_id": ["c0", "c1", "c2", "c3"],
            # c1's address in CTCT is another one: a row by address would make a new contact.
            "email_key": ["m0@acme.com", "someone.else@acme.com", "m2@acme.com", frame.loc[3, "email"]],
        }
    )
    assert importable_contacts(changes, remote).to_dict() == {"c0": True, "c1": False, "c2": False, "c3": False}


def test_a_changed_contact_is_imported_to_its_own_list_when_another_list_is_new():
    """The CTCT list of a changed contact's membership is named by its list here: a list the push
    creates (no CTCT id yet) must not shift which CTCT id belongs to which list here."""
    changes = {
        kind: pd.DataFrame(columns=SCHEMAS[kind])
        for kind in ("memberships_add", "memberships_remove", "contacts_create")
    }
    changes["memberships_add"] = pd.DataFrame(
        {
            "list": ["New", "Linked"],
            "email": ["n1@acme.com", "n2@acme.com"],
            "list_id": [1, 2],
            "ctct_list_id": [None, "L2"],
            "contact_id": [1, 2],
            "ctct_contact_id": [None, "c2"],
        }
    )
    changes["contacts_update"] = pd.DataFrame(
        {
            "email": ["m9@acme.com"],
            "changes": ["name, company or job title changed here"],
            "first_name": ["Ann"],
            "last_name": ["Lee"],
            "job_title": [None],
            "company": ["Acme"],
            "contact_id": [9],
            "ctct_contact_id": ["c9"],
            "previous_email": [None],
        }
    )
    remote = RemoteSnapshot(
        lists=pd.DataFrame(
            {"ctct_list_id": ["L2"], "name": ["Linked"], "name_key": ["linked"], "membership_count": [1]}
        ),
        contacts=pd.DataFrame(columns=[*REMOTE_CONTACT_COLUMNS, "email_key"]),
        members=pd.DataFrame({"ctct_list_id": ["L2"], "ctct_contact_id": ["c9"]}),
    )
    sets, _ = contact_sets(changes, remote)
    # Contact 9 is on 'Linked' (list 2 here) in CTCT: its update goes to that list's import.
    assert {targets: value.rows for targets, value in sets.items()} == {(2,): 1}
