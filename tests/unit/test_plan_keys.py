"""The planner's integer keys (ctct/sync/keys.py) give exactly what the string joins they replace gave."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ctct.crm.normalize import email_keys
from ctct.sync.keys import NO_KEY, EmailCodes, fast_email_keys, is_in, pairs_in, places_in

PROPERTY = settings(max_examples=60, deadline=None)
IDS = st.sampled_from(["L1", "L2", "l1", "C1", "C2", "", None])
EMAILS = st.sampled_from(["ann@acme.com", " Ann@Acme.com ", "bo@acme.com", "İx@acme.com", "", None, "ß@x.de"])
TEXT_TYPES = st.sampled_from(["str", object])


def frame(rows: list[tuple[str | None, str | None]], dtype: object) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["a", "b"], dtype=dtype)


def merged_pairs_in(left: pd.DataFrame, right: pd.DataFrame) -> list[bool]:
    """What the planner computed before: a left merge on both columns."""
    if left.empty or right.empty:
        return [False] * len(left)
    hits = left.merge(right.drop_duplicates().assign(_hit=True), on=["a", "b"], how="left")["_hit"]
    return hits.notna().tolist()


@PROPERTY
@given(st.lists(st.tuples(IDS, IDS), max_size=8), st.lists(st.tuples(IDS, IDS), max_size=8), TEXT_TYPES, TEXT_TYPES)
def test_pairs_in_finds_the_pairs_a_merge_finds(left: list, right: list, left_type: object, right_type: object) -> None:
    left_frame, right_frame = frame(left, left_type), frame(right, right_type)
    found = pairs_in(left_frame, ["a", "b"], right_frame, ["a", "b"])
    assert found.tolist() == merged_pairs_in(left_frame, right_frame)
    assert found.index.equals(left_frame.index)


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
