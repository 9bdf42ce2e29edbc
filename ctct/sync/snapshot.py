"""The two sides and their agreed baseline as pandas frames: the shapes the planner reads.

ctct/sync/local_read.py fills a LocalSnapshot from Customer Focus, ctct/sync/remote_read.py a
RemoteSnapshot from CTCT; the planner only ever sees these frames, so it stays pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy.orm import Session

from ctct.config import DEFAULT_ROLE_ADDRESSES

INT = "int64"
TEXT = pd.StringDtype(na_value=float("nan"))  # pandas' default `str`: a missing value is NaN
# Values as the driver gives them (None for missing): the frames of CTCT's side, as its JSON gives them.
OBJECT = object

LOCAL_CONTACT_COLUMNS = [
    "contact_id",
    "company_id",
    "company",
    "first_name",
    "last_name",
    "email",
    "job_title",
    "unsubscribed",
    "unsubscribe_source",
    "ctct_contact_id",
]
REMOTE_CONTACT_COLUMNS = [
    "ctct_contact_id",
    "email",
    "first_name",
    "last_name",
    "job_title",
    "company_name",
    "permission",
    "opt_out_source",
    "deleted",
    "updated_at",
]


def _fingerprint(*frames: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        for name in frame.columns:
            column = frame[name]
            # Hashed column by column, without turning a million rows into strings first.
            if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
                column = column.fillna("").astype(str)
            digest.update(pd.util.hash_pandas_object(column, index=False).values.tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]


REVISION_PREFIX = "revision "


def revision_fingerprint(revision: int) -> str:
    return f"{REVISION_PREFIX}{revision}"


@dataclass
class LocalSnapshot:
    lists: pd.DataFrame  # list_id, name, name_key, ctct_list_id
    contacts: pd.DataFrame  # LOCAL_CONTACT_COLUMNS + email_key, reason
    members: pd.DataFrame  # list_id, contact_id
    companies: pd.DataFrame  # company_id, name, name_key
    # The role-address local parts the eligibility rule refuses (configurable, SPEC §3).
    role_addresses: frozenset[str] = frozenset(DEFAULT_ROLE_ADDRESSES)
    # The CRM revision the frames were read at (see ctct/sync/local_read.py), when known.
    revision: int | None = None

    @property
    def fingerprint(self) -> str:
        """What the commit's stale check compares: the CRM revision the snapshot was read at —
        one SELECT to check again — or, for a snapshot without one, a hash of its frames."""
        if self.revision is not None:
            return revision_fingerprint(self.revision)
        return self.content_fingerprint

    @property
    def content_fingerprint(self) -> str:
        contacts = self.contacts[
            [
                "contact_id",
                "email",
                "first_name",
                "last_name",
                "job_title",
                "company",
                "unsubscribed",
                "ctct_contact_id",
            ]
        ]
        return _fingerprint(
            self.lists.sort_values("list_id"),
            contacts.sort_values("contact_id"),
            self.members.sort_values(["list_id", "contact_id"]),
        )


@dataclass
class RemoteSnapshot:
    lists: pd.DataFrame  # ctct_list_id, name, name_key, membership_count
    contacts: pd.DataFrame  # REMOTE_CONTACT_COLUMNS + email_key
    members: pd.DataFrame  # ctct_list_id, ctct_contact_id
    taken_at: str = ""
    requests: int = 0
    # `updated_after` from which CTCT's changes may not be in this snapshot (None: unknown, the
    # newest `updated_at` it holds stands in).
    changes_after: str | None = None

    @property
    def lists_fingerprint(self) -> str:
        return _fingerprint(self.lists[["ctct_list_id", "name", "membership_count"]].sort_values("ctct_list_id"))


@dataclass
class Baseline:
    lists: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["ctct_list_id", "name"]))
    members: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["ctct_list_id", "email_key"]))
    contacts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["email_key", "first_name", "last_name", "company_name", "job_title"]
        )
    )

    @property
    def empty(self) -> bool:
        return self.lists.empty


def _typed_column(values: Sequence[Any], dtype: Any) -> pd.Series:
    """One column of a cursor's rows as `dtype`: text through one pyarrow array (pandas' `str`
    holds it as is), numbers and flags through numpy, without a Python object per value."""
    if dtype is TEXT:
        return pd.Series(pa.array(values, type=pa.large_string()), dtype=TEXT)
    if dtype is OBJECT:
        return pd.Series(values, dtype=object)
    return pd.Series(np.fromiter(values, dtype=dtype, count=len(values)))


def bulk_frame(session: Session, sql: str, types: dict[str, Any]) -> pd.DataFrame:
    """The rows of `sql` (plain SQL, no parameters) as a frame with one column per entry of
    `types`, of that dtype (INT, TEXT, OBJECT or "bool"), read with the session's own connection and
    transaction through a plain DB-API cursor."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        rows: Sequence[tuple[Any, ...]] = cursor.fetchall()
    finally:
        cursor.close()
    # Column by column (`zip(*rows)` would unpack every row as an argument: ten times slower).
    return pd.DataFrame(
        {
            name: _typed_column(list(map(itemgetter(position), rows)), dtype)
            for position, (name, dtype) in enumerate(types.items())
        }
    )


_BASELINE_LISTS_SQL = "SELECT ctct_list_id, name FROM sync_baseline_lists"
_BASELINE_MEMBERS_SQL = "SELECT ctct_list_id, email_key FROM sync_baseline_members"
_BASELINE_CONTACTS_SQL = "SELECT email_key, first_name, last_name, company_name, job_title FROM sync_baseline_contacts"


def load_baseline(session: Session) -> Baseline:
    return Baseline(
        lists=bulk_frame(session, _BASELINE_LISTS_SQL, dict.fromkeys(["ctct_list_id", "name"], TEXT)),
        members=bulk_frame(session, _BASELINE_MEMBERS_SQL, dict.fromkeys(["ctct_list_id", "email_key"], TEXT)),
        contacts=bulk_frame(
            session,
            _BASELINE_CONTACTS_SQL,
            dict.fromkeys(["email_key", "first_name", "last_name", "company_name", "job_title"], TEXT),
        ),
    )
