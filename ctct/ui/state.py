"""What the pages share per server process: the database, the CTCT client, the sync service."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ctct import lists
from ctct.api.client import CtctClient
from ctct.config import Settings
from ctct.db import Database
from ctct.sync.apply import SyncService


@st.cache_resource(show_spinner="Opening the database…")
def _open_database(database_url: str) -> Database:
    return Database(database_url)


@st.cache_resource
def _client(settings: Settings) -> CtctClient:
    return CtctClient.from_settings(settings, _open_database(settings.database_url))


def settings() -> Settings:
    return Settings.load()


def database() -> Database:
    return _open_database(settings().database_url)


def client() -> CtctClient:
    return _client(settings())


def sync_service() -> SyncService:
    return SyncService(database(), client(), settings())


@st.cache_data(max_entries=4, show_spinner="Reading contacts…")
def _all_contacts(database_url: str, version: tuple, roles: frozenset[str]) -> pd.DataFrame:
    with _open_database(database_url).session() as session:
        return lists.contacts_frame(session, role_addresses=roles)


def contacts(contact_filter: lists.ContactFilter, email_list_name: str | None = None) -> pd.DataFrame:
    """The grid's rows for a filter: the whole CRM's frame is cached until the CRM changes."""
    current = settings()
    with database().session() as session:
        frame = _all_contacts(current.database_url, lists.crm_version(session), current.role_addresses)
        frame = lists.filter_contacts(session, frame, contact_filter)
        if email_list_name is not None:
            frame = lists.with_members(session, frame, lists.get_list(session, email_list_name))
    return frame
