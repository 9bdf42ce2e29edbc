"""Create, update and delete companies, contacts and marketing tags.

Every function takes an open Session and leaves the commit to the caller's transaction, so one
user action is one transaction (see `Database.session`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ctct.crm.normalize import (
    MAX_COMPANY_NAME_LENGTH,
    MAX_PERSON_FIELD_LENGTH,
    MAX_TAG_NAME_LENGTH,
    choice_problem,
    clean_text,
    company_name_key,
    email_key,
    email_problem,
    name_key,
    required_problem,
    text_problem,
)
from ctct.db.models import Company, CompanyKind, Contact, EmailList, ListMembership, MarketingTag, company_tags
from ctct.errors import InvalidInput, RecordConflict, RecordNotFound

# Each field as its messages name it, with its length limit. The CRM import checks its columns
# with these same labels and rules (ctct/crm/importer.py), so a bad value is told the same thing
# whether it is typed or imported.
CONTACT_TEXT_FIELDS = {
    "first_name": ("first name", MAX_PERSON_FIELD_LENGTH),
    "last_name": ("last name", MAX_PERSON_FIELD_LENGTH),
    "job_title": ("job title", MAX_PERSON_FIELD_LENGTH),
}
COMPANY_TEXT_FIELDS = {
    "name": ("company name", MAX_COMPANY_NAME_LENGTH),
    "phone": ("phone", 40),
    "website": ("website", 255),
}
CONTACT_EMAIL_LABEL = "email"
COMPANY_EMAIL_LABEL = "company email"
KIND_LABEL = "kind"
TAG_NAME_LABEL = "tag name"
COMPANY_KINDS = tuple(kind.value for kind in CompanyKind)


def checked_text(field: str, label: str, value: object, max_length: int) -> str | None:
    """A typed value as stored (trimmed, empty → None), or InvalidInput naming the field and,
    quoted, the value (SPEC §10)."""
    text = clean_text(value)
    problem = text_problem(text, label, max_length)
    if problem:
        raise InvalidInput(field, problem)
    return text


def required_text(field: str, label: str, value: object, max_length: int) -> str:
    """`checked_text` for a field that cannot be empty."""
    text = checked_text(field, label, value, max_length)
    if text is None:
        raise InvalidInput(field, required_problem(label))
    return text


def checked_email(value: object, field: str = CONTACT_EMAIL_LABEL) -> str | None:
    """A trimmed, syntactically valid email (None when empty), or InvalidInput naming the field,
    the value and the reason."""
    email = clean_text(value)
    problem = email_problem(email, field)
    if problem:
        raise InvalidInput(field, problem)
    return email


def parse_kind(value: object) -> CompanyKind:
    """A company kind, compared ignoring case; empty means customer."""
    text = clean_text(value)
    problem = choice_problem(text, KIND_LABEL, COMPANY_KINDS)
    if problem:
        raise InvalidInput(KIND_LABEL, problem)
    return CompanyKind(text.lower()) if text else CompanyKind.CUSTOMER


# Companies


def create_company(
    session: Session,
    name: str,
    kind: str | CompanyKind = CompanyKind.CUSTOMER,
    *,
    email: str | None = None,
    phone: str | None = None,
    website: str | None = None,
    tags: Iterable[str] = (),
    created_by_import: bool = False,
) -> Company:
    company = Company(kind=parse_kind(kind), created_by_import=created_by_import)
    _apply_company_fields(company, {"name": name, "email": email, "phone": phone, "website": website})
    company.tags = [get_tag(session, tag) for tag in tags]
    session.add(company)
    session.flush()
    return company


def _apply_company_fields(company: Company, fields: dict[str, Any]) -> None:
    for field, value in fields.items():
        if field == "email":
            company.email = checked_email(value, COMPANY_EMAIL_LABEL)
            company.email_key = email_key(company.email)
        elif field == "kind":
            company.kind = parse_kind(value)
        elif field in COMPANY_TEXT_FIELDS:
            label, max_length = COMPANY_TEXT_FIELDS[field]
            if field == "name":
                company.name = required_text(field, label, value, max_length)
                company.name_key = company_name_key(company.name)
            else:
                setattr(company, field, checked_text(field, label, value, max_length))
        else:
            raise InvalidInput(field, f"companies have no field {field!r}")


def get_company(session: Session, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None:
        raise RecordNotFound(f"no company with id {company_id}")
    return company


def company_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every company, by name: what a page offers to pick from."""
    return [(row.id, row.name) for row in session.execute(select(Company.id, Company.name).order_by(Company.name))]


