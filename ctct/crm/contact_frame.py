"""Every contact as the list-building grid shows it: company, kind, names, email, tags and why it
cannot go on a list — as one frame, filtered in memory (SPEC §3, §6).

`ContactDirectory` keeps that frame between page runs and, when contacts change, re-reads only
the ones that changed: at 100,000 contacts a full read costs about a second, a cell edit a few
milliseconds.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ctct.config import DEFAULT_ROLE_ADDRESSES
from ctct.crm.eligibility import EligibilityContext, eligibility_reasons
from ctct.crm.services import get_tag
from ctct.db.models import Company, Contact, EmailList, EmailStatus, ListMembership, MarketingTag, company_tags


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

    def describe(self) -> str:
        """The filter in words, as the journal and History name it."""
        parts = []
        if self.contact_type != ContactType.ALL:
            parts.append(f"{self.contact_type.value}s only")
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.search.strip():
            parts.append(f"search {self.search.strip()!r}")
        return "; ".join(parts) or "all contacts"


# The columns read from the database, in the order of `_contact_rows`.
_READ_COLUMNS = [
    "contact_id",
    "company_id",
    "company",
    "company_kind",
    "first_name",
    "last_name",
    "email",
    "job_title",
    "email_status",
    "email_key",
    "saved_at",
]
# The columns every reader of the frame may use; `email_key`, `saved_at` and `search_text` serve
# the directory and the search.
COLUMNS = [
    *(column for column in _READ_COLUMNS if column != "email_status"),
    "unsubscribed",
    "tags",
    "ineligible_reason",
    "eligible",
    "search_text",
]
_SEARCHED = ["company", "first_name", "last_name", "email", "job_title"]


def _contact_rows() -> Select:
    return select(
        Contact.id,
        Company.id,
        Company.name,
        Company.kind,
        Contact.first_name,
        Contact.last_name,
        Contact.email,
        Contact.job_title,
        Contact.email_status,
        Contact.email_key,
        Contact.updated_at,
    ).join(Company, Contact.company_id == Company.id)


def _read_all(session: Session) -> list[tuple[Any, ...]]:
    """All contact rows through the driver's own cursor: the statement has no parameters, and
    skipping SQLAlchemy's row objects makes a 100,000-row read several times faster."""
    connection = session.connection()
    statement = str(_contact_rows().compile(dialect=connection.dialect))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _frame_from_rows(
    rows: Sequence[tuple[Any, ...]], context: EligibilityContext, tags: dict[int, str]
) -> pd.DataFrame:
    # As objects: inferring text columns costs a quarter of a 100,000-row read, and a database's
    # NULL arrives as None, which an object column keeps as it is.
    frame = pd.DataFrame(rows, columns=_READ_COLUMNS, dtype=object)
    # Enum columns arrive as text from the cursor and as enums from the ORM: the same words.
    frame["company_kind"] = frame["company_kind"].astype(str)
    frame["unsubscribed"] = frame["email_status"].astype(str) == EmailStatus.UNSUBSCRIBED.value
    frame = frame.drop(columns="email_status")
    frame["contact_id"] = frame["contact_id"].astype("int64")
    frame["company_id"] = frame["company_id"].astype("int64")
    frame["saved_at"] = _instants(frame["saved_at"])
    # When no row's company has tags, map() gives floats (all NaN): map to text first.
    named = frame["company_id"].map(tags).astype(object)
    frame["tags"] = named.where(named.notna(), "")
    frame["ineligible_reason"] = eligibility_reasons(frame, context)
    frame["eligible"] = frame["ineligible_reason"].isna()
    frame["search_text"] = _search_text(frame)
    return frame[COLUMNS]


