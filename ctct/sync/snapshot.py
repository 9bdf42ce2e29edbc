"""Both sides as pandas frames: the local CRM from bulk queries, CTCT through the client.

The planner only ever sees these frames, so it stays pure: no database, no HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ctct.api.client import CtctClient
from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.contact_frame import eligibility_context
from ctct.crm.eligibility import eligibility_reasons
from ctct.crm.normalize import email_keys, name_key
from ctct.db.models import (
    BaselineContact,
    BaselineList,
    BaselineMember,
    Company,
    Contact,
    EmailList,
    EmailStatus,
    ListMembership,
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


def _frame(session: Session, query: object, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=columns)  # type: ignore[call-overload]


def local_snapshot(session: Session, role_addresses: frozenset[str]) -> LocalSnapshot:
    lists = _frame(
        session, select(EmailList.id, EmailList.name, EmailList.ctct_list_id), ["list_id", "name", "ctct_list_id"]
    )
    lists["name_key"] = lists["name"].map(name_key)
    contacts = _frame(
        session,
        select(
            Contact.id,
            Company.id,
            Company.name,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.job_title,
            Contact.email_status == EmailStatus.UNSUBSCRIBED,
            Contact.unsubscribe_source,
            Contact.ctct_contact_id,
        ).join(Company, Company.id == Contact.company_id),
        LOCAL_CONTACT_COLUMNS,
    )
    contacts["unsubscribed"] = contacts["unsubscribed"].astype(bool)
    contacts["email_key"] = email_keys(contacts["email"])
    contacts["reason"] = eligibility_reasons(contacts, eligibility_context(session, role_addresses))
    members = _frame(session, select(ListMembership.list_id, ListMembership.contact_id), ["list_id", "contact_id"])
    companies = _frame(session, select(Company.id, Company.name, Company.name_key), ["company_id", "name", "name_key"])
    return LocalSnapshot(lists, contacts, members, companies, role_addresses)


def remote_snapshot(client: CtctClient, progress: Callable[[str], None] | None = None) -> RemoteSnapshot:
    """Every CTCT list (with counts) and every contact with its memberships, 500 a page."""
    before = client.budget.used()
    taken_at = dt.datetime.now(dt.UTC).isoformat()
    list_rows = [
        (item["list_id"], item["name"], int(item.get("membership_count", 0))) for item in client.lists.iterate()
    ]
    lists = pd.DataFrame(list_rows, columns=["ctct_list_id", "name", "membership_count"])
    lists["name_key"] = lists["name"].map(name_key)
    rows, member_rows = [], []
    for count, contact in enumerate(client.contacts.iterate(status="all", include="list_memberships"), start=1):
        email = contact.get("email_address", {})
        rows.append(
            (
                contact["contact_id"],
                email.get("address", ""),
                contact.get("first_name"),
                contact.get("last_name"),
                contact.get("job_title"),
                contact.get("company_name"),
                email.get("permission_to_send"),
                email.get("opt_out_source"),
                "deleted_at" in contact,
                contact.get("updated_at"),
            )
        )
        member_rows += [(list_id, contact["contact_id"]) for list_id in contact.get("list_memberships", [])]
        if progress is not None and count % 5000 == 0:
            progress(f"{count:,} Constant Contact contacts read")
    contacts = pd.DataFrame(rows, columns=REMOTE_CONTACT_COLUMNS)
    contacts["email_key"] = email_keys(contacts["email"])
    members = pd.DataFrame(member_rows, columns=["ctct_list_id", "ctct_contact_id"])
    return RemoteSnapshot(lists, contacts, members, taken_at, client.budget.used() - before)


def load_baseline(session: Session) -> Baseline:
    return Baseline(
        lists=_frame(session, select(BaselineList.ctct_list_id, BaselineList.name), ["ctct_list_id", "name"]),
        members=_frame(
            session, select(BaselineMember.ctct_list_id, BaselineMember.email_key), ["ctct_list_id", "email_key"]
        ),
        contacts=_frame(
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
