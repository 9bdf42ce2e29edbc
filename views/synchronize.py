"""Synchronize: choose a direction, preview row by row, commit with one progress bar, see what it did."""

import streamlit as st

from ctct import activation
from ctct.errors import ConsoleError
from ctct.sync.plan import PULL, PUSH
from ctct.ui.plan_view import CommitProblem, commit_plan, show_plan, show_result
from ctct.ui.state import client, sync_service
from ctct.ui.text import plain

# What the page keeps between runs: the preview, a commit asked for (with its mass-removal
# confirmation), and what the last commit or preview ended with.
PLAN, COMMITTING, RESULT, PROBLEM = "sync_plan", "sync_committing", "sync_result", "sync_problem"

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


def make_preview(direction: str) -> None:
    """A new preview replaces the old one and whatever the last commit said; then the page runs
    again, so that the sidebar counts the requests the preview used."""
    for name in (PLAN, RESULT, PROBLEM):
        st.session_state.pop(name, None)
    with st.spinner("Reading both sides…"):
        try:
            st.session_state[PLAN] = sync_service().plan(direction)
        except ConsoleError as error:
            st.session_state[PROBLEM] = CommitProblem(f"The preview could not be made: {error}", refused=True)
    st.rerun()


def ask_to_commit(allow_mass_removal: bool) -> None:
    # Committed in the next run, which draws the progress where the preview was: the preview and
    # its Commit button are gone while it runs.
    st.session_state[COMMITTING] = allow_mass_removal


committing = st.session_state.pop(COMMITTING, None)
plan = st.session_state.get(PLAN)
left, right = st.columns(2)
for column, direction in zip((left, right), DIRECTIONS, strict=True):
    title, explanation = DIRECTIONS[direction]
    with column.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(explanation)
        if st.button("Preview", key=f"sync_preview_{direction}", type="primary", disabled=committing is not None):
            make_preview(direction)

# Everything below is one element of the page: a block of another kind takes its place at once
# (the progress box replaces the preview), so nothing of an earlier state lingers on screen.
if committing is not None and plan is not None:
    outcome = commit_plan(plan, allow_mass_removal=committing, label=f"{DIRECTIONS[plan.direction][0]}…")
    if isinstance(outcome, CommitProblem):
        st.session_state[PROBLEM] = outcome
    else:
        st.session_state.pop(PLAN, None)
        st.session_state[RESULT] = outcome
    # Again from the top: the sidebar, drawn before this page, then counts this commit's requests.
    st.rerun()

result = st.session_state.get(RESULT)
problem = st.session_state.get(PROBLEM)
with st.container(key="sync_section"):
    if result is not None:
        st.subheader(DIRECTIONS[result.direction][0])
        show_result(result)
    elif problem is not None:
        if plan is not None:
            st.subheader(DIRECTIONS[plan.direction][0])
        st.error(plain(problem.message), icon=":material/block:" if problem.refused else ":material/error:")
        if plan is not None and st.button("Make a new preview", type="primary", key="sync_again"):
            make_preview(plan.direction)
    elif plan is not None:
        st.subheader(DIRECTIONS[plan.direction][0])
        show_plan(plan, "sync")
        allowed = True
        if plan.mass_removals:
            allowed = st.checkbox("I understand: delete these lists / remove these members", key="sync_allow_mass")
        if not plan.is_empty:
            st.button(
                "Commit",
                type="primary",
                disabled=not allowed,
                key="sync_commit",
                on_click=ask_to_commit,
                args=(allowed,),
            )
