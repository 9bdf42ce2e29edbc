"""Email lists and their members, sized for autosave: one call per user action (SPEC §6)."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, delete, exists, func, insert, or_, select
from sqlalchemy.orm import Session

from ctct import display
from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.eligibility import EligibilityContext, eligibility_reasons
from ctct.crm.normalize import (
    MAX_LIST_NAME_LENGTH,
    clean_text,
    email_key,
    name_key,
    text_problem,
)
from ctct.crm.services import get_tag
from ctct.db.models import (
    Company,
    CompanyKind,
    Contact,
    EmailList,
    EmailStatus,
    ListMembership,
    MarketingTag,
    company_tags,
)
from ctct.errors import Conflict, IneligibleContacts, InvalidInput, NotFound


class ContactType(enum.StrEnum):
    ALL = "all"
    CUSTOMER = "customer"
    PROSPECT = "prospect"


@dataclass(frozen=True)
class ContactFilter:
    """The grid's filter: contact type, marketing tags (any of them) and free-text search."""

    contact_type: ContactType = ContactType.ALL
    tags: tuple[str, ...] = ()
    search: str = ""


@dataclass
class AddResult:
    added: int = 0
    already_members: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    list_name: str = ""

    def __repr__(self) -> str:
        skipped = "".join(f"; skipped {count:,}: {reason}" for reason, count in sorted(self.skipped.items()))
        return (
            f"<{self.added:,} contact(s) added to {self.list_name or 'the list'!r}, "
            f"{self.already_members:,} already members{skipped}>"
        )

    def _repr_html_(self) -> str:
        return display.card(
            display.heading(f"{self.added:,} contact(s) added to {self.list_name or 'the list'}"),
            display.counts_table(
                [("added", self.added), ("already members", self.already_members)]
                + [(f"skipped: {reason}", count) for reason, count in sorted(self.skipped.items())],
                ("", "contacts"),
            ),
        )


# Lists


def _checked_list_name(name: object) -> str:
    text = clean_text(name)
    if not text:
        raise InvalidInput("name", "list name is required")
    problem = text_problem(text, "list name", MAX_LIST_NAME_LENGTH)
    if problem:
        raise InvalidInput("name", problem)
    return text


def find_list(session: Session, name: str) -> EmailList | None:
    return session.scalar(select(EmailList).where(EmailList.name_key == name_key(name)))


def get_list(session: Session, name: str) -> EmailList:
    email_list = find_list(session, name)
    if email_list is None:
        raise NotFound(f"no email list named {name!r}")
    return email_list


def all_lists(session: Session) -> list[tuple[EmailList, int]]:
    """Every list with its member count, by name."""
    counts = select(ListMembership.list_id, func.count().label("members")).group_by(ListMembership.list_id).subquery()
    rows = session.execute(
        select(EmailList, func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.list_id == EmailList.id)
        .order_by(EmailList.name_key)
    )
    return [(email_list, int(members)) for email_list, members in rows]


def create_list(session: Session, name: str) -> EmailList:
    text = _checked_list_name(name)
    if find_list(session, text) is not None:
        raise Conflict(f"an email list named {text!r} already exists")
    email_list = EmailList(name=text, name_key=name_key(text))
    session.add(email_list)
    session.flush()
    return email_list


def rename_list(session: Session, old_name: str, new_name: str) -> EmailList:
    email_list = get_list(session, old_name)
    text = _checked_list_name(new_name)
    clash = find_list(session, text)
    if clash is not None and clash.id != email_list.id:
        raise Conflict(f"an email list named {text!r} already exists")
    email_list.name, email_list.name_key = text, name_key(text)
    session.flush()
    return email_list


def delete_list(session: Session, name: str) -> None:
    session.delete(get_list(session, name))
    session.flush()


# Eligibility and the contact grid


def eligibility_context(session: Session, role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES) -> EligibilityContext:
    company_emails = session.scalars(select(Company.email_key).where(Company.email_key.is_not(None)))
    shared = session.execute(
        select(Contact.email_key, func.count())
        .where(Contact.email_key.is_not(None))
        .group_by(Contact.email_key)
        .having(func.count() > 1)
    )
    return EligibilityContext(
        company_emails=frozenset(company_emails),
        email_counts={key: int(count) for key, count in shared},
        role_addresses=frozenset(role_addresses),
    )


def _filtered_contacts(contact_filter: ContactFilter, session: Session) -> Select:
    query = select(
        Contact.id.label("contact_id"),
        Company.id.label("company_id"),
        Company.name.label("company"),
        Company.kind.label("company_kind"),
        Contact.first_name,
        Contact.last_name,
        Contact.email,
        Contact.job_title,
        (Contact.email_status == EmailStatus.UNSUBSCRIBED).label("unsubscribed"),
    ).join(Company, Contact.company_id == Company.id)
    if contact_filter.contact_type != ContactType.ALL:
        query = query.where(Company.kind == CompanyKind(contact_filter.contact_type.value))
    if contact_filter.tags:
        tag_ids = [get_tag(session, tag).id for tag in contact_filter.tags]
        query = query.where(
            exists().where(
                and_(
                    company_tags.c.company_id == Company.id,
                    company_tags.c.tag_id.in_(tag_ids),
                )
            )
        )
    search = contact_filter.search.strip().lower()
    if search:
        pattern = f"%{search}%"
        query = query.where(
            or_(
                func.lower(Company.name).like(pattern),
                func.lower(Contact.first_name).like(pattern),
                func.lower(Contact.last_name).like(pattern),
                Contact.email_key.like(pattern),
                func.lower(Contact.job_title).like(pattern),
            )
        )
    return query.order_by(
        func.lower(Company.name),
        Company.id,
        Contact.last_name,
        Contact.first_name,
        Contact.id,
    )


