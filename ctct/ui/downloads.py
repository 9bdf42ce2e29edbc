"""The one way pages offer a table as a CSV file."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def csv_download(frame: pd.DataFrame, file_name: str, key: str, label: str = "Download CSV") -> None:
    st.download_button(label, frame.to_csv(index=False).encode(), file_name=file_name, mime="text/csv", key=key)
