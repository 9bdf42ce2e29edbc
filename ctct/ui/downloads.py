"""The one way pages offer a table as a CSV file (formula-safe, as every CSV the console writes)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ctct.safe_csv import csv_bytes


def csv_download(frame: pd.DataFrame, file_name: str, key: str, label: str = "Download CSV") -> None:
    # Written when the button is clicked, not on every run: 100,000 contacts take a moment to write.
    st.download_button(
        label,
        lambda: csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
    )
