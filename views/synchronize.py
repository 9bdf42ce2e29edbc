"""Synchronize: choose a direction, preview row by row, commit with progress."""

import streamlit as st

from ctct import activation
from ctct.api.errors import CtctError
from ctct.sync.apply import COMPLETED_WITH_ERRORS
from ctct.sync.plan import PULL, PUSH, describe_counts
from ctct.ui.plan_view import commit_with_progress, show_plan
from ctct.ui.state import client, sync_service
from ctct.ui.text import plain

st.title("Synchronize")

connection = activation.connection_status(client())
if connection.key_error:
    message = connection.key_error[0].upper() + connection.key_error[1:]
    st.error(f"{plain(message)} — on Settings → Constant Contact.", icon=":material/key_off:")
    st.stop()
if not connection.active:
    st.info("Activate Constant Contact first (Settings → Constant Contact).")
    st.stop()

DIRECTIONS = {
    PUSH: (
        "Update Constant Contact from Customer Focus",
        "Lists, renames, deletions and members made here go to Constant Contact. Changes made in Constant "
        "Contact since the last sync are undone — the preview names them; pull first to keep them.",
    ),
    PULL: (
        "Update Customer Focus from Constant Contact",
        "Lists, renames, deletions, removals and unsubscribes made in Constant Contact come here. Changes made "
        "here since the last sync are undone — the preview names them; push first to keep them.",
    ),
}
left, right = st.columns(2)
for column, direction in zip((left, right), DIRECTIONS, strict=True):
    title, explanation = DIRECTIONS[direction]
    with column.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(explanation)
        if st.button("Preview", key=f"sync_preview_{direction}", type="primary"):
            try:
                st.session_state["sync_plan"] = sync_service().plan(direction)
            except CtctError as error:
                st.error(plain(error))

plan = st.session_state.get("sync_plan")
if plan is not None:
    st.subheader(DIRECTIONS[plan.direction][0])
    show_plan(plan, "sync")
    allowed = True
    if plan.mass_removals:
        allowed = st.checkbox("I understand: delete these lists / remove these members", key="sync_allow_mass")
    if not plan.is_empty and st.button("Commit", type="primary", disabled=not allowed, key="sync_commit"):
        result = commit_with_progress(plan, allow_mass_removal=allowed)
        if result is not None:
            st.session_state.pop("sync_plan", None)
            changed = describe_counts(result.counts)
            if result.status == COMPLETED_WITH_ERRORS:
                st.warning(f"Synchronized with errors (run {result.run_id}): {changed}; see what did not apply above.")
            else:
                st.success(f"Synchronized: {changed}.")
        elif st.button("Make a new preview", key="sync_again"):
            st.session_state["sync_plan"] = sync_service().plan(plan.direction)
            st.rerun()