def _instants(values: pd.Series) -> pd.Series:
    """Timestamps as UTC instants, whether the driver gave text (SQLite) or datetimes."""
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _search_text(frame: pd.DataFrame) -> pd.Series:
    """The searched fields lower-cased and joined by newlines, which no search can contain, so
    that one substring test per row finds what a test per field would."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=object)
    # Arrow's kernels join and lower-case the 100,000 rows of a first visit several times
    # faster than pandas' string methods.
    fields = [
        pc.fill_null(pa.array(frame[column].to_numpy(dtype=object), type=pa.string(), from_pandas=True), "")
        for column in _SEARCHED
    ]
    joined = pc.utf8_lower(pc.binary_join_element_wise(*fields, "\n"))
    return pd.Series(joined, index=frame.index, dtype="str")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """The grid's order: by company, then each company's contacts by name."""
    keys = frame.assign(company_order=frame["company"].fillna("").str.lower())
    order = keys.sort_values(
        ["company_order", "company_id", "last_name", "first_name", "contact_id"], na_position="first", kind="stable"
    ).index
    return frame.loc[order].reset_index(drop=True)


def tags_by_company(session: Session, company_ids: Sequence[int] | None = None) -> dict[int, str]:
    """Each tagged company's tag names, sorted and joined with "; " (of these companies, if given)."""
    query = (
        select(company_tags.c.company_id, MarketingTag.name)
        .join(MarketingTag, MarketingTag.id == company_tags.c.tag_id)
        .order_by(MarketingTag.name)
    )
    if company_ids is not None:
        query = query.where(company_tags.c.company_id.in_(sorted(set(company_ids))))
    rows = session.execute(query)
    names: dict[int, list[str]] = {}
    for company_id, name in rows:
        names.setdefault(company_id, []).append(name)
    return {company_id: "; ".join(held) for company_id, held in names.items()}


def eligibility_context(
    session: Session, role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES, email_keys: Iterable[str] | None = None
) -> EligibilityContext:
    """What eligibility needs to know of the rest of the CRM — about these emails only, if given."""
    company_emails = select(Company.email_key).where(Company.email_key.is_not(None))
    shared = (
        select(Contact.email_key, func.count())
        .where(Contact.email_key.is_not(None))
        .group_by(Contact.email_key)
        .having(func.count() > 1)
    )
    if email_keys is not None:
        keys = sorted(set(email_keys))
        company_emails = company_emails.where(Company.email_key.in_(keys))
        shared = shared.where(Contact.email_key.in_(keys))
    return EligibilityContext(
        company_emails=frozenset(key for key in session.scalars(company_emails) if key is not None),
        email_counts={key: int(count) for key, count in session.execute(shared) if key is not None},
        role_addresses=frozenset(role_addresses),
    )


def read_contacts(session: Session, role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES) -> pd.DataFrame:
    """Every contact, in the grid's order, with its tags and eligibility."""
    frame = _frame_from_rows(_read_all(session), eligibility_context(session, role_addresses), tags_by_company(session))
    return _sorted(frame)


def filter_contacts(session: Session, frame: pd.DataFrame, contact_filter: ContactFilter) -> pd.DataFrame:
    """The rows of `frame` (from `read_contacts`) that the filter selects; an unknown tag is RecordNotFound."""
    chosen = frame
    if contact_filter.contact_type != ContactType.ALL:
        chosen = chosen[chosen["company_kind"] == contact_filter.contact_type.value]
    if contact_filter.tags:
        tag_ids = [get_tag(session, tag).id for tag in contact_filter.tags]
        tagged = set(session.scalars(select(company_tags.c.company_id).where(company_tags.c.tag_id.in_(tag_ids))))
        chosen = chosen[chosen["company_id"].isin(tagged)]
    needle = " ".join(contact_filter.search.split()).lower() if contact_filter.search.strip() else ""
    if needle:
        chosen = chosen[chosen["search_text"].str.contains(needle, regex=False)]
    return chosen


def member_ids(session: Session, email_list: EmailList) -> set[int]:
    return set(session.scalars(select(ListMembership.contact_id).where(ListMembership.list_id == email_list.id)))


