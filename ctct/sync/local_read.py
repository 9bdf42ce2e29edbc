"""Customer Focus as a LocalSnapshot: its lists, contacts, memberships and companies, read in bulk.

Each table is read with one plain cursor (`fetchall` of tuples) into typed columns: at 100,000
contacts building a frame from SQLAlchemy's rows costs seven times the read itself. The CRM
revision is read first, in the same transaction: a change committed while the tables are read
then shows as a newer revision at the commit's stale check (a needless refusal, never a missed one).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ctct.crm.contact_frame import eligibility_context
from ctct.crm.eligibility import eligibility_reasons
from ctct.crm.normalize import email_keys, name_key
from ctct.db.models import CrmRevision, EmailStatus
from ctct.sync.snapshot import INT, LOCAL_CONTACT_COLUMNS, TEXT, LocalSnapshot, bulk_frame

_LISTS_SQL = "SELECT id, name, ctct_list_id FROM email_lists"
_CONTACTS_SQL = (
    "SELECT c.id, co.id, co.name, c.first_name, c.last_name, c.email, c.job_title, "
    f"CASE WHEN c.email_status = '{EmailStatus.UNSUBSCRIBED.value}' THEN 1 ELSE 0 END, "
    "c.unsubscribe_source, c.ctct_contact_id "
    "FROM contacts c JOIN companies co ON co.id = c.company_id"
)
_MEMBERS_SQL = "SELECT list_id, contact_id FROM list_memberships"
_COMPANIES_SQL = "SELECT id, name, name_key FROM companies"

LIST_TYPES = {"list_id": INT, "name": TEXT, "ctct_list_id": TEXT}
CONTACT_TYPES = dict(
    zip(LOCAL_CONTACT_COLUMNS, [INT, INT, TEXT, TEXT, TEXT, TEXT, TEXT, "bool", TEXT, TEXT], strict=True)
)
MEMBER_TYPES = {"list_id": INT, "contact_id": INT}
COMPANY_TYPES = {"company_id": INT, "name": TEXT, "name_key": TEXT}


def crm_revision(session: Session) -> int | None:
    """The CRM's revision: bumped by database triggers on every change to its contacts,
    companies, lists and memberships, whoever makes it. None where the counter row is missing."""
    return session.scalar(select(CrmRevision.revision).where(CrmRevision.id == 1))


def crm_frames(session: Session, role_addresses: frozenset[str]) -> LocalSnapshot:
    """Customer Focus's lists, contacts (with email keys), memberships and companies, without
    the eligibility reasons: what recording a baseline needs of it."""
    revision = crm_revision(session)
    lists = bulk_frame(session, _LISTS_SQL, LIST_TYPES)
    lists["name_key"] = pd.Series([name_key(name) for name in lists["name"]], index=lists.index, dtype=TEXT)
    contacts = bulk_frame(session, _CONTACTS_SQL, CONTACT_TYPES)
    contacts["email_key"] = email_keys(contacts["email"])
    members = bulk_frame(session, _MEMBERS_SQL, MEMBER_TYPES)
    companies = bulk_frame(session, _COMPANIES_SQL, COMPANY_TYPES)
    return LocalSnapshot(lists, contacts, members, companies, role_addresses, revision=revision)


def local_snapshot(session: Session, role_addresses: frozenset[str]) -> LocalSnapshot:
    snapshot = crm_frames(session, role_addresses)
    contacts = snapshot.contacts
    contacts["reason"] = eligibility_reasons(contacts, eligibility_context(session, role_addresses))
    return snapshot
