"""What the pages share per server process: the database, the CTCT client, the sync service."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from ctct import lists
from ctct.api.client import CtctClient
from ctct.config import Settings
from ctct.crm.contact_frame import ContactDirectory, ContactFilter, filter_contacts, with_members
from ctct.db import Database
from ctct.db.stores import open_client
from ctct.sync.apply import SyncService


@st.cache_resource(show_spinner="Opening the database…")
def _open_database(database_url: str) -> Database:
    return Database(database_url)


@st.cache_resource
def _client(settings: Settings) -> CtctClient:
    return open_client(settings, _open_database(settings.database_url))


def settings() -> Settings:
    return Settings.load()


def database() -> Database:
    return _open_database(settings().database_url)


def client() -> CtctClient:
    return _client(settings())


def sync_service() -> SyncService:
    return SyncService(database(), client(), settings())


@st.cache_resource(show_spinner="Reading contacts…")
def _directory(database_url: str, roles: frozenset[str]) -> ContactDirectory:
    return ContactDirectory(roles)


def directory() -> ContactDirectory:
    """Every contact with its eligibility, shared by all sessions and kept current (see
    ContactDirectory): re-read only where the CRM changed."""
    current = settings()
    return _directory(current.database_url, current.role_addresses)


def all_contacts(session: Session) -> pd.DataFrame:
    return directory().frame(session)


def contacts(contact_filter: ContactFilter, email_list_id: int | None = None) -> pd.DataFrame:
    """The grid's rows for a filter, with `member` for a list, as stored now."""
    with database().session() as session:
        frame = filter_contacts(session, all_contacts(session), contact_filter)
        if email_list_id is not None:
            frame = with_members(session, frame, lists.get_list_by_id(session, email_list_id))
    return frame


def actor() -> str:
    """Who is using the console, as the journal names them: the logged-in user, or "console"."""
    # Without a login configured, st.user holds no `is_logged_in` at all.
    if st.user.get("is_logged_in", False):
        return str(st.user.get("email") or st.user.get("name") or "console user")
    return "console"
