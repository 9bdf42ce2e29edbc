"""The Customer Focus side of a commit: a pull or an import, applied in one database transaction.

This is the only module that changes Customer Focus from a plan — its lists, companies, contacts
and memberships — and the journal records it as one step, before and after: the transaction either
commits whole or leaves Customer Focus as it was, so there is nothing in between to record. It is
apart from the push (ctct/sync/push.py, which changes CTCT) because it speaks only SQL, and the
push only HTTP; the push stores here, through `link_contacts`, only the CTCT ids it linked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ctct.crm.normalize import company_name_key, email_keys, name_key
from ctct.db import Database, insert_ignoring_duplicates
from ctct.db.models import Company, Contact, EmailList, EmailStatus, ListMembership, utcnow
from ctct.sync import journal
from ctct.sync.outcome import Outcome
from ctct.sync.plan import Plan

# The fields a pull fills in where Customer Focus has none (it never overwrites one).
FILLABLE = ("first_name", "last_name", "job_title")


def clip(value: Any, length: int = 50) -> str | None:
    """A text as a Customer Focus field holds it: cut to the column's length; no text is None."""
    return str(value)[:length] if isinstance(value, str) and value else None


def pull(plan: Plan, run_id: int, database: Database) -> Outcome:
    """Applies a pull or an import plan to Customer Focus, journaled as one step."""
    step = journal.journal_step(database, run_id, 1, f"apply_{plan.direction}", {"counts": plan.counts()})
    with step, database.session() as session:
        now = utcnow()
        list_ids = _pull_lists(session, plan, now)
        contact_ids = _pull_contacts(session, plan, now)
        _remove_members(session, plan["memberships_remove"])
        _add_members(session, plan["memberships_add"], list_ids, contact_ids, now)
    return Outcome()


def link_contacts(session: Session, links: pd.DataFrame) -> None:
    """Stores the CTCT id of each contact the plan matched by email (`contacts_link`)."""
    if len(links):
        session.execute(
            update(Contact),
            [
                {"id": int(c), "ctct_contact_id": str(r)}
                for c, r in zip(links["contact_id"], links["ctct_contact_id"], strict=True)
            ],
        )


# Lists


def _pull_lists(session: Session, plan: Plan, now: dt.datetime) -> dict[str, int]:
    """Deletes, renames and creates lists; returns every linked list's id by its CTCT id."""
    for row in plan["lists_delete"].itertuples():
        session.execute(delete(EmailList).where(EmailList.id == int(row.list_id)))
    _rename_lists(session, plan["lists_rename"], now)
    ids = _create_lists(session, plan["lists_create"])
    for ctct_list_id, list_id in session.execute(select(EmailList.ctct_list_id, EmailList.id)):
        if ctct_list_id:
            ids.setdefault(ctct_list_id, list_id)
    return ids


def _rename_lists(session: Session, renames: pd.DataFrame, now: dt.datetime) -> None:
    renamed = list(zip(renames["list_id"], renames["to"], strict=True))
    # Through a key no name can have first (name keys never start with a space), so that
    # names swapped or passed along in CTCT ('A' → 'B', 'B' → 'C') never meet here.
    for list_id, _ in renamed:
        session.execute(
            update(EmailList).where(EmailList.id == int(list_id)).values(name_key=f" renaming {int(list_id)}")
        )
    for list_id, new in renamed:
        session.execute(
            update(EmailList)
            .where(EmailList.id == int(list_id))
            .values(name=new, name_key=name_key(new), updated_at=now)
        )


def _create_lists(session: Session, creates: pd.DataFrame) -> dict[str, int]:
    """Creates CTCT's new lists here, or links the list here of the same name."""
    ids: dict[str, int] = {}
    for row in creates.itertuples():
        if row.link:
            session.execute(
                update(EmailList).where(EmailList.id == int(row.list_id)).values(ctct_list_id=row.ctct_list_id)
            )
            ids[row.ctct_list_id] = int(row.list_id)
        else:
            created = EmailList(name=row.name, name_key=name_key(row.name), ctct_list_id=row.ctct_list_id)
            session.add(created)
            session.flush()
            ids[row.ctct_list_id] = created.id
    return ids


# Contacts


def _pull_contacts(session: Session, plan: Plan, now: dt.datetime) -> dict[str, int]:
    """Creates, links and updates contacts; returns the new contacts' ids by their CTCT ids."""
    ids = _create_contacts(session, plan["contacts_create"], now)
    link_contacts(session, plan["contacts_link"])
    _fill_fields(session, plan["contacts_update"])
    _unsubscribe(session, plan["contacts_unsubscribed"], now)
    _resubscribe(session, plan["contacts_resubscribed"]["contact_id"])
    return ids


