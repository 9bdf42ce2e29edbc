"""The full read of CTCT through contact exports gives exactly what the paged read gives, costs the
same few requests however many contacts there are, and steps aside (None) when CTCT will not do it."""

import math

import pandas as pd
import pytest

from ctct.api.contacts import CreatedRange
from ctct.api.exports import column_name
from ctct.sandbox import exports as sandbox_exports
from ctct.sync.remote_export import (
    export_pays_off,
    export_read_requests,
    exported_remote_contacts,
    paged_read_requests,
)
from ctct.sync.remote_full import full_remote_read, paged_frames

NAMES = [
    ("Zoë", "Ångström"),
    ('Ann "the, first"', "O'Brien, Jr."),
    ("Line\nbreak", "Müller"),
    ("李", "小龙"),
    (" spaced ", "trailing, comma,"),
]


def seed(sandbox, clock, contacts=5):
    """Contacts on several lists, among them deleted, unsubscribed (by the contact and by the account),
    one without an email address, one with no name, and a list nobody is on."""
    account = sandbox.accounts["demo"]
    now = clock()
    first, second = account.create_list("Customers, VIP", now), account.create_list("Prospects", now)
    account.create_list("Empty", now)
    for n in range(contacts):
        contact = account.new_contact(f"Person.{n}@Example.com", now + n, "Account", "implicit")
        contact.first_name, contact.last_name = NAMES[n % len(NAMES)]
        contact.company_name = "Acme, Inc." if n % 2 else None
        contact.job_title = 'Chef "de" cuisine' if n % 3 == 0 else None
        account.add_membership(contact, first.list_id)
        if n % 2:
            account.add_membership(contact, second.list_id)
    gone = account.new_contact("gone@example.com", now, "Account", "explicit")
    account.add_membership(gone, first.list_id)
    account.delete_contact(gone, now)
    for source in ("Contact", "Account"):
        out = account.new_contact(f"out.{source}@example.com", now, "Contact", "explicit")
        account.add_membership(out, second.list_id)
        account.unsubscribe(out, source, now, reason='too many, "emails"')
    nameless = account.new_contact("nameless@example.com", now, "Account", "implicit")
    account.add_membership(nameless, second.list_id)
    no_email = account.new_contact(None, now, "Contact", "not_set")
    no_email.first_name = "Only a name"
    return account


def by_id(frame, *keys):
    return frame.sort_values(list(keys)).reset_index(drop=True)


def test_the_export_read_equals_the_paged_read(sandbox, clock, active_client):
    seed(sandbox, clock)
    paged = full_remote_read(active_client)
    exported = exported_remote_contacts(active_client)
    assert exported is not None
    contacts, members = exported
    assert list(contacts.columns) == list(paged.contacts.columns)
    pd.testing.assert_frame_equal(by_id(contacts, "ctct_contact_id"), by_id(paged.contacts, "ctct_contact_id"))
    pd.testing.assert_frame_equal(
        by_id(members, "ctct_list_id", "ctct_contact_id"), by_id(paged.members, "ctct_list_id", "ctct_contact_id")
    )
    assert contacts["deleted"].sum() == 1 and (contacts["permission"] == "unsubscribed").sum() == 2
    assert set(contacts["first_name"].dropna()) >= {"Line\nbreak", 'Ann "the, first"', "李"}


def test_the_export_read_costs_the_same_requests_for_ten_or_a_thousand_contacts(sandbox, clock, active_client):
    account = seed(sandbox, clock, contacts=10)
    before = active_client.budget.used()
    assert exported_remote_contacts(active_client) is not None
    small = active_client.budget.used() - before
    now = clock()
    for n in range(1_200):
        account.new_contact(f"more.{n}@example.com", now, "Account", "implicit")
    before = active_client.budget.used()
    assert exported_remote_contacts(active_client) is not None
    large = active_client.budget.used() - before
    paged_before = active_client.budget.used()
    full_remote_read(active_client)
    paged = active_client.budget.used() - paged_before
    # 6 exports (everyone, the deleted, 4 lists with General Interest): 6 submits, 6 files, the lists
    # page, and the polls of one batch (each poll one `GET /activities` for all of them).
    assert large == small <= 6 + 6 + 1 + 5
    assert paged > 3  # the paged read grows with the contacts: 1,200+ contacts are 3+ pages