def with_members(session: Session, frame: pd.DataFrame, email_list: EmailList) -> pd.DataFrame:
    """`frame` with `member`: whether each contact is on the list, as stored now."""
    return frame.assign(member=frame["contact_id"].isin(member_ids(session, email_list)))


def contacts_frame(
    session: Session,
    contact_filter: ContactFilter = ContactFilter(),
    *,
    email_list: EmailList | None = None,
    role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES,
) -> pd.DataFrame:
    """The grid's rows for a filter, read afresh: contact fields, tags, `ineligible_reason`,
    `eligible`, and `member` when a list is given."""
    frame = filter_contacts(session, read_contacts(session, role_addresses), contact_filter)
    return with_members(session, frame, email_list) if email_list is not None else frame


class CrmVersion(NamedTuple):
    """Changes whenever a contact, company, tag or tag assignment changes (memberships do not
    count): what the directory and an import plan compare."""

    contacts: int
    contacts_changed_at: Any
    contact_id_sum: int | None
    companies: int
    companies_changed_at: Any
    tag_links: int
    tag_link_sum: int | None
    tag_names: str

    @property
    def beyond_contacts(self) -> tuple[Any, ...]:
        return self[3:]


def crm_version(session: Session) -> CrmVersion:
    contacts, contacts_changed_at, contact_id_sum = session.execute(
        select(func.count(), func.max(Contact.updated_at), func.sum(Contact.id))
    ).one()
    companies, companies_changed_at = session.execute(select(func.count(), func.max(Company.updated_at))).one()
    tag_links, tag_link_sum = session.execute(
        select(func.count(), func.sum(company_tags.c.tag_id * 7 + company_tags.c.company_id))
    ).one()
    # Tags are few: every name counts, so renaming any of them is a change.
    names = session.execute(select(MarketingTag.id, MarketingTag.name).order_by(MarketingTag.id)).all()
    tag_names = hashlib.sha256("\n".join(f"{tag_id}:{name}" for tag_id, name in names).encode()).hexdigest()
    return CrmVersion(
        contacts=contacts,
        contacts_changed_at=contacts_changed_at,
        contact_id_sum=contact_id_sum,
        companies=companies,
        companies_changed_at=companies_changed_at,
        tag_links=tag_links,
        tag_link_sum=tag_link_sum,
        tag_names=tag_names,
    )


# A contact saved by a transaction that began before the last read but committed after it
# carries an older timestamp than that read saw: re-reading this far back catches it (new and
# deleted contacts change the count and are caught whatever their timestamps).
REREAD_WINDOW = dt.timedelta(seconds=60)