@dataclass(frozen=True)
class CompanyMatches:
    """The first companies a search finds, by name, and how many it finds in all."""

    shown: dict[int, str]
    total: int


def search_companies(session: Session, search: str, limit: int) -> CompanyMatches:
    """Companies whose name holds `search` (ignoring case; "#12" or "12" also finds company 12),
    the first `limit` of them by name: a picker offers these, never all 33,000 companies."""
    needle = " ".join(search.split())
    condition: ColumnElement[bool] = func.lower(Company.name).contains(needle.lower(), autoescape=True)
    number = needle.removeprefix("#")
    if number.isdigit():
        condition = condition | (Company.id == int(number))
    counted = select(func.count(Company.id))
    query = select(Company.id, Company.name).order_by(func.lower(Company.name), Company.id).limit(limit)
    if needle:
        counted, query = counted.where(condition), query.where(condition)
    shown = {int(company_id): name for company_id, name in session.execute(query)}
    return CompanyMatches(shown=shown, total=int(session.scalar(counted) or 0))


def company_name(session: Session, company_id: object) -> str | None:
    """The name of the company with this id, or None when there is none (deleted, or no id)."""
    if not isinstance(company_id, int):
        return None
    return session.scalar(select(Company.name).where(Company.id == company_id))


def find_companies_by_name(session: Session, name: str) -> list[Company]:
    """Companies whose normalized name equals that of `name` (SPEC §4)."""
    return list(session.scalars(select(Company).where(Company.name_key == company_name_key(name))))


def update_company(session: Session, company_id: int, **fields: Any) -> Company:
    company = get_company(session, company_id)
    _apply_company_fields(company, fields)
    session.flush()
    return company


@dataclass(frozen=True)
class DeletionImpact:
    """What deleting a company or a contact takes with it here, for its confirmation and its toast.

    `lists` are the lists that lose members, `linked_lists` those of them linked to a Constant
    Contact list: only from those does the next push take the contacts off in CTCT (it deletes no
    contact there, see ctct/sync/plan.py)."""

    name: str
    contacts: int
    memberships: int
    lists: tuple[str, ...]
    linked_lists: tuple[str, ...]


def _impact(session: Session, name: str, contact_filter: ColumnElement[bool]) -> DeletionImpact:
    contacts = session.scalar(select(func.count(Contact.id)).where(contact_filter))
    per_list = session.execute(
        select(EmailList.name, EmailList.ctct_list_id, func.count())
        .join(ListMembership, ListMembership.list_id == EmailList.id)
        .join(Contact, Contact.id == ListMembership.contact_id)
        .where(contact_filter)
        .group_by(EmailList.id, EmailList.name, EmailList.ctct_list_id)
        .order_by(func.lower(EmailList.name))
    ).all()
    return DeletionImpact(
        name=name,
        contacts=int(contacts or 0),
        memberships=sum(int(count) for _, _, count in per_list),
        lists=tuple(list_name for list_name, _, _ in per_list),
        linked_lists=tuple(list_name for list_name, ctct_list_id, _ in per_list if ctct_list_id),
    )


def company_deletion_impact(session: Session, company_id: int) -> DeletionImpact:
    """What `delete_company` would delete: the company's contacts and their list memberships."""
    company = get_company(session, company_id)
    return _impact(session, company.name, Contact.company_id == company_id)


