"""Synchronize: choose a direction, preview row by row, commit — handed to the background worker,
whose progress the page follows from the database (leave and come back: it goes on) — see what it
did; and the scheduled runs held for review."""

import streamlit as st

from ctct import activation
from ctct.errors import ConsoleError
from ctct.sync import background, history, schedules
from ctct.sync.merge import MergePlan
from ctct.sync.plan import PULL, PUSH
from ctct.ui.plan_view import (
    CommitProblem,
    chosen_resolutions,
    commit_plan,
    history_link,
    show_merge_plan,
    show_plan,
    show_result,
)
from ctct.ui.state import client, database, sync_service
from ctct.ui.text import plain

# What the page keeps between runs: the preview (and the held run it reviews), a commit asked for
# in the page (with its mass-removal confirmation), the run it follows, and what the last preview
# or in-page commit ended with.
PLAN, HELD, COMMITTING, FOLLOWING, FINISHED, RESULT, PROBLEM, REPLAN = (
    "sync_plan",
    "sync_held_run",
    "sync_committing",
    "sync_following",
    "sync_finished",
    "sync_result",
    "sync_problem",
    "sync_replan",
)
VERSION = "sync_plan_version"
BOTH = "both"

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
    BOTH: (
        "Sync both ways",
        "Each side's changes since the last sync go to the other: members, new lists, renames and deletions. "
        "Subscription status follows Constant Contact. Where both sides changed a list in ways that cannot both "
        "stand, the preview asks — by default nothing is deleted and no change is lost.",
    ),
}


def clear_preview() -> None:
    for name in (PLAN, HELD, RESULT, PROBLEM, FINISHED):
        st.session_state.pop(name, None)
    # Each plan has its own widgets (conflict choices, the mass-removal tick): none carries over.
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def make_preview(direction: str, resolutions: dict[str, str] | None = None) -> None:
    """A new preview replaces the old one and whatever the last commit said; then the page runs
    again, so that the sidebar counts the requests the preview used."""
    held = st.session_state.get(HELD)
    clear_preview()
    with st.spinner("Reading both sides…"):
        try:
            if held is not None:
                # A held scheduled run: its schedule's stored resolutions, under what was picked.
                resolutions = {**stored_resolutions(held), **(resolutions or {})} or None
            plan = sync_service().plan(direction, resolutions=resolutions)
            st.session_state[PLAN] = plan
            if held is not None:
                # The held run is reviewed with this plan: it is what the run will commit.
                background.replan_run(database(), held, plan)
                st.session_state[HELD] = held
        except ConsoleError as error:
            st.session_state[PROBLEM] = CommitProblem(f"The preview could not be made: {error}", refused=True)
    st.rerun()


def stored_resolutions(run_id: int) -> dict[str, str]:
    run = background.run_state(database(), run_id)
    if run is None or run.schedule_id is None:
        return {}
    try:
        return schedules.view(database(), run.schedule_id).resolutions
    except ConsoleError:
        return {}


def ask_to_commit(allow_mass_removal: bool) -> None:
    """With a worker running, the commit is queued for it (the page only follows it); without one,
    the page commits itself in its next run, as the button beside the warning says."""
    plan, held = st.session_state.get(PLAN), st.session_state.get(HELD)
    if plan is None:
        return
    if background.workers_alive(database()):
        if held is not None:
            try:
                background.requeue_held(database(), held, plan, allow_mass_removal=allow_mass_removal)
            except ConsoleError as error:
                clear_preview()
                st.session_state[PROBLEM] = CommitProblem(f"Not committed: {error}.", refused=True)
                return
            run_id = held
        else:
            run_id = background.queue_run(database(), plan, started_by="console", allow_mass_removal=allow_mass_removal)
        clear_preview()
        st.session_state[FOLLOWING] = run_id
    else:
        st.session_state[COMMITTING] = allow_mass_removal


