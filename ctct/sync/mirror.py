"""The mirror: CTCT's contacts and memberships as the console last read them, in its database.

An incremental read of CTCT (ctct/sync/remote_read.py) merges the contacts changed since into it
and reads it back whole as the RemoteSnapshot; a full read replaces it. Written with bulk inserts
(COPY on PostgreSQL, executemany on SQLite) and read with one cursor per table, so a million rows
stay cheap. Nothing here talks to CTCT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, delete, select, text
from sqlalchemy.orm import Session

from ctct.crm.normalize import email_keys
from ctct.db import Database
from ctct.db.bulk import insert_tuples
from ctct.db.models import MirrorContact, MirrorMember, MirrorState
from ctct.sync.snapshot import OBJECT, REMOTE_CONTACT_COLUMNS, bulk_frame

MEMBER_COLUMNS = ["ctct_contact_id", "ctct_list_id"]
STATE_ID = 1
# Ids per DELETE … IN (…): well under SQLite's and PostgreSQL's parameter limits.
ID_CHUNK = 500

ContactRow = tuple[Any, ...]  # the values of REMOTE_CONTACT_COLUMNS, in that order
MemberRow = tuple[str, str]  # (ctct_contact_id, ctct_list_id)


@dataclass(frozen=True)
class MirrorStatus:
    account: str
    newest_updated_at: str | None
    full_read_at: dt.datetime
    list_ids: frozenset[str]
    needs_full_read: bool


def status(database: Database) -> MirrorStatus | None:
    """What the mirror is of and how far it can be trusted; None when there is no mirror."""
    with database.session() as session:
        row = session.get(MirrorState, STATE_ID)
        if row is None:
            return None
        read_at = row.full_read_at if row.full_read_at.tzinfo else row.full_read_at.replace(tzinfo=dt.UTC)
        return MirrorStatus(
            row.account, row.newest_updated_at, read_at, frozenset(row.list_ids or ()), row.needs_full_read
        )


# Mirror writers go one at a time (PostgreSQL: a transaction-scoped advisory lock; SQLite's
# writers are serialised anyway): two previews merging the same changed contact would otherwise
# both delete its old rows and the second insert would collide with the first.
MIRROR_WRITE_LOCK = 0x6D6972726F72


def _one_writer(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIRROR_WRITE_LOCK})


def drop(connection: Connection) -> None:
    """No mirror at all: the next read of CTCT is a full one."""
    for model in (MirrorState, MirrorMember, MirrorContact):
        connection.execute(delete(model))


def replace(
    database: Database,
    account: str,
    contacts: pd.DataFrame,
    members: pd.DataFrame,
    list_ids: Iterable[str],
    read_at: dt.datetime,
    *,
    changes_bound: dt.datetime | None = None,
    push_running: bool = False,
) -> None:
    """The mirror becomes what a full read saw: `contacts` (REMOTE_CONTACT_COLUMNS) and `members`.
    `changes_bound`: when the read began (CTCT's changes after it may have been missed);
    `push_running`: a push is under way, so its mark (require_full_read) stays — this read may
    have seen CTCT before the push changed it."""
    with database.session() as session:
        connection = session.connection()
        _one_writer(connection)
        # Read through a statement, not session.get: the row is deleted below and added anew.
        was_marked = session.execute(select(MirrorState.needs_full_read).where(MirrorState.id == STATE_ID)).scalar()
        marked = bool(was_marked and push_running)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("TRUNCATE ctct_mirror_members, ctct_mirror_contacts")
            connection.execute(delete(MirrorState))
        else:
            drop(connection)
        _insert_contacts(connection, _rows(contacts, REMOTE_CONTACT_COLUMNS))
        _insert_members(connection, _rows(members, MEMBER_COLUMNS))
        session.add(
            MirrorState(
                id=STATE_ID,
                account=account,
                newest_updated_at=newest_stamp(contacts["updated_at"], changes_bound),
                full_read_at=read_at,
                list_ids=sorted(list_ids),
                needs_full_read=marked,
            )
        )


def merge(
    database: Database,
    contacts: Sequence[ContactRow],
    members: Sequence[MemberRow],
    *,
    changes_bound: dt.datetime | None = None,
) -> None:
    """Contacts CTCT changed, read again whole: each replaces its row and all its memberships.
    `changes_bound`: when the read began (see newest_stamp)."""
    changed = [row[0] for row in contacts]
    with database.session() as session:
        connection = session.connection()
        _one_writer(connection)
        for start in range(0, len(changed), ID_CHUNK):
            chunk = changed[start : start + ID_CHUNK]
            connection.execute(delete(MirrorMember).where(MirrorMember.ctct_contact_id.in_(chunk)))
            connection.execute(delete(MirrorContact).where(MirrorContact.ctct_contact_id.in_(chunk)))
        _insert_contacts(connection, contacts)
        _insert_members(connection, members)
        state = session.get(MirrorState, STATE_ID)
        if state is not None:
            stamp = REMOTE_CONTACT_COLUMNS.index("updated_at")
            seen = newest_stamp(pd.Series([row[stamp] for row in contacts], dtype=object), changes_bound)
            # This read's newest (held back to its start), never older than what was stored.
            state.newest_updated_at = newest_stamp(pd.Series([state.newest_updated_at, seen], dtype=object))


def replace_list_members(
    database: Database, members: dict[str, set[str]], list_ids: Iterable[str], *, trusted: bool
) -> None:
    """After a push: the members of the lists it touched as it observed them (`members`, by
    contact id), the lists CTCT lists now (`list_ids`, memberships of any other dropped).
    `trusted` False marks the mirror for a full read instead."""
    listed = sorted(list_ids)
    with database.session() as session:
        _one_writer(session.connection())
        state = session.get(MirrorState, STATE_ID)
        if state is None:
            return
        if not trusted:
            state.needs_full_read = True
            return
        connection = session.connection()
        connection.execute(delete(MirrorMember).where(MirrorMember.ctct_list_id.not_in(listed)))
        for list_id, contact_ids in members.items():
            connection.execute(delete(MirrorMember).where(MirrorMember.ctct_list_id == list_id))
            _insert_members(connection, [(contact_id, list_id) for contact_id in sorted(contact_ids)])
        state.list_ids = listed
        state.needs_full_read = False


def require_full_read(database: Database) -> None:
    """Marks the mirror as untrusted (a push is about to change CTCT): the next read is full
    unless what the push observed is merged in first (replace_list_members)."""
    with database.session() as session:
        state = session.get(MirrorState, STATE_ID)
        if state is not None:
            state.needs_full_read = True


def read(database: Database) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mirror as a RemoteSnapshot's contacts (with email_key) and members frames."""
    with database.session() as session:
        contacts = _select(session, MirrorContact, REMOTE_CONTACT_COLUMNS)
        members = _select(session, MirrorMember, ["ctct_list_id", "ctct_contact_id"])
    contacts["deleted"] = contacts["deleted"].astype(bool)
    contacts["email_key"] = email_keys(contacts["email"])
    return contacts, members


def newest_stamp(stamps: pd.Series, bound: dt.datetime | None = None) -> str | None:
    """The latest of CTCT's `updated_at` texts, compared as times (texts of another precision
    would sort wrong), returned as CTCT wrote it — but never later than `bound`: a contact changed
    while a read was under way (after its page, before a later page showed a newer stamp) must
    still come with the next `updated_after` read."""
    present = stamps.dropna()
    present = present[present.astype(str) != ""]
    if present.empty:
        return None
    times = pd.to_datetime(present.astype(str), utc=True, format="ISO8601")
    newest = int(times.to_numpy().argmax())
    if bound is not None and times.iloc[newest] > pd.Timestamp(bound):
        return bound.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return str(present.iloc[newest])


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Plain Python values (None for missing), as a DB driver binds them."""
    values = [frame[name].astype(object).where(frame[name].notna(), None).tolist() for name in columns]
    return list(zip(*values, strict=True)) if values else []


def _select(session: Session, model: Any, columns: list[str]) -> pd.DataFrame:
    """The table's `columns` as the driver gives them, through one plain cursor (bulk_frame)."""
    return bulk_frame(
        session, f"SELECT {', '.join(columns)} FROM {model.__tablename__}", dict.fromkeys(columns, OBJECT)
    )


def _insert_contacts(connection: Connection, rows: Sequence[ContactRow]) -> None:
    insert_tuples(connection, MirrorContact.__tablename__, REMOTE_CONTACT_COLUMNS, list(rows))


def _insert_members(connection: Connection, rows: Sequence[MemberRow]) -> None:
    insert_tuples(connection, MirrorMember.__tablename__, MEMBER_COLUMNS, list(rows))
