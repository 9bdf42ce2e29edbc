"""The two sides and their agreed baseline as pandas frames: the shapes the planner reads.

ctct/sync/local_read.py fills a LocalSnapshot from Customer Focus, ctct/sync/remote_read.py a
RemoteSnapshot from CTCT; the planner only ever sees these frames, so it stays pure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.db.models import (
    BaselineContact,
    BaselineList,
    BaselineMember,
)

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


@dataclass
class LocalSnapshot:
    lists: pd.DataFrame  # list_id, name, name_key, ctct_list_id
    contacts: pd.DataFrame  # LOCAL_CONTACT_COLUMNS + email_key, reason
    members: pd.DataFrame  # list_id, contact_id
    companies: pd.DataFrame  # company_id, name, name_key
    # The role-address local parts the eligibility rule refuses (configurable, SPEC §3).
    role_addresses: frozenset[str] = frozenset(DEFAULT_ROLE_ADDRESSES)

    @property
    def fingerprint(self) -> str:
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


def query_frame(session: Session, query: object, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=columns)  # type: ignore[call-overload]


def load_baseline(session: Session) -> Baseline:
    return Baseline(
        lists=query_frame(session, select(BaselineList.ctct_list_id, BaselineList.name), ["ctct_list_id", "name"]),
        members=query_frame(
            session, select(BaselineMember.ctct_list_id, BaselineMember.email_key), ["ctct_list_id", "email_key"]
        ),
        contacts=query_frame(
            session,
            select(
                BaselineContact.email_key,
                BaselineContact.first_name,
                BaselineContact.last_name,
                BaselineContact.company_name,
                BaselineContact.job_title,
            ),
            ["email_key", "first_name", "last_name", "company_name", "job_title"],
        ),
    )