def review_held(run_id: int) -> None:
    clear_preview()
    try:
        held = background.held(database(), run_id, states=(background.NEEDS_REVIEW,))
    except ConsoleError as error:
        st.session_state[PROBLEM] = CommitProblem(f"It cannot be reviewed: {error}.", refused=True)
        return
    st.session_state[PLAN], st.session_state[HELD] = held.plan, run_id


def dismiss_held(run_id: int) -> None:
    if st.session_state.get(HELD) == run_id:
        clear_preview()
    try:
        background.dismiss(database(), run_id, "console")
    except ConsoleError as error:
        st.session_state[PROBLEM] = CommitProblem(f"Not dismissed: {error}.", refused=True)


def replan_with_choices() -> None:
    st.session_state[REPLAN] = True


def followed_runs() -> None:
    """The runs queued or running, as their rows say (whoever runs them); once the one this page
    handed over is done, the page again."""
    store = database()
    for run in background.active_runs(store):
        with st.container(border=True, key=f"sync_run_{run.id}"):
            title = DIRECTIONS.get(run.direction, (run.direction.capitalize(),))[0]
            st.markdown(
                f"**Run {run.id} — {title}** ({'waiting for the worker' if run.status == 'queued' else 'running'})"
            )
            st.progress(
                min(max(run.progress or 0.0, 0.0), 1.0),
                text=plain((run.progress_message or "starting")[:1].upper() + (run.progress_message or "starting")[1:]),
            )
            st.caption("It runs in the background: leave this page or close it, the sync goes on.")
    following = st.session_state.get(FOLLOWING)
    if following is None:
        return
    run = background.run_state(store, following)
    if run is None or run.status in (background.QUEUED, background.RUNNING):
        return
    # Done: the whole page again, which says how it ended and stops looking every second.
    st.session_state[FINISHED] = st.session_state.pop(FOLLOWING)
    st.rerun()


def finished_run(run_id: int) -> None:
    """How the run this page handed to the worker ended, in words, with its run in History."""
    store = database()
    run = background.run_state(store, run_id)
    if run is None:
        return
    words = plain(history.run_summary(store, run_id))
    if run.status == "completed":
        st.success(f"Run {run_id} done: {words}.", icon=":material/check_circle:")
    elif run.status == "completed_with_errors":
        st.warning(
            f"Run {run_id} done with errors: {words}. See History for what did not apply.", icon=":material/error:"
        )
    else:
        st.error(f"Run {run_id} {run.status.replace('_', ' ')}: {plain(run.error or '')}", icon=":material/error:")
    history_link(run_id)


def held_runs() -> None:
    held = background.runs_needing_review(database())
    if not held:
        return
    st.subheader("Held for review")
    for run in held:
        with st.container(border=True, key=f"sync_held_{run.id}"):
            reasons = (run.plan or {}).get("held_because") or []
            st.markdown(
                f"**Run {run.id}** — {DIRECTIONS.get(run.direction, (run.direction,))[0]}, {run.started_by or ''}"
            )
            for reason in reasons:
                st.caption(plain(reason))
            left, right, _rest = st.columns([1, 1, 6])
            left.button("Review", key=f"sync_review_{run.id}", on_click=review_held, args=(run.id,), type="primary")
            right.button("Dismiss", key=f"sync_dismiss_{run.id}", on_click=dismiss_held, args=(run.id,))