class ContactDirectory:
    """`read_contacts` kept between page runs, shared by every browser session of a server.

    Each `frame()` compares the CRM's version with the one read, and the save times of the
    contacts saved lately with the ones read. When only contacts were edited or added, just those
    rows are read again and the eligibility of the emails they touch is worked out anew; anything
    else (a company, a tag, a deleted contact) reads everything.
    The frame handed out is never changed afterwards: a refresh builds a new one."""

    def __init__(
        self, role_addresses: Iterable[str] = DEFAULT_ROLE_ADDRESSES, reread_window: dt.timedelta = REREAD_WINDOW
    ) -> None:
        self.role_addresses = frozenset(role_addresses)
        self.reread_window = reread_window
        self._frame: pd.DataFrame | None = None
        self._version: CrmVersion | None = None
        self._lock = threading.Lock()
        self.full_reads = 0
        self.patched_rows = 0

    def frame(self, session: Session) -> pd.DataFrame:
        with self._lock:
            version = crm_version(session)
            if (
                self._frame is None
                or self._version is None
                or version.beyond_contacts != self._version.beyond_contacts
                or not self._patch(session, version)
            ):
                self._read_everything(session, version)
            assert self._frame is not None
            return self._frame

    def _read_everything(self, session: Session, version: CrmVersion) -> None:
        self._remember(read_contacts(session, self.role_addresses), version)
        self.full_reads += 1

    def _window_unchanged(self, session: Session, window_start: Any) -> bool:
        """Whether the contacts saved in the re-read window are as many, and as late, as read."""
        count, latest = session.execute(
            select(func.count(), func.max(Contact.updated_at)).where(Contact.updated_at >= window_start)
        ).one()
        held_count, held_latest = self._window_held
        return count == held_count and (count == 0 or _instants(pd.Series([latest])).iloc[0] == held_latest)

    def _remember(self, frame: pd.DataFrame, version: CrmVersion) -> None:
        """Keeps a frame with its version, and what the window check compares against it."""
        self._frame, self._version = frame, version
        self._window_held: tuple[int, Any] = (0, None)
        if version.contacts_changed_at is not None:
            start = _instants(pd.Series([version.contacts_changed_at - self.reread_window])).iloc[0]
            held = frame["saved_at"][frame["saved_at"] >= start]
            self._window_held = (len(held), held.max() if len(held) else None)

    def _patch(self, session: Session, version: CrmVersion) -> bool:
        """Re-reads the contacts saved since the last read; False when that cannot be enough."""
        assert self._frame is not None and self._version is not None
        since = self._version.contacts_changed_at
        if since is None:
            return False
        window_start = since - self.reread_window
        if version == self._version and self._window_unchanged(session, window_start):
            return True  # nothing saved since: the same frame
        old = self._frame.set_index("contact_id", drop=False)
        # Which contacts were saved since: their stamps first (two columns), then only the rows
        # whose stamp differs from the one read — a bulk load's rows in the window are not re-read.
        stamps = pd.DataFrame(
            session.execute(select(Contact.id, Contact.updated_at).where(Contact.updated_at >= window_start)).all(),
            columns=["contact_id", "saved_at"],
        )
        stamps["saved_at"] = _instants(stamps["saved_at"])
        known = stamps["contact_id"].isin(old.index)
        held = old["saved_at"].reindex(stamps["contact_id"]).to_numpy()
        changed_ids = stamps.loc[~known | (stamps["saved_at"].to_numpy() != held), "contact_id"].astype(int).tolist()
        if not changed_ids and version == self._version:
            return True
        new_ids = [contact_id for contact_id in changed_ids if contact_id not in old.index]
        expected_sum = int(old["contact_id"].sum()) + sum(new_ids)
        if len(old) + len(new_ids) != version.contacts or expected_sum != (version.contact_id_sum or 0):
            return False  # contacts were deleted too
        changed_rows = [
            row
            for chunk in range(0, len(changed_ids), 10_000)
            for row in session.execute(_contact_rows().where(Contact.id.in_(changed_ids[chunk : chunk + 10_000])))
        ]
        touched_keys = set(old.loc[old.index.intersection(changed_ids), "email_key"].dropna())
        touched_keys |= {row[_READ_COLUMNS.index("email_key")] for row in changed_rows} - {None}
        # Only what these rows and the emails they touch need: not the whole CRM's context.
        context = eligibility_context(session, self.role_addresses, email_keys=touched_keys)
        tags = tags_by_company(session, [row[_READ_COLUMNS.index("company_id")] for row in changed_rows])
        changed = _frame_from_rows(changed_rows, context, tags).set_index("contact_id", drop=False)
        frame = old.copy()
        kept = changed.loc[changed.index.intersection(old.index)]
        frame.loc[kept.index, COLUMNS] = kept[COLUMNS]
        if new_ids:
            frame = pd.concat([frame, changed.loc[new_ids]])
        # Another contact's eligibility changes when an email it shares appears or goes away.
        sharing = frame["email_key"].isin(touched_keys) & ~frame.index.isin(changed_ids)
        if sharing.any():
            reasons = eligibility_reasons(frame.loc[sharing], context)
            frame.loc[sharing, "ineligible_reason"] = reasons
            frame.loc[sharing, "eligible"] = reasons.isna()
        frame = frame.reset_index(drop=True)
        self._remember(_sorted(frame) if new_ids else frame, version)
        self.patched_rows += len(changed_rows)
        return True
