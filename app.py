"""Entry point of the console: page setup, the OAuth callback, navigation and the sidebar."""

from urllib.parse import urlencode

import streamlit as st

from ctct import activation
from ctct.api.errors import CtctError
from ctct.ui.state import client, settings
from ctct.ui.text import plain

st.set_page_config(page_title="Customer Focus · Constant Contact", page_icon=":material/mail:", layout="wide")


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


# The login gate (SPEC: off in demo mode): with an [auth] section in secrets, every page needs an OIDC login.
if auth_configured() and not settings().demo_mode and not st.user.is_logged_in:
    st.title("Customer Focus · Constant Contact")
    st.button("Log in", on_click=st.login, type="primary")
    st.stop()

settings_page = st.Page("pages/settings_ctct.py", title="Constant Contact", icon=":material/settings:")

# Constant Contact's login sends the browser back here with ?code=…&state=… (or ?error=…).
params = st.query_params.to_dict()
if "state" in params and ("code" in params or "error" in params):
    redirected = f"{settings().redirect_uri}?{urlencode(params)}"
    st.query_params.clear()
    try:
        status = activation.complete_activation(client(), redirected)
        st.session_state["settings_flash"] = ("ok", f"Connected to {status.account_name}.")
        st.session_state["settings_import_pending"] = True
    except CtctError as error:
        st.session_state["settings_flash"] = ("error", str(error))
    st.switch_page(settings_page)

navigation = st.navigation(
    {
        "Constant Contact": [
            st.Page("pages/email_lists.py", title="Email Lists", icon=":material/list_alt:", default=True),
            st.Page("pages/synchronize.py", title="Synchronize", icon=":material/sync:"),
            st.Page("pages/history.py", title="History", icon=":material/history:"),
        ],
        "Customer Focus": [
            st.Page("pages/customers.py", title="Customers & Prospects", icon=":material/apartment:"),
        ],
        "Settings": [
            settings_page,
            st.Page("pages/marketing_tags.py", title="Marketing Tags", icon=":material/sell:"),
        ],
    }
)

with st.sidebar:
    st.caption("Customer Focus · ULTIMATE")
    status = activation.connection_status(client())
    if status.active:
        st.success(f"Constant Contact: {plain(status.account_name)}", icon=":material/link:")
    else:
        st.warning("Constant Contact: not activated", icon=":material/link_off:")
    st.progress(
        min(status.requests_used_today / max(status.daily_quota, 1), 1.0),
        text=f"{status.requests_used_today:,} of {status.daily_quota:,} requests today",
    )
    if settings().demo_mode:
        st.info(
            "Demo mode: demo data and the built-in Constant Contact sandbox (log in as demo / demo).",
            icon=":material/science:",
        )

navigation.run()