def contacts_frame(
    session: Session,
    contact_filter: ContactFilter = ContactFilter(),
    *,
    email_list: EmailList | None = None,
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
) -> pd.DataFrame:
    """The grid's rows for a filter: contact fields, tags, `ineligible_reason` and `member`."""
    rows = session.execute(_filtered_contacts(contact_filter, session)).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "contact_id",
            "company_id",
            "company",
            "company_kind",
            "first_name",
            "last_name",
            "email",
            "job_title",
            "unsubscribed",
        ],
    )
    frame["company_kind"] = frame["company_kind"].map(lambda kind: getattr(kind, "value", kind))
    frame["tags"] = frame["company_id"].map(_tags_by_company(session)).fillna("")
    frame["ineligible_reason"] = eligibility_reasons(frame, eligibility_context(session, role_addresses))
    frame["eligible"] = frame["ineligible_reason"].isna()
    if email_list is not None:
        members = set(session.scalars(select(ListMembership.contact_id).where(ListMembership.list_id == email_list.id)))
        frame["member"] = frame["contact_id"].isin(members)
    return frame


def crm_version(session: Session) -> tuple[Any, ...]:
    """Changes whenever a contact, company, tag or tag assignment changes: the key for caching the
    contact frame between reruns (memberships are read fresh every time), and what an import plan
    checks before it is committed."""
    contacts = session.execute(select(func.count(), func.max(Contact.updated_at), func.sum(Contact.id))).one()
    companies = session.execute(select(func.count(), func.max(Company.updated_at))).one()
    tags = session.execute(select(func.count(), func.sum(company_tags.c.tag_id * 7 + company_tags.c.company_id))).one()
    # Tags are few: every name counts, so renaming any of them is a change.
    names = session.execute(select(MarketingTag.id, MarketingTag.name).order_by(MarketingTag.id)).all()
    tag_names = hashlib.sha256("\n".join(f"{tag_id}:{name}" for tag_id, name in names).encode()).hexdigest()
    return (*contacts, *companies, *tags, tag_names)


def filter_contacts(session: Session, frame: pd.DataFrame, contact_filter: ContactFilter) -> pd.DataFrame:
    """`contacts_frame(session)` narrowed to a filter in memory — the same rows the SQL filter gives."""
    chosen = frame
    if contact_filter.contact_type != ContactType.ALL:
        chosen = chosen[chosen["company_kind"] == contact_filter.contact_type.value]
    if contact_filter.tags:
        tag_ids = [get_tag(session, tag).id for tag in contact_filter.tags]
        tagged = set(session.scalars(select(company_tags.c.company_id).where(company_tags.c.tag_id.in_(tag_ids))))
        chosen = chosen[chosen["company_id"].isin(tagged)]
    needle = contact_filter.search.strip().lower()
    if needle:
        text = chosen[["company", "first_name", "last_name", "email", "job_title"]].fillna("").astype(str)
        hit = text.apply(lambda column: column.str.lower().str.contains(needle, regex=False)).any(axis=1)
        chosen = chosen[hit]
    return chosen


def with_members(session: Session, frame: pd.DataFrame, email_list: EmailList) -> pd.DataFrame:
    members = set(session.scalars(select(ListMembership.contact_id).where(ListMembership.list_id == email_list.id)))
    return frame.assign(member=frame["contact_id"].isin(members))


def _tags_by_company(session: Session) -> dict[int, str]:
    rows = session.execute(
        select(company_tags.c.company_id, MarketingTag.name)
        .join(MarketingTag, MarketingTag.id == company_tags.c.tag_id)
        .order_by(MarketingTag.name)
    ).all()
    if not rows:
        return {}
    pairs = pd.DataFrame(rows, columns=["company_id", "tag"])
    return pairs.groupby("company_id")["tag"].agg("; ".join).to_dict()


# Members


def _insert_members(session: Session, email_list: EmailList, contact_ids: Sequence[int]) -> tuple[int, int]:
    existing = set(session.scalars(select(ListMembership.contact_id).where(ListMembership.list_id == email_list.id)))
    new_ids = [contact_id for contact_id in dict.fromkeys(contact_ids) if contact_id not in existing]
    if new_ids:
        session.connection().execute(
            insert(ListMembership.__table__),
            [{"list_id": email_list.id, "contact_id": cid} for cid in new_ids],
        )
    return len(new_ids), len(contact_ids) - len(new_ids)


