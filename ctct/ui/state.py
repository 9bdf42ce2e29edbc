"""The database the pages share, opened (and migrated) once per server process."""

from __future__ import annotations

import streamlit as st

from ctct.config import Settings
from ctct.db import Database


@st.cache_resource(show_spinner="Opening the database…")
def _open_database(database_url: str) -> Database:
    return Database(database_url)


def settings() -> Settings:
    return Settings.load()


def database() -> Database:
    return _open_database(settings().database_url)