def schedules_section() -> None:
    """Unattended syncs: when each runs next, pause / resume / remove, and a new one."""
    store = database()
    found = schedules.list_schedules(store)
    with st.expander(f"Schedules ({len(found):,})", expanded=False, key="sync_schedules"):
        st.caption(
            "A scheduled sync commits by itself only when its plan needs no decision (no conflict, no mass "
            "removal, within today's requests); otherwise it is held here for review. Times are UTC."
        )
        if not background.workers_alive(store):
            st.warning("No background worker is running: schedules run only while one does.", icon=":material/warning:")
        for item in found:
            left, middle, right = st.columns([6, 1, 1])
            state = "paused" if item.paused else f"next {item.next_due:%Y-%m-%d %H:%M}" if item.next_due else ""
            left.markdown(f"**{DIRECTIONS[item.direction][0]}** {item.when} — {state}")
            middle.button(
                "Resume" if item.paused else "Pause",
                key=f"sync_schedule_pause_{item.id}",
                on_click=schedules.set_paused,
                args=(store, item.id, not item.paused),
            )
            right.button(
                "Remove",
                key=f"sync_schedule_remove_{item.id}",
                on_click=schedules.remove_schedule,
                args=(store, item.id),
            )
        with st.form("sync_schedule_add", border=False):
            first, second, third, fourth = st.columns([3, 2, 1, 1])
            direction = first.selectbox("Sync", list(DIRECTIONS)[::-1], format_func=lambda name: DIRECTIONS[name][0])
            how = second.radio("When", ["Every N minutes", "Daily at"], horizontal=True)
            minutes = third.number_input("Minutes", min_value=1, max_value=schedules.MAX_MINUTES, value=60, step=5)
            daily = fourth.time_input("Daily at (UTC)", value=None, step=900)
            if st.form_submit_button("Add schedule"):
                try:
                    schedules.add_schedule(
                        store,
                        direction,
                        every_minutes=int(minutes) if how == "Every N minutes" else None,
                        daily_at=None if how == "Every N minutes" else (daily.strftime("%H:%M") if daily else ""),
                        created_by="console",
                    )
                    st.rerun()
                except ConsoleError as error:
                    st.error(plain(str(error)), icon=":material/error:")


committing = st.session_state.pop(COMMITTING, None)
plan = st.session_state.get(PLAN)
version = st.session_state.get(VERSION, 0)
if st.session_state.pop(REPLAN, False) and isinstance(plan, MergePlan):
    make_preview(BOTH, chosen_resolutions(plan, "sync", version))

# Every second while a run is queued or running or this page waits for the end of one it handed
# over; otherwise a look every 10 s, for a scheduled run starting meanwhile.
watching = bool(background.active_runs(database())) or st.session_state.get(FOLLOWING) is not None
st.fragment(run_every=1.0 if watching else 10.0)(followed_runs)()
if st.session_state.get(FINISHED) is not None:
    finished_run(st.session_state[FINISHED])
held_runs()

columns = st.columns(len(DIRECTIONS))
for column, direction in zip(columns, DIRECTIONS, strict=True):
    title, explanation = DIRECTIONS[direction]
    with column.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(explanation)
        if st.button("Preview", key=f"sync_preview_{direction}", type="primary", disabled=committing is not None):
            st.session_state.pop(HELD, None)
            make_preview(direction)

# Everything below is one element of the page: a block of another kind takes its place at once
# (the progress box replaces the preview), so nothing of an earlier state lingers on screen.
if committing is not None and plan is not None:
    outcome = commit_plan(
        plan,
        allow_mass_removal=committing,
        label=f"{DIRECTIONS[plan.direction][0]}…",
        run_id=st.session_state.get(HELD),
    )
    if isinstance(outcome, CommitProblem):
        st.session_state[PROBLEM] = outcome
    else:
        st.session_state.pop(PLAN, None)
        st.session_state.pop(HELD, None)
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
        held = st.session_state.get(HELD)
        st.subheader(DIRECTIONS[plan.direction][0] + (f" — reviewing held run {held}" if held else ""))
        if isinstance(plan, MergePlan):
            show_merge_plan(plan, "sync", on_choice=replan_with_choices, version=version)
        else:
            show_plan(plan, "sync")
        allowed = True
        if plan.mass_removals:
            allowed = st.checkbox(
                "I understand: delete these lists / remove these members", key=f"sync_allow_mass_{version}"
            )
        if not plan.is_empty:
            worker_there = bool(background.workers_alive(database()))
            if not worker_there:
                st.warning(
                    "No background worker is running (`python -m ctct worker`; the demo script starts one): the "
                    "sync can run in this page instead — keep the page open until it is done.",
                    icon=":material/warning:",
                )
            st.button(
                "Commit",
                type="primary",
                disabled=not allowed,
                key="sync_commit",
                on_click=ask_to_commit,
                args=(allowed,),
            )

schedules_section()
