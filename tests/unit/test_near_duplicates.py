"""`near_duplicate_names` scores the neighbour pairs in one vectorized call; it must find exactly
what comparing the pairs one at a time finds, closest look-alike and tie-breaks included."""

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from ctct.crm.matching import NEAR_DUPLICATE_SCORE, NEIGHBOURHOOD, _sorted_orders, near_duplicate_names


def pairwise_near_duplicate_names(new: pd.DataFrame, existing: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The reference: the sorted-neighbourhood walk scoring one pair at a time."""
    if new.empty:
        return []
    candidates = pd.concat(
        [new[["name", "key"]].assign(new=True), existing[["name", "key"]].assign(new=False)]
    ).drop_duplicates("key")
    keys, names, is_new = candidates["key"].tolist(), candidates["name"].tolist(), candidates["new"].tolist()
    best: dict[int, tuple[float, int]] = {}
    orders = (sorted(range(len(keys)), key=keys.__getitem__), sorted(range(len(keys)), key=lambda i: keys[i][::-1]))
    for order in orders:
        for position, i in enumerate(order):
            for j in order[position + 1 : position + 1 + NEIGHBOURHOOD]:
                if not (is_new[i] or is_new[j]):
                    continue
                score = fuzz.ratio(keys[i], keys[j], score_cutoff=NEAR_DUPLICATE_SCORE)
                if score:
                    for first, second in ((i, j), (j, i)):
                        if is_new[first] and score > best.get(first, (0.0, -1))[0]:
                            best[first] = (score, second)
    return [
        (names[first], names[second], "also new" if is_new[second] else "already in the CRM")
        for first, (_, second) in sorted(best.items())
    ]


# Few stems and one-letter edits of them: many names within a ratio of 90 of several others,
# so closest look-alikes and ties between equally close ones are common.
STEMS = ["acme sports wear", "northwind traders", "contoso holdings", "fabrikam ltd", "tailspin toys co"]


@st.composite
def company_key(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(STEMS))
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(key)))
        letter = draw(st.sampled_from("aeiost é"))
        edit = draw(st.sampled_from(["insert", "replace", "delete"]))
        if edit == "insert":
            key = key[:position] + letter + key[position:]
        elif edit == "replace":
            key = key[:position] + letter + key[position + 1 :]
        else:
            key = key[:position] + key[position + 1 :]
    return key


def companies(keys: list[str], prefix: str) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"{prefix} {number}: {key}" for number, key in enumerate(keys)], "key": keys})


@settings(max_examples=300, deadline=None)
@given(
    new_keys=st.lists(company_key() | st.text(max_size=12), max_size=40),
    existing_keys=st.lists(company_key() | st.text(max_size=12), max_size=40),
)
def test_same_look_alikes_as_comparing_pair_by_pair(new_keys, existing_keys):
    new, existing = companies(new_keys, "new"), companies(existing_keys, "old")
    assert near_duplicate_names(new, existing) == pairwise_near_duplicate_names(new, existing)


def test_closest_look_alike_and_the_first_met_of_two_as_close():
    new = companies(["acme sports wear", "acme sport wear", "contoso"], "new")
    existing = companies(["acme sports weax", "acme sports wean", "fabrikam"], "old")
    assert near_duplicate_names(new, existing) == [
        ("new 0: acme sports wear", "new 1: acme sport wear", "also new"),
        ("new 1: acme sport wear", "new 0: acme sports wear", "also new"),
    ]
    # Without its closer twin, 93.75 to both old names: "wean" sorts next to "wear", so the walk
    # meets it first.
    assert near_duplicate_names(new.iloc[[0, 2]], existing) == [
        ("new 0: acme sports wear", "old 1: acme sports wean", "already in the CRM")
    ]


@settings(max_examples=300)
@given(st.lists(st.text(alphabet="abAZ zé\u00e9\u0301ßı\u0130-\U0001f600\u4e2d", max_size=6), min_size=1, max_size=40))
def test_the_walk_orders_are_pythons_sorted_orders_for_any_text(keys):
    forwards, backwards = _sorted_orders(keys)
    assert forwards.tolist() == sorted(range(len(keys)), key=keys.__getitem__)
    assert backwards.tolist() == sorted(range(len(keys)), key=lambda i: keys[i][::-1])