def _create_contacts(session: Session, new: pd.DataFrame, now: dt.datetime) -> dict[str, int]:
    if not len(new):
        return {}
    keys = new["company"].map(company_name_key)
    companies = _company_ids(session, new.assign(key=keys), now)
    records = [
        {
            "company_id": companies[key],
            "email": email,
            "email_key": email_key,
            "first_name": clip(first),
            "last_name": clip(last),
            "job_title": clip(title),
            "ctct_contact_id": ctct_id,
            "email_status": "active",
            "created_by_import": True,
            "created_at": now,
            "updated_at": now,
        }
        for key, email, email_key, first, last, title, ctct_id in zip(
            keys,
            new["email"],
            email_keys(new["email"]),
            new["first_name"],
            new["last_name"],
            new["job_title"],
            new["ctct_contact_id"],
            strict=True,
        )
    ]
    session.connection().execute(insert(Contact), records)
    wanted = set(new["ctct_contact_id"])
    created = session.execute(select(Contact.ctct_contact_id, Contact.id).where(Contact.ctct_contact_id.is_not(None)))
    return {cid: lid for cid, lid in created if cid is not None and cid in wanted}


def _company_ids(session: Session, new: pd.DataFrame, now: dt.datetime) -> dict[str, int]:
    """Company id by name key for the new contacts (`key` column), the missing companies created.
    Where two companies share a key, the oldest is the one a contact goes to (SPEC §4)."""
    oldest_last = select(Company.name_key, Company.id).order_by(Company.id.desc())
    existing = dict(session.execute(oldest_last).all())
    missing = new[~new["key"].isin(existing)].drop_duplicates("key")
    if not len(missing):
        return existing
    session.connection().execute(
        insert(Company),
        [
            {
                "name": name[:255],
                "name_key": key,
                "kind": "customer",
                "created_by_import": True,
                "created_at": now,
                "updated_at": now,
            }
            for name, key in zip(missing["company"], missing["key"], strict=True)
        ],
    )
    return dict(session.execute(oldest_last).all())


def _fill_fields(session: Session, updates: pd.DataFrame) -> None:
    """The fields CTCT has and Customer Focus has not, one executemany for all contacts."""
    fills = [
        {"contact": int(row.contact_id)}
        | {name: getattr(row, name) if isinstance(getattr(row, name), str) else None for name in FILLABLE}
        for row in updates.itertuples()
    ]
    if fills:
        # Rows of one executemany share their columns: an absent field (None) keeps the stored value.
        session.connection().execute(
            update(Contact)
            .where(Contact.id == bindparam("contact"))
            .values({name: func.coalesce(getattr(Contact, name), bindparam(name)) for name in FILLABLE}),
            fills,
        )


def _unsubscribe(session: Session, unsubscribed: pd.DataFrame, now: dt.datetime) -> None:
    if len(unsubscribed):
        session.execute(
            update(Contact),
            [
                {
                    "id": int(cid),
                    "email_status": EmailStatus.UNSUBSCRIBED,
                    "unsubscribed_at": now,
                    "unsubscribe_source": source,
                }
                for cid, source in zip(unsubscribed["contact_id"], unsubscribed["source"], strict=True)
            ],
        )


def _resubscribe(session: Session, contact_ids: pd.Series) -> None:
    if len(contact_ids):
        session.execute(
            update(Contact),
            [
                {
                    "id": int(cid),
                    "email_status": EmailStatus.ACTIVE,
                    "unsubscribed_at": None,
                    "unsubscribe_source": None,
                }
                for cid in contact_ids
            ],
        )


# Memberships


def _remove_members(session: Session, removes: pd.DataFrame) -> None:
    if len(removes):
        session.connection().execute(
            delete(ListMembership).where(
                ListMembership.list_id == bindparam("l"), ListMembership.contact_id == bindparam("c")
            ),
            [
                {"l": int(lid), "c": int(cid)}
                for lid, cid in zip(removes["list_id"], removes["contact_id"], strict=True)
            ],
        )


def _add_members(
    session: Session, adds: pd.DataFrame, list_ids: dict[str, int], contact_ids: dict[str, int], now: dt.datetime
) -> None:
    """Adds the members, the lists and contacts just created here included."""
    target_list = adds["list_id"].where(adds["list_id"].notna(), adds["ctct_list_id"].map(list_ids))
    target_contact = adds["contact_id"].where(adds["contact_id"].notna(), adds["ctct_contact_id"].map(contact_ids))
    pairs = pd.DataFrame({"list_id": target_list, "contact_id": target_contact}).dropna().astype("int64")
    pairs = pairs.drop_duplicates()
    if len(pairs):
        connection = session.connection()
        table = ListMembership.metadata.tables[ListMembership.__tablename__]
        # A member someone added here meanwhile is already there: no second row, no error.
        connection.execute(
            insert_ignoring_duplicates(connection, table),
            [
                {"list_id": int(lid), "contact_id": int(cid), "added_at": now}
                for lid, cid in zip(pairs["list_id"], pairs["contact_id"], strict=True)
            ],
        )