def delete_company(session: Session, company_id: int) -> DeletionImpact:
    """Deletes the company with its contacts (and so their list memberships); returns what went."""
    impact = company_deletion_impact(session, company_id)
    session.delete(get_company(session, company_id))
    session.flush()
    return impact


# Contacts


def describe_contact(contact: Contact, *, with_email: bool = True) -> str:
    """A contact as messages name it: "Ann Lee (#12, ann@acme.com) of Acme". The id tells two
    people of the same name apart; the email comes last in the brackets so that nothing sticks to
    it when a page shows it as code (ctct/ui/text.py)."""
    name = contact.full_name or "a contact with no name"
    email = f", {contact.email}" if with_email and contact.email else ""
    return f"{name} (#{contact.id}{email}) of {contact.company.name}"


def _refuse_shared_email(session: Session, email: str | None, contact_id: int | None) -> None:
    """SPEC §3: a new email that another contact already has is refused at entry, naming that
    contact. Contacts sharing one (the demo's pair, or data from before this rule) stay as they are:
    only a change of email is checked."""
    key = email_key(email)
    if key is None:
        return
    query = select(Contact).where(Contact.email_key == key)
    if contact_id is not None:
        query = query.where(Contact.id != contact_id)
    holder = session.scalars(query.order_by(Contact.id).limit(1)).first()
    if holder is not None:
        raise RecordConflict(
            f"email {email!r} already belongs to {describe_contact(holder, with_email=False)}: two contacts "
            "cannot share an email — use another one, or edit or delete that contact"
        )


def _apply_contact_fields(session: Session, contact: Contact, fields: dict[str, Any]) -> None:
    for field, value in fields.items():
        if field == "email":
            email = checked_email(value)
            if email_key(email) != contact.email_key:
                _refuse_shared_email(session, email, contact.id)
            contact.email = email
            contact.email_key = email_key(email)
        elif field in CONTACT_TEXT_FIELDS:
            label, max_length = CONTACT_TEXT_FIELDS[field]
            setattr(contact, field, checked_text(field, label, value, max_length))
        else:
            raise InvalidInput(field, f"contacts have no editable field {field!r}")


def create_contact(
    session: Session,
    company_id: int,
    *,
    email: str | None,
    first_name: str | None = None,
    last_name: str | None = None,
    job_title: str | None = None,
    created_by_import: bool = False,
) -> Contact:
    get_company(session, company_id)
    contact = Contact(company_id=company_id, created_by_import=created_by_import)
    _apply_contact_fields(
        session,
        contact,
        {
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "job_title": job_title,
        },
    )
    session.add(contact)
    session.flush()
    return contact


