"""Email lists and their members, sized for autosave: one call per user action (SPEC §6).

Every change to a list's members goes through `change_members`, which applies exactly the
contacts it is given and journals who, when, how and which contacts changed (a no-op journals
nothing). The journal is also what Undo replays backwards.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import DateTime, Integer, delete, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from ctct import display
from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.contact_frame import (
    ContactFilter,
    ContactType,
    contacts_frame,
    crm_version,
    eligibility_context,
    filter_contacts,
    member_ids,
    read_contacts,
    with_members,
)
from ctct.crm.eligibility import eligibility_reasons
from ctct.crm.normalize import MAX_LIST_NAME_LENGTH, email_key, name_key
from ctct.crm.services import required_text
from ctct.db.models import (
    Contact,
    EmailList,
    EmailStatus,
    ListMembership,
    MembershipChange,
    MembershipChangeHow,
    MembershipChangeRow,
    utcnow,
)
from ctct.errors import IneligibleContacts, RecordConflict, RecordNotFound

__all__ = [
    "AddResult",
    "ChangeOrigin",
    "ContactFilter",
    "ContactType",
    "ListChange",
    "contacts_frame",
    "crm_version",
    "eligibility_context",
    "filter_contacts",
    "with_members",
]


@dataclass(frozen=True)
class ChangeOrigin:
    """Who asked for a membership change and how: what the journal records."""

    made_by: str
    how: MembershipChangeHow

    @classmethod
    def python(cls) -> ChangeOrigin:
        return cls(made_by=getpass.getuser(), how=MembershipChangeHow.PYTHON)


@dataclass
class ListChange:
    """What one membership action did: exactly the contacts it added and removed (by id).

    `change_id` is the journal entry, None when nothing changed; `already_members` and `skipped`
    count what an add left alone, by reason."""

    list_name: str
    change_id: int | None = None
    added_ids: list[int] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)
    already_members: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def added(self) -> int:
        return len(self.added_ids)

    @property
    def removed(self) -> int:
        return len(self.removed_ids)

    @property
    def changed(self) -> bool:
        return bool(self.added_ids or self.removed_ids)

    def summary(self) -> str:
        """One line for a toast or the CLI: "Added 3 to 'News'", "Removed 1 from 'News'"."""
        parts = []
        if self.added_ids:
            parts.append(f"added {self.added:,} to")
        if self.removed_ids:
            parts.append(f"removed {self.removed:,} from")
        if not parts:
            return f"No change to '{self.list_name}'"
        text = " and ".join(parts)
        skipped = sum(self.skipped.values())
        note = f" ({skipped:,} skipped: not eligible)" if skipped else ""
        return f"{text[0].upper()}{text[1:]} '{self.list_name}'{note}"

    def __repr__(self) -> str:
        name = repr(self.list_name or "the list")
        if self.removed_ids and not self.added_ids:
            return f"<{self.removed:,} contact(s) removed from {name}>"
        skipped = "".join(f"; skipped {count:,}: {reason}" for reason, count in sorted(self.skipped.items()))
        removed = f", {self.removed:,} removed" if self.removed_ids else ""
        already = f"{self.already_members:,} already members"
        return f"<{self.added:,} contact(s) added to {name}{removed}, {already}{skipped}>"

    def _repr_html_(self) -> str:
        rows = [("added", self.added), ("already members", self.already_members)]
        if self.removed_ids:
            rows.append(("removed", self.removed))
        rows += [(f"skipped: {reason}", count) for reason, count in sorted(self.skipped.items())]
        return display.card(
            display.heading(f"{self.added:,} contact(s) added to {self.list_name or 'the list'}"),
            display.counts_table(rows, ("", "contacts")),
        )


# What add functions have always returned; kept as a name for notebooks written against it.
AddResult = ListChange


# Lists


def _checked_list_name(name: object) -> str:
    return required_text("name", "list name", name, MAX_LIST_NAME_LENGTH)


def find_list(session: Session, name: str) -> EmailList | None:
    return session.scalar(select(EmailList).where(EmailList.name_key == name_key(name)))


def get_list(session: Session, name: str) -> EmailList:
    email_list = find_list(session, name)
    if email_list is None:
        raise RecordNotFound(f"no email list named {name!r}")
    return email_list


def _target(session: Session, email_list: EmailList | str) -> EmailList:
    return email_list if isinstance(email_list, EmailList) else get_list(session, email_list)


def get_list_by_id(session: Session, list_id: int) -> EmailList:
    email_list = session.get(EmailList, list_id)
    if email_list is None:
        raise RecordNotFound("that email list no longer exists (deleted meanwhile?)")
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
        raise RecordConflict(f"an email list named {text!r} already exists")
    email_list = EmailList(name=text, name_key=name_key(text))
    session.add(email_list)
    session.flush()
    return email_list


def rename_list(session: Session, old_name: str, new_name: str) -> EmailList:
    return _rename(session, get_list(session, old_name), new_name)


def rename_list_by_id(session: Session, list_id: int, new_name: str) -> EmailList:
    return _rename(session, get_list_by_id(session, list_id), new_name)


def _rename(session: Session, email_list: EmailList, new_name: str) -> EmailList:
    text = _checked_list_name(new_name)
    clash = find_list(session, text)
    if clash is not None and clash.id != email_list.id:
        raise RecordConflict(f"an email list named {text!r} already exists")
    email_list.name, email_list.name_key = text, name_key(text)
    session.flush()
    return email_list


def delete_list(session: Session, name: str) -> None:
    session.delete(get_list(session, name))
    session.flush()


# Members: the one place that changes them


# Databases cap the bound parameters of one statement (SQLite 32,766, PostgreSQL 65,535).
IN_CHUNK = 10_000


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield list(values[start : start + IN_CHUNK])


def change_members(
    session: Session,
    email_list: EmailList,
    *,
    add: Iterable[int] = (),
    remove: Iterable[int] = (),
    origin: ChangeOrigin,
    detail: str | None = None,
    undoes: int | None = None,
) -> ListChange:
    """Adds and removes exactly these contacts (ids) and journals what really changed: adding a
    member or removing a non-member does nothing. Eligibility is the caller's to check."""
    # Taking the list's row first makes concurrent changes to one list wait for each other.
    session.execute(update(EmailList).where(EmailList.id == email_list.id).values(updated_at=utcnow()))
    current = member_ids(session, email_list)
    added = sorted(set(add) - current)
    removed = sorted(set(remove) & current)
    result = ListChange(list_name=email_list.name, added_ids=added, removed_ids=removed)
    if not result.changed:
        return result
    change = MembershipChange(
        made_by=origin.made_by,
        how=origin.how,
        list_id=email_list.id,
        list_name=email_list.name,
        added=len(added),
        removed=len(removed),
        detail=detail,
        undoes_id=undoes,
    )
    session.add(change)
    session.flush()
    now = literal(utcnow(), DateTime(timezone=True))
    # INSERT … SELECT: the database copies ids and emails itself (100,000 rows in well under a second).
    for chunk in _chunks(added):
        session.execute(
            insert(ListMembership).from_select(
                ["list_id", "contact_id", "added_at"],
                select(literal(email_list.id, Integer), Contact.id, now).where(Contact.id.in_(chunk)),
            )
        )
    for chunk in _chunks(removed):
        session.execute(
            delete(ListMembership).where(ListMembership.list_id == email_list.id, ListMembership.contact_id.in_(chunk))
        )
    for ids, was_added in ((added, True), (removed, False)):
        for chunk in _chunks(ids):
            session.execute(
                insert(MembershipChangeRow).from_select(
                    ["change_id", "contact_id", "added", "email"],
                    select(literal(change.id, Integer), Contact.id, literal(was_added), Contact.email).where(
                        Contact.id.in_(chunk)
                    ),
                )
            )
    result.change_id = change.id
    return result


