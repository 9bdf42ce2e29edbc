"""Entry point of the console: page setup, the OAuth callback, navigation and the sidebar."""

from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from ctct import activation
from ctct.errors import ConsoleError
from ctct.sync import background
from ctct.ui.state import client, database, settings
from ctct.ui.text import plain

FAVICON = Path(__file__).parent / "ctct" / "ui" / "favicon.png"  # local: the console works offline

st.set_page_config(page_title="Customer Focus · Constant Contact", page_icon=str(FAVICON), layout="wide")


def login_required() -> bool:
    """SPEC §11: with an [auth] section in secrets, every page and URL needs an OIDC login."""
    try:
        configured = "auth" in st.secrets
    except FileNotFoundError:
        configured = False
    return configured and not st.user.is_logged_in


# Each page: its section in the sidebar, its module in views/, title and icon. The first is the default.
PAGES = {
    "Constant Contact": [
        ("email_lists", "Email Lists", ":material/list_alt:"),
        ("synchronize", "Synchronize", ":material/sync:"),
        ("history", "History", ":material/history:"),
    ],
    "Customer Focus": [("customers", "Customers & Prospects", ":material/apartment:")],
    "Settings": [
        ("settings_ctct", "Constant Contact", ":material/settings:"),
        ("marketing_tags", "Marketing Tags", ":material/sell:"),
    ],
}
PAGE_NAMES = [name for section in PAGES.values() for name, _, _ in section]


def login() -> None:
    st.title("Customer Focus · Constant Contact")
    st.caption("The console holds the CRM's contacts: log in with your organization's account to continue.")
    st.button("Log in", on_click=st.login, type="primary")


if login_required():
    # The login answers at every page's URL (a bookmark, a tab reconnecting after a restart), and
    # nothing else can be reached: there is no other page until the user has logged in.
    st.navigation(
        [st.Page(login, title="Log in", url_path=name, default=name == PAGE_NAMES[0]) for name in PAGE_NAMES],
        position="hidden",
    ).run()
    st.stop()

status = activation.connection_status(client())
# Lists exist only while the integration is active (SPEC §2): until then the console opens on the
# activation page, as the CRM's own integration does.
landing = PAGE_NAMES[0] if status.active else "settings_ctct"
pages = {
    section: [
        st.Page(f"views/{name}.py", title=title, icon=icon, default=name == landing) for name, title, icon in entries
    ]
    for section, entries in PAGES.items()
}
settings_page = next(page for page in pages["Settings"] if page.title == "Constant Contact")

# Constant Contact's login sends the browser back here with ?code=…&state=… (or ?error=…).
params = st.query_params.to_dict()
if "state" in params and ("code" in params or "error" in params):
    redirected = f"{settings().redirect_uri}?{urlencode(params)}"
    st.query_params.clear()
    try:
        status = activation.complete_activation(client(), redirected)
        st.session_state["settings_flash"] = ("ok", f"Connected to {status.account_name}.")
        st.session_state["settings_import_pending"] = True
    except ConsoleError as error:
        st.session_state["settings_flash"] = ("error", str(error))
    st.switch_page(settings_page)

navigation = st.navigation(pages)

with st.sidebar:
    st.caption("Customer Focus · ULTIMATE")
    if status.key_error:
        st.error("Constant Contact: the stored tokens cannot be opened — activate again", icon=":material/key_off:")
    elif status.active:
        st.success(f"Constant Contact: {plain(status.account_name)}", icon=":material/link:")
    else:
        st.warning("Constant Contact: not activated", icon=":material/link_off:")
    st.progress(
        min(status.requests_used_today / max(status.daily_quota, 1), 1.0),
        text=f"{status.requests_used_today:,} of {status.daily_quota:,} requests today",
    )
    held = background.runs_needing_review(database())
    if held:
        st.warning(f"{len(held):,} scheduled sync(s) need review: see Synchronize", icon=":material/pending_actions:")
        st.page_link(pages["Constant Contact"][1], label="Review on Synchronize", icon=":material/sync:")
    running = background.active_runs(database())
    if running:
        run = running[0]
        st.caption(f"Sync run {run.id} ({run.direction}) {run.status}: {round(100 * (run.progress or 0))} %")
    if settings().demo_mode:
        st.info(
            "Demo mode: demo data and the built-in Constant Contact sandbox (log in as demo / demo).",
            icon=":material/science:",
        )

navigation.run()