def get_contact(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise RecordNotFound(f"no contact with id {contact_id}")
    return contact


def find_contacts_by_email(session: Session, email: str) -> list[Contact]:
    return list(session.scalars(select(Contact).where(Contact.email_key == email_key(email)).order_by(Contact.id)))


def update_contact(session: Session, contact_id: int, **fields: Any) -> Contact:
    """Edits name, job title or email; a bad value raises InvalidInput and nothing changes."""
    contact = get_contact(session, contact_id)
    _apply_contact_fields(session, contact, fields)
    session.flush()
    return contact


def contact_deletion_impact(session: Session, contact_id: int) -> DeletionImpact:
    """What `delete_contact` would delete: the contact and its list memberships."""
    contact = get_contact(session, contact_id)
    return _impact(session, describe_contact(contact), Contact.id == contact_id)


def delete_contact(session: Session, contact_id: int) -> DeletionImpact:
    """Deletes the contact with its list memberships; returns what went."""
    impact = contact_deletion_impact(session, contact_id)
    session.delete(get_contact(session, contact_id))
    session.flush()
    return impact


# Marketing tags


def _checked_tag_name(name: object) -> str:
    return required_text("tag", TAG_NAME_LABEL, name, MAX_TAG_NAME_LENGTH)


def find_tag(session: Session, name: str) -> MarketingTag | None:
    return session.scalar(select(MarketingTag).where(MarketingTag.name_key == name_key(name)))


def get_tag(session: Session, name: str) -> MarketingTag:
    tag = find_tag(session, name)
    if tag is None:
        raise RecordNotFound(f"no marketing tag named {name!r}")
    return tag


def create_tag(session: Session, name: str) -> MarketingTag:
    text = _checked_tag_name(name)
    if find_tag(session, text) is not None:
        raise RecordConflict(f"a marketing tag named {text!r} already exists")
    tag = MarketingTag(name=text, name_key=name_key(text))
    session.add(tag)
    session.flush()
    return tag


def rename_tag(session: Session, old_name: str, new_name: str) -> MarketingTag:
    tag = get_tag(session, old_name)
    text = _checked_tag_name(new_name)
    clash = find_tag(session, text)
    if clash is not None and clash.id != tag.id:
        raise RecordConflict(f"a marketing tag named {text!r} already exists")
    tag.name, tag.name_key = text, name_key(text)
    session.flush()
    return tag


def delete_tag(session: Session, name: str) -> int:
    """Deletes the tag, taking it off every company that carries it; returns how many did."""
    tag = get_tag(session, name)
    carried_by = len(tag_companies(session, tag.name))
    session.delete(tag)
    session.flush()
    return carried_by


def list_tags(session: Session) -> list[MarketingTag]:
    return list(session.scalars(select(MarketingTag).order_by(func.lower(MarketingTag.name))))


def tag_usage(session: Session) -> list[tuple[str, int]]:
    """Every tag with how many companies carry it, in one query."""
    query = (
        select(MarketingTag.name, func.count(company_tags.c.company_id))
        .outerjoin(company_tags, company_tags.c.tag_id == MarketingTag.id)
        .group_by(MarketingTag.id, MarketingTag.name)
        .order_by(func.lower(MarketingTag.name))
    )
    return [(name, int(count)) for name, count in session.execute(query)]


@dataclass(frozen=True)
class TagCompanies:
    """A marketing tag and the companies that carry it, by name."""

    tag: str
    companies: tuple[str, ...]


def tags_with_companies(session: Session) -> list[TagCompanies]:
    """Every tag with the names of the companies carrying it (none for an unused tag), tags by
    name: one query, since a page shows them all at once."""
    query = (
        select(MarketingTag.id, MarketingTag.name, Company.name)
        .outerjoin(company_tags, company_tags.c.tag_id == MarketingTag.id)
        .outerjoin(Company, Company.id == company_tags.c.company_id)
        .order_by(func.lower(MarketingTag.name), MarketingTag.id, func.lower(Company.name), Company.id)
    )
    grouped: dict[int, tuple[str, list[str]]] = {}
    for tag_id, tag_name, company_name in session.execute(query):
        names = grouped.setdefault(tag_id, (tag_name, []))[1]
        if company_name is not None:
            names.append(company_name)
    return [TagCompanies(tag=tag_name, companies=tuple(names)) for tag_name, names in grouped.values()]


def tag_companies(session: Session, name: str) -> list[tuple[int, str]]:
    """(id, name) of the companies carrying the tag, by name: what the tag can be taken off."""
    tag = get_tag(session, name)
    query = (
        select(Company.id, Company.name)
        .join(company_tags, company_tags.c.company_id == Company.id)
        .where(company_tags.c.tag_id == tag.id)
        .order_by(func.lower(Company.name), Company.id)
    )
    return [(company_id, company_name) for company_id, company_name in session.execute(query)]


def assign_tags(session: Session, company_id: int, tag_names: Iterable[str]) -> Company:
    company = get_company(session, company_id)
    for tag in (get_tag(session, name) for name in tag_names):
        if tag not in company.tags:
            company.tags.append(tag)
    session.flush()
    return company


def unassign_tags(session: Session, company_id: int, tag_names: Iterable[str]) -> Company:
    company = get_company(session, company_id)
    removed = {get_tag(session, name).id for name in tag_names}
    company.tags = [tag for tag in company.tags if tag.id not in removed]
    session.flush()
    return company