def _contacts_where(session: Session, column: Any, values: Sequence[Any]) -> pd.DataFrame:
    """Contacts whose `column` is one of `values`, with what eligibility needs."""
    query = select(Contact.id, Contact.email, Contact.email_key, Contact.email_status)
    rows = [row for chunk in _chunks(values) for row in session.execute(query.where(column.in_(chunk)))]
    frame = pd.DataFrame(rows, columns=["contact_id", "email", "email_key", "status"])
    frame["unsubscribed"] = frame["status"] == EmailStatus.UNSUBSCRIBED
    return frame


def _with_reasons(session: Session, found: pd.DataFrame, role_addresses: Iterable[str]) -> pd.DataFrame:
    found["reason"] = eligibility_reasons(found, eligibility_context(session, role_addresses))
    return found


def add_members(
    session: Session,
    list_name: str,
    emails: Sequence[str],
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
    *,
    origin: ChangeOrigin | None = None,
) -> ListChange:
    """Adds the contacts with these emails; any unknown or ineligible one refuses them all."""
    email_list = get_list(session, list_name)
    found = _contacts_where(session, Contact.email_key, sorted({email_key(email) or "" for email in emails}))
    found = _with_reasons(session, found, role_addresses)
    known = set(found["email_key"])
    refused = [(email, "no contact has this email") for email in emails if email_key(email) not in known]
    refused += [(row.email, row.reason) for row in found.itertuples() if row.reason is not None]
    if refused:
        raise IneligibleContacts(refused)
    return _add_counted(session, email_list, found["contact_id"].tolist(), origin, f"{len(emails):,} email(s)")


