"""The planner's keys as integers: emails, CTCT contact ids and list ids coded once per plan.

Joins, anti-joins and semi-joins on a million (list, email) pairs cost seconds as strings and a
fraction of that as int64: each key is coded once (one factorize over every side that holds it),
pairs are packed into one int64, and only the rows that end in a frame or a warning are turned
back into text. Equal strings get equal codes, so every look-up finds exactly the rows the string
join found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ctct.crm.normalize import email_key, email_keys

# The code of a key that joins nothing (a blank email, a missing list id where it never matches).
NO_KEY = -1


def fast_email_keys(emails: pd.Series) -> pd.Series:
    """`email_keys`, without its trip through Python objects for a column of text: the same
    kernels (strip, lower) on the same text, the same per-row verdict for non-ASCII addresses."""
    if not isinstance(emails.dtype, pd.StringDtype):
        return email_keys(emails)
    text = emails.fillna("").astype(str)
    keys = text.str.strip().str.lower()
    non_ascii = ~text.str.isascii()
    if non_ascii.any():
        keys[non_ascii] = [email_key(email) or "" for email in text[non_ascii]]
    return keys


def hand_back_arrow_memory() -> None:
    """Returns to the system what Arrow's memory pool holds freed: a factorize or look-up of
    millions of keys leaves hundreds of MB there that the numpy arrays that follow cannot use."""
    pa.default_memory_pool().release_unused()


def is_in(values: pd.Series, pool: pd.Series) -> pd.Series:
    """`values.isin(pool)`, through pyarrow's hash kernel for text: pandas' isin on pyarrow
    strings builds a Python object per value of the pool."""
    if not (_is_text(values) and _is_text(pool)):
        return values.isin(pool)
    found = pc.is_in(_arrow(values), value_set=_arrow(pool).unique(), skip_nulls=True)
    result = pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)
    # Whether None matches NaN is pandas' call (it depends on both dtypes): asked for the few missing.
    missing = values.isna()
    if missing.any():
        result[missing] = values[missing].isin(pool)
    return result


def _is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype) or (
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    )


def _arrow(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    # A column of pandas' own text type hands over its pyarrow data without a copy.
    if isinstance(series.dtype, pd.StringDtype):
        return pa.array(series.array).cast(pa.large_string())
    return pa.array(series, type=pa.large_string(), from_pandas=True)


def places_in(index: pd.Index, column: pd.Series) -> np.ndarray:
    """`index.get_indexer(column)` (-1 where a value is not in it), for a long column of few
    distinct values: each distinct value looked up once (a text index converts every value)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        # A column coded already (the planner's own member frames): its categories looked up once.
        codes, places = column.cat.codes.to_numpy(), index.get_indexer(column.cat.categories)
        return np.where(codes >= 0, places[codes] if len(places) else -1, -1)
    codes, uniques = pd.factorize(column)
    places = index.get_indexer(uniques)
    return np.where(codes >= 0, places[codes] if len(places) else -1, -1)


@dataclass(frozen=True)
class EmailCodes:
    """Every email key of one plan as an int64 code: the contacts here, CTCT's contacts and the
    baseline's members. A blank key (no address) and a missing one are `NO_KEY`: they join nothing."""

    keys: pd.Series  # the key of each code
    local: np.ndarray  # the code of each row of the local contacts
    remote: np.ndarray  # the code of each row of CTCT's contacts
    baseline: np.ndarray  # the code of each row of the baseline's members

    @classmethod
    def of(cls, local_emails: pd.Series, remote_emails: pd.Series, baseline_keys: pd.Series) -> EmailCodes:
        """Codes of the keys of the emails here and in CTCT, and of the baseline's stored keys."""
        return cls.of_keys(fast_email_keys(local_emails), fast_email_keys(remote_emails), baseline_keys)

    @classmethod
    def of_keys(cls, local_keys: pd.Series, remote_keys: pd.Series, baseline_keys: pd.Series) -> EmailCodes:
        """Codes of email keys already worked out (the snapshots' `email_key` columns)."""
        keyed = [local_keys, remote_keys, baseline_keys]
        # One hash table over the three columns as chunks of one array: no four-million-row copy
        # of them joined. Codes in order of first appearance, as a factorize of the joined keys.
        chunks = [chunk for column in keyed for chunk in _chunks(_arrow(column.astype("str")))]
        encoded = pa.chunked_array(chunks, type=pa.large_string()).dictionary_encode()
        codes = np.concatenate(
            [chunk.indices.fill_null(NO_KEY).to_numpy(zero_copy_only=False) for chunk in encoded.chunks]
            or [np.zeros(0, dtype=np.int32)]
        ).astype(np.int32, copy=False)
        dictionary = encoded.chunks[0].dictionary if encoded.num_chunks else pa.array([], pa.large_string())
        uniques = pd.Series(pd.arrays.ArrowStringArray(dictionary), dtype="str")
        del encoded
        blank = np.flatnonzero(np.asarray(uniques == ""))
        if blank.size:
            codes[codes == blank[0]] = NO_KEY
        local, remote, baseline = np.split(codes, np.cumsum([len(column) for column in keyed])[:-1])
        hand_back_arrow_memory()
        return cls(uniques, local, remote, baseline)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return self.keys.iloc[codes].to_numpy()


