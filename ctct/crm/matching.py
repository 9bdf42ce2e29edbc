"""Matching CTCT records to local ones (SPEC §4), vectorized over snapshots.

Contacts: the stored CTCT contact id first, then the email (trimmed, case-insensitive).
Lists: the stored CTCT list id first, then the exact name, case-insensitive.
A CTCT contact without a company name belongs to the company named after its email's domain,
unless that is a public mailbox domain; then its full name, else its email.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from ctct.crm.normalize import email_keys, name_key

PUBLIC_MAILBOX_DOMAINS = frozenset(
    {
        "aol.com",
        "att.net",
        "comcast.net",
        "fastmail.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.net",
        "hey.com",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "rocketmail.com",
        "sbcglobal.net",
        "verizon.net",
        "ymail.com",
        "zoho.com",
    }
)
# Providers with a domain per country (yahoo.co.uk, hotmail.fr, gmx.de, …).
_PUBLIC_MAILBOX_FAMILIES = re.compile(
    r"(yahoo|hotmail|outlook|live|gmx|yandex|web|t-online|orange|free|libero)\.[a-z.]+"
)

NEAR_DUPLICATE_SCORE = 90
NEIGHBOURHOOD = 6
MATCHED_BY_ID = "ctct_id"
MATCHED_BY_EMAIL = "email"
MATCHED_BY_NAME = "name"


def is_public_mailbox(domain: str) -> bool:
    domain = domain.strip().lower()
    return domain in PUBLIC_MAILBOX_DOMAINS or _PUBLIC_MAILBOX_FAMILIES.fullmatch(domain) is not None


def company_for_remote_contact(
    company_name: str | None, email: str, first_name: str | None = None, last_name: str | None = None
) -> str:
    """The company a CTCT contact belongs to locally (SPEC §4)."""
    if isinstance(company_name, str) and company_name.strip():
        return company_name.strip()
    domain = email.strip().rpartition("@")[2].lower()
    if domain and not is_public_mailbox(domain):
        return domain
    full_name = " ".join(part.strip() for part in (first_name, last_name) if isinstance(part, str) and part.strip())
    return full_name or email.strip()


def match_contacts(local: pd.DataFrame, remote: pd.DataFrame) -> pd.DataFrame:
    """For each remote contact, the local contact it is (or None) and how it was matched.

    `local` has `contact_id`, `ctct_contact_id`, `email`; `remote` has `ctct_contact_id`, `email`.
    Returns `remote` with `contact_id`, `matched_by` and `ambiguous` added. A local contact is
    matched at most once: one linked by id is not matched again by email. When an email belongs
    to several unlinked local contacts, the oldest is taken and `ambiguous` is set, so callers
    can warn (SPEC §3 rule 5).
    """
    result = remote.copy()
    result["contact_id"] = pd.Series(pd.NA, index=result.index, dtype="Int64")
    result["matched_by"] = pd.Series(None, index=result.index, dtype=object)
    result["ambiguous"] = False
    if result.empty:
        return result

    linked = local.dropna(subset=["ctct_contact_id"]).drop_duplicates("ctct_contact_id")
    by_id = result["ctct_contact_id"].map(linked.set_index("ctct_contact_id")["contact_id"])
    has_id = by_id.notna()
    result.loc[has_id, "contact_id"] = by_id[has_id].astype("int64")
    result.loc[has_id, "matched_by"] = MATCHED_BY_ID

    taken = set(by_id[has_id].astype("int64"))
    candidates = local[local["email"].notna() & ~local["contact_id"].isin(taken) & local["ctct_contact_id"].isna()]
    candidates = candidates.assign(email_key=email_keys(candidates["email"])).sort_values("contact_id")
    # A blank email (key "") is no address: it matches nothing, not even another blank one.
    candidates = candidates[candidates["email_key"] != ""]
    per_key = candidates.groupby("email_key")["contact_id"].agg(["first", "size"])
    remote_keys = email_keys(result["email"])
    open_rows = ~has_id & remote_keys.isin(per_key.index)
    result.loc[open_rows, "contact_id"] = remote_keys[open_rows].map(per_key["first"]).astype("int64")
    result.loc[open_rows, "matched_by"] = MATCHED_BY_EMAIL
    result.loc[open_rows, "ambiguous"] = remote_keys[open_rows].map(per_key["size"]) > 1
    return result


def match_lists(local: pd.DataFrame, remote: pd.DataFrame) -> pd.DataFrame:
    """For each remote list, the local list it is (or None): stored CTCT id first, then name.

    `local` has `list_id`, `ctct_list_id`, `name`; `remote` has `ctct_list_id`, `name`. A local
    list linked to another CTCT list is never matched by name.
    """
    result = remote.copy()
    result["list_id"] = pd.Series(pd.NA, index=result.index, dtype="Int64")
    result["matched_by"] = pd.Series(None, index=result.index, dtype=object)
    if result.empty:
        return result
    linked = local.dropna(subset=["ctct_list_id"])
    by_id = result["ctct_list_id"].map(linked.set_index("ctct_list_id")["list_id"])
    has_id = by_id.notna()
    result.loc[has_id, "list_id"] = by_id[has_id].astype("int64")
    result.loc[has_id, "matched_by"] = MATCHED_BY_ID

    unlinked = local[local["ctct_list_id"].isna()]
    by_name = unlinked.assign(key=unlinked["name"].map(name_key)).drop_duplicates("key").set_index("key")["list_id"]
    remote_keys = result["name"].map(name_key)
    open_rows = ~has_id & remote_keys.isin(by_name.index)
    # Should CTCT ever hold two names equal but for case, only the first takes the local list.
    open_rows &= ~(open_rows & remote_keys.duplicated(keep="first"))
    result.loc[open_rows, "list_id"] = remote_keys[open_rows].map(by_name).astype("int64")
    result.loc[open_rows, "matched_by"] = MATCHED_BY_NAME
    return result


def _sorted_orders(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers of `keys` in sorted order, spelled forwards and then backwards: `sorted`'s
    orders (UTF-8's byte order is the code points' order; Arrow's sort is stable too), without a
    Python comparison per pair of the hundreds of thousands of names a CRM holds."""
    text = pa.array(keys, type=pa.large_string())
    forwards = pc.sort_indices(text).to_numpy().astype(np.intp)
    backwards = pc.sort_indices(pc.utf8_reverse(text)).to_numpy().astype(np.intp)
    return forwards, backwards


