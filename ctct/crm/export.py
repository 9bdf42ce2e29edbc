"""The whole CRM and its lists as plain data (CLI `export --json`)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ctct.db.models import (
    Company,
    Contact,
    EmailList,
    ListMembership,
    MarketingTag,
    company_tags,
)


def _frame(session: Session, query: Any, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=columns)


def companies_frame(session: Session) -> pd.DataFrame:
    """Every company with its kind, general email, marketing tags (a list) and whether an import made it."""
    companies = _frame(
        session,
        select(
            Company.id,
            Company.name,
            Company.kind,
            Company.email,
            Company.created_by_import,
        ).order_by(Company.id),
        ["id", "name", "kind", "email", "created_by_import"],
    )
    tags = _frame(
        session,
        select(company_tags.c.company_id, MarketingTag.name)
        .join(MarketingTag, MarketingTag.id == company_tags.c.tag_id)
        .order_by(MarketingTag.name),
        ["company_id", "tag"],
    )
    tags_of = tags.groupby("company_id")["tag"].agg(list).to_dict()
    return pd.DataFrame(
        {
            "name": companies["name"],
            "kind": companies["kind"].map(lambda kind: getattr(kind, "value", kind)),
            "email": companies["email"].astype(object).where(companies["email"].notna(), None),
            "tags": [tags_of.get(company_id, []) for company_id in companies["id"]],
            "created_by_import": companies["created_by_import"].astype(bool),
        }
    )


def export_data(session: Session) -> dict[str, list[dict[str, Any]]]:
    contacts = _frame(
        session,
        select(
            Company.name,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.job_title,
            Contact.email_status,
            Contact.ctct_contact_id,
        )
        .join(Company)
        .order_by(Contact.id),
        [
            "company",
            "first_name",
            "last_name",
            "email",
            "job_title",
            "status",
            "ctct_contact_id",
        ],
    )
    contacts["status"] = contacts["status"].map(lambda status: getattr(status, "value", status))
    members = _frame(
        session,
        select(ListMembership.list_id, Contact.email)
        .join(Contact, Contact.id == ListMembership.contact_id)
        .order_by(Contact.email_key),
        ["list_id", "email"],
    )
    members_of = members.groupby("list_id")["email"].agg(list).to_dict()
    lists = session.execute(select(EmailList.id, EmailList.name, EmailList.ctct_list_id).order_by(EmailList.name_key))
    return {
        "companies": companies_frame(session).to_dict("records"),
        "contacts": contacts.astype(object).where(contacts.notna(), None).to_dict("records"),
        "lists": [
            {
                "name": name,
                "ctct_list_id": ctct_list_id,
                "members": members_of.get(list_id, []),
            }
            for list_id, name, ctct_list_id in lists
        ],
    }