def test_no_contact_id_column_means_the_caller_pages(sandbox, clock, active_client, monkeypatch):
    seed(sandbox, clock)
    # A CTCT that refuses the field (400), as an account without it would.
    monkeypatch.delitem(sandbox_exports.EXPORT_FIELDS, "contact_id")
    assert exported_remote_contacts(active_client) is None


def test_a_header_without_contact_id_means_the_caller_pages(sandbox, clock, active_client, monkeypatch):
    seed(sandbox, clock)
    # A CTCT that takes the field but writes no such column: the header is checked, not trusted.
    monkeypatch.setitem(sandbox_exports.EXPORT_FIELDS, "contact_id", sandbox_exports.EXPORT_FIELDS["email_address"])
    original = sandbox_exports.export_csv

    def renamed(contacts, fields, names):
        text, count = original(contacts, fields, names)
        return text.replace("contact_id", "Contact Number", 1), count

    monkeypatch.setattr("ctct.sandbox.model.export_csv", renamed)
    assert exported_remote_contacts(active_client) is None


def test_a_failed_export_means_the_caller_pages(sandbox, clock, active_client):
    seed(sandbox, clock)
    sandbox.faults.fail_next_activity = True
    assert exported_remote_contacts(active_client) is None


@pytest.mark.parametrize("permission", ["Subscribed", "opted out"])
def test_permission_words_the_api_does_not_use_mean_the_caller_pages(
    sandbox, clock, active_client, monkeypatch, permission
):
    seed(sandbox, clock)
    monkeypatch.setitem(sandbox_exports.EXPORT_FIELDS, "email_permission", lambda contact, names: permission)
    assert exported_remote_contacts(active_client) is None


def test_header_labels_instead_of_field_names_read_the_same(sandbox, clock, active_client, monkeypatch):
    seed(sandbox, clock)
    original = sandbox_exports.export_csv

    def labelled(contacts, fields, names):
        text, count = original(contacts, fields, names)
        header, rest = text.split("\r\n", 1)
        return ",".join(name.replace("_", " ").title() for name in header.split(",")) + "\r\n" + rest, count

    monkeypatch.setattr("ctct.sandbox.model.export_csv", labelled)
    paged = full_remote_read(active_client)
    exported = exported_remote_contacts(active_client)
    assert exported is not None
    pd.testing.assert_frame_equal(by_id(exported[0], "ctct_contact_id"), by_id(paged.contacts, "ctct_contact_id"))


def test_the_cheaper_read_is_chosen_by_its_request_count():
    assert export_read_requests(11) < paged_read_requests(20_000, 11)
    assert not export_pays_off(20_000, 51) and export_pays_off(100_000, 51) and export_pays_off(1_000_000, 51)
    assert not export_pays_off(1_000, 1)


def test_header_cells_read_as_field_names():
    assert column_name("\ufeffEmail Address") == column_name(" email_address ") == "email_address"
    assert column_name("Email  Optout Source") == "email_optout_source"


def test_a_full_read_of_a_large_account_goes_through_exports_and_equals_the_paged_read(sandbox, clock, active_client):
    """Where exports take fewer requests, the full read uses them: same frames, fewer requests."""
    account = seed(sandbox, clock)
    now = clock()
    lists = [item["list_id"] for item in active_client.lists.iterate()]
    count = 0
    while not export_pays_off(count, len(lists)):
        count += 500
    for n in range(count):
        contact = account.new_contact(f"many.{n}@example.com", now + n, "Account", "implicit")
        account.add_membership(contact, lists[n % len(lists)])
    before = active_client.budget.used()
    read = full_remote_read(active_client)
    requests = active_client.budget.used() - before
    paged_contacts, paged_members = paged_frames(
        active_client.contacts.read_ranges([CreatedRange()], include="list_memberships")
    )
    assert requests < math.ceil(len(paged_contacts) / 500)  # fewer than the paged read's contact pages alone
    pd.testing.assert_frame_equal(by_id(read.contacts, "ctct_contact_id"), by_id(paged_contacts, "ctct_contact_id"))
    pd.testing.assert_frame_equal(
        by_id(read.members, "ctct_list_id", "ctct_contact_id"),
        by_id(paged_members, "ctct_list_id", "ctct_contact_id"),
    )
    assert len(read.contacts) == count + 10
