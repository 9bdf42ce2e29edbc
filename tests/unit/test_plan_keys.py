"""The planner's integer keys (ctct/sync/keys.py) give exactly what the string joins they replace gave."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ctct.crm.matching import MATCHED_BY_ID, match_contacts
from ctct.crm.normalize import email_keys
from ctct.sync import plan
from ctct.sync.keys import (
    NO_KEY,
    EmailCodes,
    distinct,
    fast_email_keys,
    first_of_each,
    is_in,
    match_contact_rows,
    places_in,
    rows_in,
)
from ctct.sync.plan import PAIR_TABLE_LIMIT, _among, _lost_pairs

PROPERTY = settings(max_examples=60, deadline=None)
IDS = st.sampled_from(["L1", "L2", "l1", "C1", "C2", "", None])
EMAILS = st.sampled_from(["ann@acme.com", " Ann@Acme.com ", "bo@acme.com", "İx@acme.com", "", None, "ß@x.de"])
TEXT_TYPES = st.sampled_from(["str", object])


@PROPERTY
@given(st.lists(IDS, max_size=8), st.lists(IDS, max_size=8), TEXT_TYPES, TEXT_TYPES)
def test_is_in_agrees_with_isin_missing_values_included(
    values: list, pool: list, value_type: object, pool_type: object
) -> None:
    series = pd.Series(values, dtype=value_type, index=range(10, 10 + len(values)))
    other = pd.Series(pool, dtype=pool_type)
    assert is_in(series, other).tolist() == series.isin(other).tolist()
    assert is_in(series, other).index.equals(series.index)


@PROPERTY
@given(st.lists(EMAILS, max_size=8), TEXT_TYPES)
def test_fast_email_keys_are_email_keys(emails: list, dtype: object) -> None:
    series = pd.Series(emails, dtype=dtype)
    assert fast_email_keys(series).tolist() == email_keys(series).tolist()


def test_email_codes_give_one_code_per_key_and_none_to_a_blank() -> None:
    codes = EmailCodes.of(
        pd.Series(["Ann@acme.com", "", None]),
        pd.Series([" ann@acme.com", "bo@acme.com"], dtype="str"),
        pd.Series(["bo@acme.com", "", None], dtype=object),
    )
    assert codes.local[0] == codes.remote[0]
    assert codes.remote[1] == codes.baseline[0]
    assert codes.local[0] != codes.remote[1]
    assert list(codes.local[1:]) == [NO_KEY, NO_KEY]
    assert list(codes.baseline[1:]) == [NO_KEY, NO_KEY]
    assert list(codes.decode(codes.remote)) == ["ann@acme.com", "bo@acme.com"]


@PROPERTY
@given(st.lists(IDS, max_size=8), st.lists(IDS, max_size=4, unique=True), TEXT_TYPES)
def test_places_in_are_get_indexer(values: list, index: list, dtype: object) -> None:
    column = pd.Series(values, dtype=dtype)
    where = pd.Index([value for value in index if value is not None], dtype="str")
    assert places_in(where, column).tolist() == where.get_indexer(column).tolist()


# Row numbers and the integer matcher (issue 17: the planner on integer keys).

ROW_IDS = st.sampled_from(["c1", "c2", "c3", "C1", "", None])


@PROPERTY
@given(st.lists(ROW_IDS, max_size=8), st.lists(ROW_IDS, max_size=8), TEXT_TYPES, TEXT_TYPES)
def test_rows_in_is_the_first_row_a_merge_finds(
    values: list, pool: list, value_type: object, pool_type: object
) -> None:
    values_series, pool_series = pd.Series(values, dtype=value_type), pd.Series(pool, dtype=pool_type)
    firsts = {}
    for row, value in enumerate(pool):
        if value is not None:
            firsts.setdefault(value, row)
    expected = [firsts.get(value, -1) if value is not None else -1 for value in values]
    assert rows_in(values_series, pool_series).tolist() == expected


@PROPERTY
@given(st.lists(st.integers(0, 5), max_size=8), st.lists(st.integers(0, 5), max_size=8))
def test_rows_in_on_numbers(values: list, pool: list) -> None:
    expected = [pool.index(value) if value in pool else -1 for value in values]
    assert rows_in(pd.Series(values, dtype="int64"), pd.Series(pool, dtype="int64")).tolist() == expected


# Few addresses, many unlinked contacts: shared emails (several contacts here, one CTCT contact) come often.
FEW_EMAILS = st.sampled_from(["ann@acme.com", " Ann@Acme.com ", "bo@acme.com", "", None])
LOCAL_CONTACTS = st.lists(st.tuples(st.sampled_from(["x1", "x2", None, None]), FEW_EMAILS), max_size=7)
REMOTE_CONTACTS = st.lists(FEW_EMAILS, max_size=6)


@settings(max_examples=200, deadline=None)
@given(LOCAL_CONTACTS, REMOTE_CONTACTS, st.permutations(range(7)))
def test_match_contact_rows_is_match_contacts(local_rows: list, remote_emails: list, order: list) -> None:
    """The integer matcher picks, for every CTCT contact, the contact here `match_contacts` picks
    (by stored id, then by email, the oldest of several), and flags the same ambiguities."""
    ids = [number + 1 for number in order[: len(local_rows)]]
    local = pd.DataFrame(
        {
            "contact_id": ids,
            "ctct_contact_id": [stored for stored, _ in local_rows],
            "email": [email for _, email in local_rows],
        }
    )
    remote = pd.DataFrame(
        {"ctct_contact_id": [f"x{number + 1}" for number in range(len(remote_emails))], "email": remote_emails}
    )
    expected = match_contacts(local, remote)
    emails = EmailCodes.of(local["email"], remote["email"], pd.Series([], dtype="str"))
    stored = rows_in(local["ctct_contact_id"], remote["ctct_contact_id"])
    match = match_contact_rows(
        local["contact_id"].to_numpy(), stored, local["ctct_contact_id"].notna().to_numpy(), emails
    )
    picked = [local["contact_id"].iloc[row] if row >= 0 else None for row in match.local_of_remote]
    assert picked == [None if pd.isna(value) else value for value in expected["contact_id"]]
    assert match.ambiguous.tolist() == expected["ambiguous"].tolist()
    assert match.by_id.tolist() == expected["matched_by"].eq(MATCHED_BY_ID).tolist()


@PROPERTY
@given(st.lists(st.integers(-3, 40), max_size=30))
def test_distinct_and_first_of_each_are_numpys_unique(values: list) -> None:
    array = np.array(values, dtype=np.int64)
    assert distinct(array).tolist() == np.unique(array).tolist()
    uniques, first = first_of_each(array)
    expected_uniques, expected_first = np.unique(array, return_index=True)
    assert uniques.tolist() == expected_uniques.tolist()
    assert first.tolist() == expected_first.tolist()


@PROPERTY
@given(st.lists(IDS, max_size=10), st.lists(st.sampled_from(["L1", "L2", "l1", "C1"]), unique=True, max_size=4))
def test_places_in_reads_a_coded_column_as_its_text(values: list, index: list) -> None:
    text = pd.Series(values, dtype="str")
    coded = text.astype("category")
    assert places_in(pd.Index(index), coded).tolist() == places_in(pd.Index(index), text).tolist()


PACKED = st.lists(st.integers(0, 29), max_size=25)


@PROPERTY
@given(PACKED, PACKED, PACKED)
def test_lost_pairs_by_table_and_by_sort_agree(base: list, side: list, other: list) -> None:
    arrays = [np.array(values, dtype=np.int64) for values in (base, side, other)]
    by_table = _lost_pairs(*arrays, 30)
    by_sort = _lost_pairs(*arrays, PAIR_TABLE_LIMIT + 1)
    # The table compared a few places at a time, as a million addresses' table is.
    with mock.patch.object(plan, "TABLE_STRETCH", 7):
        by_stretches = _lost_pairs(*arrays, 30)
    expected_added = sorted(set(side) - set(base) - set(other))
    expected_removed = sorted((set(base) - set(side)) & set(other))
    expected_unsynced = sorted(set(side) - set(other))
    for found in (by_table, by_sort, by_stretches):
        assert [part.tolist() for part in found] == [expected_added, expected_removed, expected_unsynced]


@PROPERTY
@given(st.lists(st.integers(-1, 50), max_size=25), st.lists(st.integers(-1, 50), max_size=25), st.booleans())
def test_among_is_isin_without_the_none_key(values: list, pool: list, far: bool) -> None:
    """Both ways `_among` looks (a table for dense keys, a sort for far-apart ones) agree with isin;
    -1 (no key) is in nothing."""
    shift = PAIR_TABLE_LIMIT * 2 if far else 0
    values_array = np.array([value + shift if value >= 0 else -1 for value in values], dtype=np.int64)
    pool_array = np.array([value + shift if value >= 0 else -1 for value in pool], dtype=np.int64)
    expected = [value >= 0 and value in set(pool_array.tolist()) for value in values_array.tolist()]
    assert _among(values_array, pool_array).tolist() == expected


@PROPERTY
@given(st.lists(EMAILS, max_size=8), st.lists(EMAILS, max_size=8), st.lists(EMAILS, max_size=8), TEXT_TYPES)
def test_email_codes_are_a_factorize_of_the_three_columns_joined(local, remote, baseline, dtype) -> None:
    """The codes as pandas gives them for the three key columns joined (first appearance, a blank
    or missing key NO_KEY), whatever the columns' text type and chunks."""
    keyed = [email_keys(pd.Series(values, dtype=dtype)) for values in (local, remote, baseline)]
    parts = [pa.array(part, type=pa.large_string(), from_pandas=True) for part in (keyed[1][:3], keyed[1][3:])]
    keyed[1] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(parts, type=pa.large_string())), dtype="str")
    codes = EmailCodes.of_keys(*keyed)
    expected, uniques = pd.factorize(pd.concat([column.astype("str") for column in keyed], ignore_index=True))
    expected[np.isin(expected, np.flatnonzero(np.asarray(uniques == "")))] = NO_KEY
    assert [*codes.local, *codes.remote, *codes.baseline] == expected.tolist()
    assert codes.keys.tolist() == list(uniques)
    assert codes.keys.dtype == "str"
