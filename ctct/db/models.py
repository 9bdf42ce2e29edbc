"""The console's tables: the CRM, email lists, the CTCT connection, and the sync journal."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CompanyKind(enum.StrEnum):
    CUSTOMER = "customer"
    PROSPECT = "prospect"


class EmailStatus(enum.StrEnum):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


def _enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint so both databases agree on the values.
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
    )


company_tags = Table(
    "company_tags",
    Base.metadata,
    Column("company_id", ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("marketing_tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_company_tags_tag_id", "tag_id"),
)


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # Normalized name (SPEC §4): the dedupe key. Not unique: a user may keep two on purpose.
    name_key: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[CompanyKind] = mapped_column(_enum(CompanyKind, "company_kind"))
    email: Mapped[str | None] = mapped_column(String(80))
    email_key: Mapped[str | None] = mapped_column(String(80), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(255))
    created_by_import: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="company", cascade="all, delete-orphan", passive_deletes=True
    )
    tags: Mapped[list[MarketingTag]] = relationship(secondary=company_tags, back_populates="companies")

    def __repr__(self) -> str:
        return f"Company(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"


class MarketingTag(Base):
    __tablename__ = "marketing_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Case-insensitive uniqueness of tag names.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    companies: Mapped[list[Company]] = relationship(secondary=company_tags, back_populates="tags")

    def __repr__(self) -> str:
        return f"MarketingTag(id={self.id!r}, name={self.name!r})"


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str | None] = mapped_column(String(50))
    last_name: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(80))
    # Trimmed, lower-cased email: the match key. Not unique, because a shared email is a
    # conflict the user resolves (SPEC §3 rule 5), not something the database forbids.
    email_key: Mapped[str | None] = mapped_column(String(80), index=True)
    job_title: Mapped[str | None] = mapped_column(String(50))
    email_status: Mapped[EmailStatus] = mapped_column(_enum(EmailStatus, "email_status"), default=EmailStatus.ACTIVE)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribe_source: Mapped[str | None] = mapped_column(String(40))
    ctct_contact_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_import: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Indexed: the contact directory asks for the contacts saved lately on every page run.
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True
    )

    company: Mapped[Company] = relationship(back_populates="contacts")

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def __repr__(self) -> str:
        return f"Contact(id={self.id!r}, email={self.email!r})"


class EmailList(Base):
    __tablename__ = "email_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255), unique=True)
    ctct_list_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"EmailList(id={self.id!r}, name={self.name!r})"


class ListMembership(Base):
    __tablename__ = "list_memberships"

    list_id: Mapped[int] = mapped_column(ForeignKey("email_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_list_memberships_contact_id", "contact_id"),)


class MembershipChangeHow(enum.StrEnum):
    """How a membership change was asked for (the journal's "how")."""

    TICK = "tick"
    UNTICK = "untick"
    SELECT_ALL = "select_all"
    CLEAR_ALL = "clear_all"
    UNDO = "undo"
    CLI = "cli"
    PYTHON = "python"


class MembershipChange(Base):
    """One user action that changed a list's members: who, when, which list, how (SPEC §6)."""

    __tablename__ = "membership_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    made_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    made_by: Mapped[str] = mapped_column(String(255))
    how: Mapped[MembershipChangeHow] = mapped_column(_enum(MembershipChangeHow, "membership_change_how"))
    # The list may be deleted later; its name as it was stays with the change.
    list_id: Mapped[int | None] = mapped_column(ForeignKey("email_lists.id", ondelete="SET NULL"), index=True)
    list_name: Mapped[str] = mapped_column(String(255))
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    # What the action named, in words ("Select all: Customer only, tags VIP"), for History.
    detail: Mapped[str | None] = mapped_column(Text)
    # An undo names the change it reverted.
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("membership_changes.id", ondelete="SET NULL"))


class MembershipChangeRow(Base):
    """A contact one change added or removed. The email is kept as it was, so the journal still
    names a contact deleted later."""

    __tablename__ = "membership_change_rows"

    change_id: Mapped[int] = mapped_column(ForeignKey("membership_changes.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    added: Mapped[bool] = mapped_column(Boolean)
    email: Mapped[str | None] = mapped_column(String(80))


class CtctConnection(Base):
    """The activated Constant Contact account. Tokens are Fernet ciphertext, never plain text."""

    __tablename__ = "ctct_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_name: Mapped[str | None] = mapped_column(String(255))
    account_email: Mapped[str | None] = mapped_column(String(255))
    encrypted_access_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    encrypted_refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    scopes: Mapped[str | None] = mapped_column(String(255))
    # Set when CTCT stopped accepting the stored authorization: the user must activate again.
    reauthorization_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # A token refresh in progress: who holds it and since when (no transaction spans the request).
    refresh_holder: Mapped[str | None] = mapped_column(String(64))
    refresh_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"CtctConnection(id={self.id!r}, account_name={self.account_name!r})"


class SyncRun(Base):
    """One import, push or pull: the head of the journal."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(20))
    # queued, running, completed, completed_with_errors, needs_review, dismissed, failed,
    # interrupted, resumed
    status: Mapped[str] = mapped_column(String(32), default="planned")
    started_by: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    requests_used: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # The run's live progress, written by whoever runs it (the worker, the page, the CLI), read by
    # the pages: 0-1, and what it is doing (CTCT's queue message while an activity waits).
    progress: Mapped[float | None] = mapped_column(Float)
    progress_message: Mapped[str | None] = mapped_column(String(500))
    # The schedule that started it, if any.
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("sync_schedules.id", ondelete="SET NULL"), index=True)

    steps: Mapped[list[SyncStep]] = relationship(back_populates="run", cascade="all, delete-orphan")


class SyncStep(Base):
    __tablename__ = "sync_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    activity_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    run: Mapped[SyncRun] = relationship(back_populates="steps")


class RowChange(Base):
    """One row of a run's change set, as previewed and as applied."""

    __tablename__ = "sync_row_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("sync_steps.id", ondelete="SET NULL"))
    change_kind: Mapped[str] = mapped_column(String(40))
    list_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20), default="planned")