# Databases cap the bound parameters of one statement (SQLite 32,766, PostgreSQL 65,535).
IN_CHUNK = 10_000


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield list(values[start : start + IN_CHUNK])


def _contacts_where(session: Session, column: Any, values: Sequence[Any]) -> pd.DataFrame:
    """Contacts whose `column` is one of `values`, with what eligibility needs."""
    query = select(Contact.id, Contact.email, Contact.email_key, Contact.email_status)
    rows = [row for chunk in _chunks(values) for row in session.execute(query.where(column.in_(chunk)))]
    frame = pd.DataFrame(rows, columns=["contact_id", "email", "email_key", "status"])
    frame["unsubscribed"] = frame["status"] == EmailStatus.UNSUBSCRIBED
    return frame


def add_members(
    session: Session,
    list_name: str,
    emails: Sequence[str],
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
) -> AddResult:
    """Adds the contacts with these emails; any unknown or ineligible one refuses them all."""
    email_list = get_list(session, list_name)
    found = _contacts_where(session, Contact.email_key, sorted({email_key(email) or "" for email in emails}))
    found["reason"] = eligibility_reasons(found, eligibility_context(session, role_addresses))
    known = set(found["email_key"])
    refused = [(email, "no contact has this email") for email in emails if email_key(email) not in known]
    refused += [(row.email, row.reason) for row in found.itertuples() if row.reason is not None]
    if refused:
        raise IneligibleContacts(refused)
    added, already = _insert_members(session, email_list, found["contact_id"].tolist())
    return AddResult(added=added, already_members=already, list_name=email_list.name)


def add_contacts(
    session: Session,
    list_name: str,
    contact_ids: Sequence[int],
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
) -> AddResult:
    """Adds contacts picked by id (a grid row's checkbox); ineligible ones refuse them all."""
    email_list = get_list(session, list_name)
    found = _contacts_where(session, Contact.id, sorted(set(contact_ids)))
    found["reason"] = eligibility_reasons(found, eligibility_context(session, role_addresses))
    missing = set(contact_ids) - set(found["contact_id"])
    refused = [(f"contact {contact_id}", "no such contact") for contact_id in sorted(missing)]
    refused += [(row.email or f"contact {row.contact_id}", row.reason) for row in found.itertuples() if row.reason]
    if refused:
        raise IneligibleContacts(refused)
    added, already = _insert_members(session, email_list, list(contact_ids))
    return AddResult(added=added, already_members=already, list_name=email_list.name)


def add_matching(
    session: Session,
    list_name: str,
    contact_filter: ContactFilter,
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
) -> AddResult:
    """ "Select all": adds every eligible contact matching the filter, counting the rest by reason."""
    email_list = get_list(session, list_name)
    frame = contacts_frame(session, contact_filter, role_addresses=role_addresses)
    eligible = frame[frame["eligible"]]
    added, already = _insert_members(session, email_list, eligible["contact_id"].tolist())
    skipped = frame.loc[~frame["eligible"], "ineligible_reason"].value_counts().to_dict()
    return AddResult(
        added=added,
        already_members=already,
        skipped={str(k): int(v) for k, v in skipped.items()},
        list_name=email_list.name,
    )


def remove_matching(session: Session, list_name: str, contact_filter: ContactFilter) -> int:
    """Un-"select all": removes every member matching the filter, eligible or not."""
    frame = contacts_frame(session, contact_filter, email_list=get_list(session, list_name))
    return remove_contacts(session, list_name, frame.loc[frame["member"], "contact_id"].astype(int).tolist())


def remove_members(session: Session, list_name: str, emails: Sequence[str]) -> int:
    """Removes the contacts with these emails; an email that is not a member is an error."""
    email_list = get_list(session, list_name)
    keys = {email_key(email) or "" for email in emails}
    query = (
        select(Contact.id, Contact.email_key)
        .join(ListMembership, ListMembership.contact_id == Contact.id)
        .where(ListMembership.list_id == email_list.id)
    )
    member_rows = [
        row for chunk in _chunks(sorted(keys)) for row in session.execute(query.where(Contact.email_key.in_(chunk)))
    ]
    missing = keys - {key for _, key in member_rows}
    if missing:
        raise NotFound(f"not members of {email_list.name!r}: {', '.join(sorted(k or '' for k in missing))}")
    return remove_contacts(session, list_name, [contact_id for contact_id, _ in member_rows])


def remove_contacts(session: Session, list_name: str, contact_ids: Sequence[int]) -> int:
    email_list = get_list(session, list_name)
    removed = 0
    for chunk in _chunks(sorted(set(contact_ids))):
        result = session.execute(
            delete(ListMembership).where(ListMembership.list_id == email_list.id, ListMembership.contact_id.in_(chunk))
        )
        removed += int(result.rowcount or 0)
    return removed


def member_emails(session: Session, email_list: EmailList) -> list[str]:
    return list(
        session.scalars(
            select(Contact.email)
            .join(ListMembership, ListMembership.contact_id == Contact.id)
            .where(ListMembership.list_id == email_list.id)
            .order_by(Contact.email_key)
        )
    )