def near_duplicate_names(new: pd.DataFrame, existing: pd.DataFrame) -> list[tuple[str, str, str]]:
    """New company names that look like another (fuzzy ratio ≥ 90 on the keys, not equal).

    `new` and `existing` have `name` and `key` (the normalized name). Comparing every pair is
    quadratic, so names are compared with their neighbours in sorted order, once spelled forwards
    and once backwards (the sorted-neighbourhood method): a typo anywhere in a name keeps it next
    to its twin in one of the two orders. One result per new name — its closest look-alike, and of
    equally close ones the first the walk down the orders meets — as (new name, look-alike,
    "also new" | "already in the CRM").
    """
    if new.empty:
        return []
    candidates = pd.concat(
        [new[["name", "key"]].assign(new=True), existing[["name", "key"]].assign(new=False)]
    ).drop_duplicates("key")
    keys, names = candidates["key"].tolist(), candidates["name"].tolist()
    is_new = candidates["new"].to_numpy(dtype=bool)
    key_array = np.array(keys, dtype=object)
    orders = _sorted_orders(keys)
    # The neighbour pairs at one distance in one order are scored in one vectorized call. Each
    # look-alike pair is kept with its step in the walk (order, position, distance), in both
    # directions: the first name's candidate look-alike is the second.
    firsts, seconds, scores, steps = [], [], [], []
    for order_number, walk in enumerate(orders):
        for distance in range(1, NEIGHBOURHOOD + 1):
            positions = np.flatnonzero(is_new[walk[:-distance]] | is_new[walk[distance:]])
            left, right = walk[positions], walk[positions + distance]
            pair_scores = process.cpdist(
                key_array[left].tolist(),
                key_array[right].tolist(),
                scorer=fuzz.ratio,
                score_cutoff=NEAR_DUPLICATE_SCORE,
                dtype=np.float64,
            )
            alike = np.flatnonzero(pair_scores)
            step = (order_number * len(keys) + positions[alike]) * (NEIGHBOURHOOD + 1) + distance
            firsts += [left[alike], right[alike]]
            seconds += [right[alike], left[alike]]
            scores += [pair_scores[alike]] * 2
            steps += [step] * 2
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    score, step = np.concatenate(scores), np.concatenate(steps)
    wanted = is_new[first]
    first, second, score, step = first[wanted], second[wanted], score[wanted], step[wanted]
    # Per new name its highest score, and of equal scores the earliest step.
    ranked = np.lexsort((step, -score, first))
    closest = ranked[np.r_[True, first[ranked][1:] != first[ranked][:-1]]] if len(ranked) else ranked
    return [
        (names[i], names[j], "also new" if is_new[j] else "already in the CRM")
        for i, j in zip(first[closest].tolist(), second[closest].tolist(), strict=True)
    ]
