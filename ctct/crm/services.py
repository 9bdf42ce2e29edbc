"""Create, update and delete companies, contacts and marketing tags.

Every function takes an open Session and leaves the commit to the caller's transaction, so one
user action is one transaction (see `Database.session`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ctct.crm.normalize import (
    MAX_COMPANY_NAME_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_PERSON_FIELD_LENGTH,
    MAX_TAG_NAME_LENGTH,
    clean_text,
    company_name_key,
    email_key,
    email_syntax_error,
    name_key,
    text_problem,
)
from ctct.db.models import Company, CompanyKind, Contact, MarketingTag, company_tags
from ctct.errors import Conflict, InvalidInput, NotFound

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


def _checked_text(field: str, label: str, value: object, max_length: int) -> str | None:
    text = clean_text(value)
    problem = text_problem(text, label, max_length)
    if problem:
        raise InvalidInput(field, problem)
    return text


def checked_email(value: object, field: str = "email", *, required: bool = False) -> str | None:
    """A trimmed, syntactically valid email, or InvalidInput naming the field and the reason."""
    email = clean_text(value)
    if email is None:
        if required:
            raise InvalidInput(field, f"{field} is required")
        return None
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput(field, f"{field} is longer than {MAX_EMAIL_LENGTH} characters")
    problem = text_problem(email, field, MAX_EMAIL_LENGTH)
    if problem:
        raise InvalidInput(field, problem)
    syntax = email_syntax_error(email)
    if syntax:
        raise InvalidInput(field, f"{field} {email!r} is not valid: {syntax}")
    return email


def parse_kind(value: object) -> CompanyKind:
    text = (clean_text(value) or "customer").lower()
    try:
        return CompanyKind(text)
    except ValueError:
        raise InvalidInput("kind", f"kind must be 'customer' or 'prospect', not {text!r}") from None


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
            company.email = checked_email(value, "company email")
            company.email_key = email_key(company.email)
        elif field == "kind":
            company.kind = parse_kind(value)
        elif field in COMPANY_TEXT_FIELDS:
            label, max_length = COMPANY_TEXT_FIELDS[field]
            text = _checked_text(field, label, value, max_length)
            if field == "name":
                if not text:
                    raise InvalidInput("name", "company name is required")
                company.name_key = company_name_key(text)
            setattr(company, field, text)
        else:
            raise InvalidInput(field, f"companies have no field {field!r}")


def get_company(session: Session, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound(f"no company with id {company_id}")
    return company


def company_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every company, by name: what a page offers to pick from."""
    return [(row.id, row.name) for row in session.execute(select(Company.id, Company.name).order_by(Company.name))]


def find_companies_by_name(session: Session, name: str) -> list[Company]:
    """Companies whose normalized name equals that of `name` (SPEC §4)."""
    return list(session.scalars(select(Company).where(Company.name_key == company_name_key(name))))


def update_company(session: Session, company_id: int, **fields: Any) -> Company:
    company = get_company(session, company_id)
    _apply_company_fields(company, fields)
    session.flush()
    return company


def delete_company(session: Session, company_id: int) -> None:
    """Deletes the company with its contacts (and so their list memberships)."""
    session.delete(get_company(session, company_id))
    session.flush()


# Contacts


def _apply_contact_fields(contact: Contact, fields: dict[str, Any]) -> None:
    for field, value in fields.items():
        if field == "email":
            contact.email = checked_email(value)
            contact.email_key = email_key(contact.email)
        elif field in CONTACT_TEXT_FIELDS:
            label, max_length = CONTACT_TEXT_FIELDS[field]
            setattr(contact, field, _checked_text(field, label, value, max_length))
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
        raise NotFound(f"no contact with id {contact_id}")
    return contact


def find_contacts_by_email(session: Session, email: str) -> list[Contact]:
    return list(session.scalars(select(Contact).where(Contact.email_key == email_key(email)).order_by(Contact.id)))


def update_contact(session: Session, contact_id: int, **fields: Any) -> Contact:
    """Edits name, job title or email; a bad value raises InvalidInput and nothing changes."""
    contact = get_contact(session, contact_id)
    _apply_contact_fields(contact, fields)
    session.flush()
    return contact


def delete_contact(session: Session, contact_id: int) -> None:
    session.delete(get_contact(session, contact_id))
    session.flush()


# Marketing tags


def _checked_tag_name(name: object) -> str:
    text = _checked_text("tag", "tag name", name, MAX_TAG_NAME_LENGTH)
    if not text:
        raise InvalidInput("tag", "tag name is required")
    return text


def find_tag(session: Session, name: str) -> MarketingTag | None:
    return session.scalar(select(MarketingTag).where(MarketingTag.name_key == name_key(name)))


def get_tag(session: Session, name: str) -> MarketingTag:
    tag = find_tag(session, name)
    if tag is None:
        raise NotFound(f"no marketing tag named {name!r}")
    return tag


def create_tag(session: Session, name: str) -> MarketingTag:
    text = _checked_tag_name(name)
    if find_tag(session, text) is not None:
        raise Conflict(f"a marketing tag named {text!r} already exists")
    tag = MarketingTag(name=text, name_key=name_key(text))
    session.add(tag)
    session.flush()
    return tag


def rename_tag(session: Session, old_name: str, new_name: str) -> MarketingTag:
    tag = get_tag(session, old_name)
    text = _checked_tag_name(new_name)
    clash = find_tag(session, text)
    if clash is not None and clash.id != tag.id:
        raise Conflict(f"a marketing tag named {text!r} already exists")
    tag.name, tag.name_key = text, name_key(text)
    session.flush()
    return tag


def delete_tag(session: Session, name: str) -> None:
    session.delete(get_tag(session, name))
    session.flush()


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