def add_contacts(
    session: Session,
    email_list: EmailList | str,
    contact_ids: Sequence[int],
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
    *,
    origin: ChangeOrigin | None = None,
    detail: str | None = None,
    contacts: pd.DataFrame | None = None,
) -> ListChange:
    """Adds contacts picked by id; ineligible ones refuse them all. `contacts`, the CRM as
    `read_contacts` gives it and current (the console's directory), saves reading them here."""
    email_list = _target(session, email_list)
    wanted = sorted(set(contact_ids))
    if contacts is not None:
        found = contacts.loc[contacts["contact_id"].isin(wanted), ["contact_id", "email", "ineligible_reason"]]
        found = found.rename(columns={"ineligible_reason": "reason"})
    else:
        found = _with_reasons(session, _contacts_where(session, Contact.id, wanted), role_addresses)
    missing = set(contact_ids) - set(found["contact_id"])
    refused = [(f"contact {contact_id}", "no such contact") for contact_id in sorted(missing)]
    refused += [(row.email or f"contact {row.contact_id}", row.reason) for row in found.itertuples() if row.reason]
    if refused:
        raise IneligibleContacts(refused)
    return _add_counted(session, email_list, list(contact_ids), origin, detail)


def _add_counted(
    session: Session,
    email_list: EmailList,
    contact_ids: Sequence[int],
    origin: ChangeOrigin | None,
    detail: str | None,
    skipped: dict[str, int] | None = None,
) -> ListChange:
    wanted = set(contact_ids)
    result = change_members(session, email_list, add=wanted, origin=origin or ChangeOrigin.python(), detail=detail)
    result.already_members = len(wanted) - result.added
    result.skipped = skipped or {}
    return result


def add_matching(
    session: Session,
    email_list: EmailList | str,
    contact_filter: ContactFilter,
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
    *,
    origin: ChangeOrigin | None = None,
    contacts: pd.DataFrame | None = None,
) -> ListChange:
    """ "Select all": adds every eligible contact matching the filter, counting the rest by reason.

    `contacts` is the CRM as `read_contacts` gives it, when the caller holds it current (the
    console's directory); otherwise it is read here."""
    email_list = _target(session, email_list)
    frame = filter_contacts(session, _current(session, contacts, role_addresses), contact_filter)
    eligible = frame.loc[frame["eligible"], "contact_id"].astype(int).tolist()
    skipped = frame.loc[~frame["eligible"], "ineligible_reason"].value_counts().to_dict()
    return _add_counted(
        session,
        email_list,
        eligible,
        origin,
        f"Select all: {contact_filter.describe()}",
        {str(reason): int(count) for reason, count in skipped.items()},
    )


def remove_matching(
    session: Session,
    email_list: EmailList | str,
    contact_filter: ContactFilter,
    *,
    origin: ChangeOrigin | None = None,
    contacts: pd.DataFrame | None = None,
) -> ListChange:
    """ "Clear all": removes every member matching the filter, eligible or not."""
    email_list = _target(session, email_list)
    frame = filter_contacts(session, _current(session, contacts, DEFAULT_ROLE_ADDRESSES), contact_filter)
    return change_members(
        session,
        email_list,
        remove=frame["contact_id"].astype(int).tolist(),
        origin=origin or ChangeOrigin.python(),
        detail=f"Clear all: {contact_filter.describe()}",
    )


def _current(session: Session, contacts: pd.DataFrame | None, role_addresses: Iterable[str]) -> pd.DataFrame:
    return contacts if contacts is not None else read_contacts(session, role_addresses)


def remove_members(
    session: Session, list_name: str, emails: Sequence[str], *, origin: ChangeOrigin | None = None
) -> ListChange:
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
        raise RecordNotFound(f"not members of {email_list.name!r}: {', '.join(sorted(k or '' for k in missing))}")
    return change_members(
        session,
        email_list,
        remove=[contact_id for contact_id, _ in member_rows],
        origin=origin or ChangeOrigin.python(),
        detail=f"{len(emails):,} email(s)",
    )


def remove_contacts(
    session: Session, email_list: EmailList | str, contact_ids: Sequence[int], *, origin: ChangeOrigin | None = None
) -> ListChange:
    return change_members(
        session, _target(session, email_list), remove=contact_ids, origin=origin or ChangeOrigin.python()
    )


