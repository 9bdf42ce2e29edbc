"""Entry point of the console: page setup and navigation; pages live in pages/."""

import streamlit as st

from ctct.ui.state import database, settings

st.set_page_config(page_title="Customer Focus · Constant Contact", page_icon=":material/mail:", layout="wide")

navigation = st.navigation(
    {
        "Constant Contact": [
            st.Page("pages/email_lists.py", title="Email Lists", icon=":material/list_alt:", default=True),
        ],
        "Customer Focus": [
            st.Page("pages/customers.py", title="Customers & Prospects", icon=":material/apartment:"),
        ],
    }
)

with st.sidebar:
    st.caption("Customer Focus · ULTIMATE")
    if settings().demo_mode:
        st.info("Demo mode: demo data, no Constant Contact account needed.", icon=":material/science:")
    st.caption(f"Database: {database().engine.dialect.name}")

navigation.run()
