import pandas as pd
import pytest

from ctct.crm.matching import company_for_remote_contact, is_public_mailbox, match_contacts, match_lists


@pytest.mark.parametrize(
    ("company", "email", "first", "last", "expected"),
    [
        ("Acme Sports", "ann@acme.com", "Ann", "Lee", "Acme Sports"),
        (None, "ann@Example.com", "Ann", "Lee", "example.com"),
        ("  ", "ann@sub.example.co.uk", None, None, "sub.example.co.uk"),
        (None, "ann.lee@gmail.com", "Ann", "Lee", "Ann Lee"),
        (None, "ann@yahoo.co.uk", "Ann", None, "Ann"),
        (None, "zed@hotmail.fr", None, None, "zed@hotmail.fr"),
        (None, "x@icloud.com", "", " ", "x@icloud.com"),
        (float("nan"), "y@gmail.com", float("nan"), "Lee", "Lee"),  # missing values from a frame
    ],
)
def test_company_for_a_ctct_contact(company, email, first, last, expected):
    assert company_for_remote_contact(company, email, first, last) == expected


@pytest.mark.parametrize("domain", ["gmail.com", "Outlook.com", "aol.com", "yahoo.com", "gmx.de", "icloud.com"])
def test_public_mailboxes(domain):
    assert is_public_mailbox(domain)


@pytest.mark.parametrize("domain", ["acme.com", "mail.acme.com", "gmail.acme.com", "yahoo-fans.org"])
def test_company_domains_are_not_public(domain):
    assert not is_public_mailbox(domain)


def local_contacts(rows):
    return pd.DataFrame(rows, columns=["contact_id", "ctct_contact_id", "email"])


def remote_contacts(rows):
    return pd.DataFrame(rows, columns=["ctct_contact_id", "email"])


def test_contacts_match_by_ctct_id_before_email():
    local = local_contacts([(1, "c-1", "old@acme.com"), (2, None, "ann@acme.com"), (3, None, "bo@acme.com")])
    remote = remote_contacts([("c-1", "ann@acme.com"), ("c-9", "BO@Acme.com "), ("c-8", "new@acme.com")])
    matched = match_contacts(local, remote)
    assert matched["contact_id"].tolist() == [1, 3, pd.NA]
    assert matched["matched_by"].fillna("-").tolist() == ["ctct_id", "email", "-"]
    assert not matched["ambiguous"].any()


def test_a_linked_contact_is_not_matched_again_by_email():
    local = local_contacts([(1, "c-1", "ann@acme.com")])
    remote = remote_contacts([("c-2", "ann@acme.com")])
    assert match_contacts(local, remote)["contact_id"].isna().all()


def test_shared_email_takes_the_oldest_and_says_so():
    local = local_contacts([(7, None, "pat@acme.com"), (4, None, "Pat@acme.com")])
    matched = match_contacts(local, remote_contacts([("c-5", "pat@acme.com")]))
    assert matched["contact_id"].tolist() == [4] and matched["ambiguous"].tolist() == [True]


def test_emails_match_trimmed_and_ignoring_case_but_a_blank_one_matches_nothing():
    local = local_contacts([(1, None, "  "), (2, None, "İnfo@Acme.com"), (3, None, None)])
    remote = remote_contacts([("c-1", None), ("c-2", ""), ("c-3", " i̇nfo@acme.com")])
    assert match_contacts(local, remote)["contact_id"].tolist() == [pd.NA, pd.NA, 2]


def test_no_remote_contacts():
    assert match_contacts(local_contacts([(1, None, "a@b.com")]), remote_contacts([])).empty


def test_lists_match_by_ctct_id_then_name_case_insensitively():
    local = pd.DataFrame(
        [(1, "L-1", "Old Name"), (2, None, "Apparel Sports Wear"), (3, "L-3", "General Interest")],
        columns=["list_id", "ctct_list_id", "name"],
    )
    remote = pd.DataFrame(
        [("L-1", "Renamed In CTCT"), ("L-7", "apparel sports wear"), ("L-8", "General Interest"), ("L-9", "New")],
        columns=["ctct_list_id", "name"],
    )
    matched = match_lists(local, remote)
    # L-8's name equals list 3's, but list 3 is linked to L-3: no match by name.
    assert matched["list_id"].tolist() == [1, 2, pd.NA, pd.NA]
    assert matched["matched_by"].fillna("-").tolist() == ["ctct_id", "name", "-", "-"]


def test_two_remote_names_equal_but_for_case_take_one_local_list():
    local = pd.DataFrame([(2, None, "News")], columns=["list_id", "ctct_list_id", "name"])
    remote = pd.DataFrame([("L-1", "news"), ("L-2", "NEWS")], columns=["ctct_list_id", "name"])
    assert match_lists(local, remote)["list_id"].tolist() == [2, pd.NA]
