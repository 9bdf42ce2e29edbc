"""What the pages share per server process: the database, the CTCT client, the sync service."""

from __future__ import annotations

import streamlit as st

from ctct.api.client import CtctClient
from ctct.config import Settings
from ctct.db import Database
from ctct.sync.apply import SyncService
from ctct.sync.plan import MassRemovalPolicy


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
    current = settings()
    policy = MassRemovalPolicy(current.mass_removal_percent, current.mass_removal_min_list)
    return SyncService(database(), client(), current, policy)
