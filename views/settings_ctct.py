"""Settings → Constant Contact: activation (OAuth login), the initial import, deactivation."""

import html
import time

import streamlit as st

from ctct import activation
from ctct.errors import ConsoleError
from ctct.sandbox.demo_account import reset_demo
from ctct.sync.plan import IMPORT
from ctct.ui.plan_view import commit_with_progress, show_plan, summary_of
from ctct.ui.state import client, database, settings, sync_service
from ctct.ui.text import plain

PRIMARY = "#1856c6"  # .streamlit/config.toml's primaryColor

# The sign-in started for this browser session: a fresh state and verifier (stored server-side)
# are made once, and again before CTCT's 10 minutes for a sign-in run out.
LOGIN_ADDRESS_LIFETIME = 9 * 60
ACTIVATE_STYLE = (
    f"display:inline-block;padding:0.45rem 0.9rem;border-radius:0.5rem;background:{PRIMARY};"
    "color:#fff;text-decoration:none;font-weight:500"
)


def activation_address() -> str:
    made = st.session_state.get("settings_login_url")
    if made is None or time.monotonic() - made[1] > LOGIN_ADDRESS_LIFETIME:
        made = (client().authorization.start(), time.monotonic())
        st.session_state["settings_login_url"] = made
    return str(made[0])


def activate_again() -> None:
    st.session_state["settings_activate_again"] = True


st.title("Settings · Constant Contact")

flash = st.session_state.pop("settings_flash", None)
if flash:
    kind, message = flash
    (st.success if kind == "ok" else st.error)(plain(message))

status = activation.connection_status(client())


@st.dialog("Reset the demo?")
def confirm_reset() -> None:
    st.write(
        "The demo CRM data and the sandbox account go back to how they were at the first start; the "
        "connection, the lists and the history here are deleted."
    )
    if st.button("Reset demo", type="primary", key="settings_reset_confirm"):
        reset_demo(client(), database())
        st.session_state.clear()
        st.session_state["settings_flash"] = ("ok", "The demo is reset.")
        st.rerun()


if settings().demo_mode and st.button("Reset demo…", key="settings_reset"):
    confirm_reset()

if not status.active:
    if status.key_error:
        st.error(
            f"{plain(status.key_error[0].upper() + status.key_error[1:])}. Nothing else stored was lost.",
            icon=":material/key_off:",
        )
    elif status.reauthorization_required:
        st.warning(
            f"Constant Contact no longer accepts the authorization for {plain(status.account_name)}: "
            "activate again. Nothing stored was lost."
        )
    st.write(
        "Constant Contact is **not activated**. Activating connects your Constant Contact account and brings "
        "its email lists over."
    )
    if status.key_error and not st.session_state.get("settings_activate_again"):
        # Starting a sign-in seals its verifier, and with the key gone that makes a new key: only
        # when asked, so that merely looking at this page never replaces the lost key.
        st.button("Activate again", type="primary", key="settings_activate_again_button", on_click=activate_again)
        st.stop()
    # One click, in this tab: Constant Contact's login, then back here (its redirect comes to app.py).
    login_url = activation_address()
    st.markdown(
        f'<a href="{html.escape(login_url)}" target="_self" class="ctct-activate" '
        f'style="{ACTIVATE_STYLE}">Activate Constant Contact</a>',
        unsafe_allow_html=True,
    )
    st.caption("You log in on Constant Contact's page, in this tab, and come back here.")
    st.stop()

st.success(f"Activated: **{plain(status.account_name)}** ({plain(status.account_email)})", icon=":material/link:")
st.caption(
    f"{activation.describe_expiry(status)} · {status.requests_used_today:,} of {status.daily_quota:,} "
    "requests used today"
)

if st.session_state.get("settings_import_pending") or activation.list_count(database()) == 0:
    st.subheader("Initial import")
    st.write("Every Constant Contact list and its members come over; companies and contacts are matched or created.")
    if st.button("Preview the import", key="settings_preview_import"):
        try:
            st.session_state["settings_import_plan"] = sync_service().plan(IMPORT)
        except ConsoleError as error:
            st.error(plain(error))
    plan = st.session_state.get("settings_import_plan")
    if plan is not None:
        show_plan(plan, "settings_import")
        committed = st.button("Commit the import", type="primary", key="settings_commit_import")
        result = commit_with_progress(plan) if committed else None
        if result is not None:
            st.session_state.pop("settings_import_plan", None)
            st.session_state.pop("settings_import_pending", None)
            st.session_state["settings_flash"] = ("ok", f"The import is committed: {summary_of(result)}")
            st.rerun()


@st.dialog("Deactivate Constant Contact?")
def confirm_deactivation() -> None:
    lists_held = activation.list_count(database())
    st.write(
        f"This revokes the token and deletes all **{lists_held:,} email lists** here, with their members. "
        "Companies and contacts — also those the import created — stay."
    )
    if st.button("Deactivate", type="primary", key="settings_deactivate_confirm"):
        summary = activation.deactivate(client(), database())
        st.session_state["settings_flash"] = (
            "ok",
            f"Deactivated: {summary.lists_deleted:,} lists deleted; companies and contacts kept.",
        )
        st.rerun()


st.divider()
if st.button("Deactivate…", key="settings_deactivate"):
    confirm_deactivation()