class BaselineList(Base):
    """Per linked list, what both sides agreed on at the end of the last successful sync."""

    __tablename__ = "sync_baseline_lists"

    ctct_list_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BaselineMember(Base):
    """A member of a linked list as last agreed, by email: CTCT ids of new contacts are only
    learnt at the next snapshot, and the email is the match key anyway (SPEC §4)."""

    __tablename__ = "sync_baseline_members"

    ctct_list_id: Mapped[str] = mapped_column(
        ForeignKey("sync_baseline_lists.ctct_list_id", ondelete="CASCADE"), primary_key=True
    )
    email_key: Mapped[str] = mapped_column(String(80), primary_key=True)


class BaselineContact(Base):
    """The contact fields as last agreed, so a push knows what changed locally since."""

    __tablename__ = "sync_baseline_contacts"

    email_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(50))
    last_name: Mapped[str | None] = mapped_column(String(50))
    company_name: Mapped[str | None] = mapped_column(String(255))
    job_title: Mapped[str | None] = mapped_column(String(50))


class HeldPlan(Base):
    """The plan of a queued run (for the worker to commit) or of one held for review: exactly what
    was previewed, so what is committed is what was seen. Dropped once the run is done."""

    __tablename__ = "sync_held_plans"

    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True)
    # The pickled Plan or MergePlan, written and read by this console only.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # allow_mass_removal, resolutions: what the person who queued it confirmed.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SyncSchedule(Base):
    """A sync run unattended: every N minutes, or daily at a time (UTC)."""

    __tablename__ = "sync_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(20))
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    daily_at: Mapped[str | None] = mapped_column(String(5))  # HH:MM
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Conflict resolutions a person stored for it ({conflict id or kind: choice}).
    resolutions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))


class ScheduleFiring(Base):
    """One due time of a schedule, claimed by the worker that runs it: the primary key makes a
    second worker's claim of the same time fail, so a due run runs once."""

    __tablename__ = "sync_schedule_firings"

    schedule_id: Mapped[int] = mapped_column(ForeignKey("sync_schedules.id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[int | None] = mapped_column(Integer)


class SyncWorker(Base):
    """A background worker that is running: it says so every few seconds (the console tells
    whether one is there to take a commit)."""

    __tablename__ = "sync_workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SyncLock(Base):
    """One sync at a time per account: the row is the lock, its expiry guards against crashes."""

    __tablename__ = "sync_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class OAuthPending(Base):
    """An authorization started but not finished: the PKCE verifier survives the browser redirect."""

    __tablename__ = "oauth_pending"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    encrypted_verifier: Mapped[bytes] = mapped_column(LargeBinary)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiUsage(Base):
    """CTCT requests made per UTC day: the 10,000-a-day budget, shared by every process."""

    __tablename__ = "api_usage"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class MirrorContact(Base):
    """A CTCT contact as the console last read it: the mirror an incremental read of CTCT merges
    its changes into (ctct/sync/remote_read.py). Only what a RemoteSnapshot holds."""

    __tablename__ = "ctct_mirror_contacts"

    ctct_contact_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    job_title: Mapped[str | None] = mapped_column(String(255))
    company_name: Mapped[str | None] = mapped_column(String(255))
    permission: Mapped[str | None] = mapped_column(String(32))
    opt_out_source: Mapped[str | None] = mapped_column(String(32))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # CTCT's own text, kept as given: the next read asks for contacts updated after the newest.
    updated_at: Mapped[str | None] = mapped_column(String(40))


class MirrorMember(Base):
    """A CTCT list membership as last read, keyed by contact first: a changed contact's
    memberships are replaced as a whole."""

    __tablename__ = "ctct_mirror_members"

    ctct_contact_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ctct_list_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class MirrorState(Base):
    """The one row saying what the mirror is of and how far it can be trusted."""

    __tablename__ = "ctct_mirror_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The CTCT account read (its name and email as activation recorded them): another drops the mirror.
    account: Mapped[str] = mapped_column(String(600))
    newest_updated_at: Mapped[str | None] = mapped_column(String(40))
    full_read_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The CTCT list ids the mirror's memberships cover.
    list_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set while a push runs: a push that stopped half-way leaves a mirror only a full read can mend.
    needs_full_read: Mapped[bool] = mapped_column(Boolean, default=False)


class CrmRevision(Base):
    """The one row counting changes to the CRM (contacts, companies, lists, memberships): database
    triggers bump it on every write, whoever makes it (migration 0007), so a plan's stale check
    is one SELECT."""

    __tablename__ = "crm_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class CrmRevisionBulkWrite(Base):
    """A row here while a SQLite transaction that bumps the CRM revision itself writes in bulk:
    the row triggers skip (migration 0008). Inserted and deleted in that transaction, never
    committed; empty on PostgreSQL, whose triggers bump once per transaction anyway."""

    __tablename__ = "crm_revision_bulk_write"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
