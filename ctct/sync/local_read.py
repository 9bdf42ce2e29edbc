"""Customer Focus as a LocalSnapshot: its lists, contacts, memberships and companies, read in bulk."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ctct.crm.contact_frame import eligibility_context
from ctct.crm.eligibility import eligibility_reasons
from ctct.crm.normalize import email_keys, name_key
from ctct.db.models import Company, Contact, EmailList, EmailStatus, ListMembership
from ctct.sync.snapshot import LOCAL_CONTACT_COLUMNS, LocalSnapshot, query_frame


def local_snapshot(session: Session, role_addresses: frozenset[str]) -> LocalSnapshot:
    lists = query_frame(
        session, select(EmailList.id, EmailList.name, EmailList.ctct_list_id), ["list_id", "name", "ctct_list_id"]
    )
    lists["name_key"] = lists["name"].map(name_key)
    contacts = query_frame(
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
    members = query_frame(session, select(ListMembership.list_id, ListMembership.contact_id), ["list_id", "contact_id"])
    companies = query_frame(
        session, select(Company.id, Company.name, Company.name_key), ["company_id", "name", "name_key"]
    )
    return LocalSnapshot(lists, contacts, members, companies, role_addresses)