def rows_in(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """For each value, the row of `pool` that holds it (the first, should it hold it twice), or -1
    where none does or the value is missing: a join's row numbers, without building the join."""
    missing = values.isna().to_numpy()
    if _is_text(values) and _is_text(pool):
        found = pc.index_in(_arrow(values), value_set=_arrow(pool), skip_nulls=True)
        rows = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        del found
        hand_back_arrow_memory()
    else:
        first = ~pool.duplicated().to_numpy()
        places = pd.Index(pool.to_numpy()[first]).get_indexer(values.to_numpy())
        rows = np.where(places >= 0, np.flatnonzero(first)[places] if first.any() else -1, -1)
    rows[missing] = -1
    return rows


def rows_in_each(columns: list[pd.Series], pool: pd.Series) -> list[np.ndarray]:
    """`rows_in(column, pool)` for each of `columns`, with one hash table of `pool` for all of
    them (building it is most of a look-up's cost when the pool is as long as the values)."""
    if not (all(_is_text(column) for column in columns) and _is_text(pool)):
        return [rows_in(column, pool) for column in columns]
    chunks = [_chunks(_arrow(column)) for column in columns]
    found = pc.index_in(
        pa.chunked_array([c for each in chunks for c in each], type=pa.large_string()),
        value_set=_arrow(pool),
        skip_nulls=True,
    )
    rows = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    del found
    hand_back_arrow_memory()
    parts = np.split(rows, np.cumsum([len(column) for column in columns])[:-1])
    for part, column in zip(parts, columns, strict=True):
        part[column.isna().to_numpy()] = -1
    return parts


def _chunks(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(values.chunks) if isinstance(values, pa.ChunkedArray) else [values]


def distinct(values: np.ndarray) -> np.ndarray:
    """`np.unique` of int64 values, by a sort (numpy 2's hashing unique is ten times slower here)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def first_of_each(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_index=True)` by a stable sort: each distinct value, sorted, and
    where it first stands."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, dtype=bool)
    return ordered[starts], order[starts]


@dataclass(frozen=True)
class ContactMatch:
    """Who is who across the two sides, in row numbers: `match_contacts`' rule on int64 codes."""

    local_of_remote: np.ndarray  # per CTCT contact row: the row of the contact here it is, or -1
    by_id: np.ndarray  # per CTCT contact row: matched by the CTCT id stored here (else by email)
    ambiguous: np.ndarray  # per CTCT contact row: its email belongs to several unlinked contacts here

    def remote_of_local(self, local_count: int) -> np.ndarray:
        """Per contact row here, the first CTCT contact row matched to it, or -1."""
        remote_rows = np.flatnonzero(self.local_of_remote >= 0)
        local_rows = self.local_of_remote[remote_rows]
        result = np.full(local_count, -1, dtype=np.int64)
        # Assigned from the last to the first, so the first CTCT row of each contact here stays.
        result[local_rows[::-1]] = remote_rows[::-1]
        return result


def match_contact_rows(
    contact_ids: np.ndarray, stored_rows: np.ndarray, has_stored_id: np.ndarray, emails: EmailCodes
) -> ContactMatch:
    """`ctct.crm.matching.match_contacts` on codes: `contact_ids` of the contacts here, the CTCT
    row of each one's stored CTCT id (`stored_rows`, -1 where CTCT lacks it), whether it has one,
    and the plan's email codes. The stored id first (the first contact here holding an id takes
    it); then, for contacts here without a stored id, the email: the oldest contact of a key."""
    remote_count = len(emails.remote)
    local_of_remote = np.full(remote_count, -1, dtype=np.int64)
    linked = np.flatnonzero(stored_rows >= 0)
    linked_remote, first = first_of_each(stored_rows[linked])
    local_of_remote[linked_remote] = linked[first]
    by_id = local_of_remote >= 0
    candidates = np.flatnonzero(~has_stored_id & (emails.local >= 0))
    candidates = candidates[np.lexsort((contact_ids[candidates], emails.local[candidates]))]
    codes = emails.local[candidates]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, dtype=np.int64)
    oldest = np.full(len(emails.keys) + 1, -1, dtype=np.int64)
    sharing = np.zeros(len(emails.keys) + 1, dtype=np.int64)
    oldest[codes[starts]] = candidates[starts]
    sharing[codes[starts]] = np.diff(np.r_[starts, len(codes)])
    remote_codes = np.where(emails.remote >= 0, emails.remote, len(emails.keys))
    open_rows = ~by_id & (oldest[remote_codes] >= 0)
    local_of_remote[open_rows] = oldest[remote_codes[open_rows]]
    ambiguous = open_rows & (sharing[remote_codes] > 1)
    return ContactMatch(local_of_remote, by_id, ambiguous)