def member_emails(session: Session, email_list: EmailList) -> list[str]:
    return list(
        session.scalars(
            select(Contact.email)
            .join(ListMembership, ListMembership.contact_id == Contact.id)
            .where(ListMembership.list_id == email_list.id)
            .order_by(Contact.email_key)
        )
    )


# Undo


def undo_change(
    session: Session,
    change_id: int,
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
    *,
    origin: ChangeOrigin,
) -> ListChange:
    """Reverts one journaled change: removes the contacts it added, puts back the ones it removed
    (those no longer eligible stay off, counted in `skipped`). The undo is journaled in turn."""
    change = session.get(MembershipChange, change_id)
    if change is None:
        raise RecordNotFound(f"no membership change {change_id}")
    if change.list_id is None:
        raise RecordNotFound(f"the list '{change.list_name}' was deleted: its change cannot be undone")
    if session.scalar(select(exists().where(MembershipChange.undoes_id == change_id))):
        raise RecordConflict(f"change {change_id} was undone already")
    email_list = get_list_by_id(session, change.list_id)
    rows = session.execute(
        select(MembershipChangeRow.contact_id, MembershipChangeRow.added).where(
            MembershipChangeRow.change_id == change_id
        )
    ).all()
    to_remove = [contact_id for contact_id, added in rows if added]
    put_back = [contact_id for contact_id, added in rows if not added]
    found = _with_reasons(session, _contacts_where(session, Contact.id, put_back), role_addresses)
    eligible = found.loc[found["reason"].isna(), "contact_id"].astype(int).tolist()
    skipped = found.loc[found["reason"].notna(), "reason"].value_counts().to_dict()
    if len(found) < len(put_back):
        skipped["contact deleted"] = len(put_back) - len(found)
    result = change_members(
        session,
        email_list,
        add=eligible,
        remove=to_remove,
        origin=ChangeOrigin(origin.made_by, MembershipChangeHow.UNDO),
        detail=f"Undo of change #{change_id} ({_how_words(change.how)})",
        undoes=change_id,
    )
    result.skipped = {str(reason): int(count) for reason, count in skipped.items()}
    return result


HOW_WORDS = {
    MembershipChangeHow.TICK: "tick",
    MembershipChangeHow.UNTICK: "untick",
    MembershipChangeHow.SELECT_ALL: "Select all",
    MembershipChangeHow.CLEAR_ALL: "Clear all",
    MembershipChangeHow.UNDO: "Undo",
    MembershipChangeHow.CLI: "command line",
    MembershipChangeHow.PYTHON: "Python",
}


def _how_words(how: MembershipChangeHow | str) -> str:
    return HOW_WORDS.get(MembershipChangeHow(how), str(how))


# The journal, as History and the CLI show it


CHANGE_COLUMNS = ["Change", "When (UTC)", "Who", "List", "How", "Added", "Removed", "Detail"]


def change_history(session: Session, *, list_name: str | None = None, limit: int | None = 1_000) -> pd.DataFrame:
    """Membership changes, newest first."""
    query = select(
        MembershipChange.id,
        MembershipChange.made_at,
        MembershipChange.made_by,
        MembershipChange.list_name,
        MembershipChange.how,
        MembershipChange.added,
        MembershipChange.removed,
        MembershipChange.detail,
    ).order_by(MembershipChange.id.desc())
    if list_name is not None:
        email_list = find_list(session, list_name)
        by_name = MembershipChange.list_name == list_name
        query = query.where(by_name if email_list is None else (MembershipChange.list_id == email_list.id) | by_name)
    if limit is not None:
        query = query.limit(limit)
    frame = pd.DataFrame(session.execute(query).all(), columns=CHANGE_COLUMNS)
    frame["When (UTC)"] = frame["When (UTC)"].map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "")
    frame["How"] = frame["How"].map(_how_words)
    frame["Detail"] = frame["Detail"].fillna("")
    return frame


def change_rows(session: Session, change_id: int) -> pd.DataFrame:
    """The contacts one change added or removed, by email."""
    rows = session.execute(
        select(MembershipChangeRow.email, MembershipChangeRow.added, MembershipChangeRow.contact_id)
        .where(MembershipChangeRow.change_id == change_id)
        .order_by(MembershipChangeRow.added.desc(), MembershipChangeRow.email)
    ).all()
    return pd.DataFrame(
        [(email, "added" if added else "removed", contact_id) for email, added, contact_id in rows],
        columns=["email", "change", "contact_id"],
    )
