"""History: every import and sync, with what it changed (in words, and members per list over
time), duration, requests used, and row-level changes; and every change to a list's members made
here or on the command line."""

import altair as alt
import pandas as pd
import streamlit as st

from ctct import lists
from ctct.sync import history
from ctct.sync.plan import COLUMN_TITLES, plain_counts
from ctct.ui.downloads import csv_download
from ctct.ui.plan_view import RUN_PARAM
from ctct.ui.state import database
from ctct.ui.text import plain

JOURNAL_ROWS = 1_000
RUN_CHOICE = "history_run"

st.title("History")
syncs_tab, members_tab = st.tabs(["Syncs and imports", "List changes"])


def run_label(run: object, direction: object) -> str:
    return f"#{run} {direction}"


def members_chart(changes: pd.DataFrame, runs: pd.DataFrame) -> alt.LayerChart:
    """Members added (up) and removed (down) per list, one bar per run: what changed over time.
    Every run has its place, oldest first: a run that changed no members shows as a gap."""
    frame = changes.assign(Label=[run_label(*pair) for pair in zip(changes["Run"], changes["Direction"], strict=True)])
    long = frame.melt(
        id_vars=["Run", "Label", "Started", "List"],
        value_vars=["Added", "Removed"],
        var_name="Change",
        value_name="Members",
    )
    long = long[long["Members"] > 0]
    long["Shown"] = long["Members"].where(long["Change"] == "Added", -long["Members"])
    oldest_first = runs.sort_values("Run")
    order = [run_label(*pair) for pair in zip(oldest_first["Run"], oldest_first["Direction"], strict=True)]
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X(
                "Label:N",
                sort=order,
                scale=alt.Scale(domain=order),
                title="Run, oldest first",
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("Shown:Q", title="Members added (up) and removed (down)"),
            color=alt.Color("List:N", title="List"),
            tooltip=[
                alt.Tooltip("Label", title="Run"),
                "Started",
                "List",
                alt.Tooltip("Change", title="Members"),
                alt.Tooltip("Members", title="How many"),
            ],
        )
    )
    # The line between added and removed.
    zero = alt.Chart(pd.DataFrame({"Shown": [0]})).mark_rule(color="gray").encode(y="Shown:Q")
    return bars + zero


def remember_run() -> None:
    # The run chosen is in the page's address: a reload, a bookmark or a link shows the same run.
    st.query_params[RUN_PARAM] = str(st.session_state[RUN_CHOICE])


with syncs_tab:
    runs = history.runs(database())
    if not runs:
        st.info("No imports or syncs yet.")
    else:
        table = history.runs_frame(runs, changes=plain_counts)
        st.dataframe(table, hide_index=True, width="stretch")

        moved = history.member_changes(database())
        st.markdown("**Members added and removed, per list and run**")
        if moved.empty:
            st.caption("No import or sync has added or removed members yet.")
        else:
            st.altair_chart(members_chart(moved, table), width="stretch")
        with st.expander("Constant Contact requests per run"):
            requests = table.sort_values("Run")
            requests["Run"] = [run_label(*pair) for pair in zip(requests["Run"], requests["Direction"], strict=True)]
            st.caption("Each run's requests count against the account's daily limit (the sidebar shows today's).")
            st.bar_chart(requests, x="Run", y="Requests", sort=False)

        labels = {
            int(row.Run): f"Run {row.Run} · {row.Direction} · {row.Started} · {row.Status}"
            for row in table.itertuples()
        }
        asked = st.query_params.get(RUN_PARAM, "")
        if asked.isdigit() and int(asked) in labels:
            st.session_state[RUN_CHOICE] = int(asked)
        elif asked:
            st.warning(f"There is no run {plain(asked)} in History (the address names it): the newest run is shown.")
            del st.query_params[RUN_PARAM]
        chosen = st.selectbox(
            "Run", list(labels), format_func=labels.__getitem__, key=RUN_CHOICE, on_change=remember_run
        )
        detail = history.run_detail(database(), int(chosen))
        run = detail["run"]
        st.info(f"Run {chosen}: {plain(history.run_summary(database(), int(chosen)))}.", icon=":material/summarize:")
        if run["error"]:
            st.error(plain(run["error"]))
        for warning in run["warnings"]:
            st.warning(plain(warning))
        changes = detail["changes"]
        if changes.empty:
            st.caption("This run recorded its counts only, no row-level changes.")
        else:
            kinds = sorted(changes["change"].unique())
            # One filter per run: another run's choices would hide this run's rows.
            picked = st.multiselect("Change types", kinds, default=kinds, key=f"history_kinds_{chosen}")
            shown = changes[changes["change"].isin(picked)]
            shown = shown.astype(object).where(shown.notna(), "").rename(columns=COLUMN_TITLES)
            if len(shown) < len(changes):
                st.caption(f"{len(shown):,} of the run's {len(changes):,} row-level changes, of the types chosen.")
            st.dataframe(shown, hide_index=True, width="stretch")
            csv_download(shown, f"run-{chosen}.csv", "history_csv")

with members_tab:
    with database().session() as session:
        names = [email_list.name for email_list, _ in lists.all_lists(session)]
    only = st.selectbox("List", ["All lists", *names], key="history_members_list")
    with database().session() as session:
        journal = lists.change_history(session, list_name=None if only == "All lists" else only, limit=JOURNAL_ROWS)
    if journal.empty:
        st.info("No list changes yet: ticks, Select all, Clear all, undos and command-line changes appear here.")
    else:
        newest = f"the newest {JOURNAL_ROWS:,}" if len(journal) == JOURNAL_ROWS else f"{len(journal):,}"
        st.caption(f"{newest} changes, newest first: who changed which list, when and how.")
        st.dataframe(journal, hide_index=True, width="stretch")
        csv_download(journal, "list-changes.csv", "history_members_csv")
        labels = {
            int(change): f"#{change} · {when} · {name} · {how} (+{added:,} −{removed:,})"
            for change, when, name, how, added, removed in journal[
                ["Change", "When (UTC)", "List", "How", "Added", "Removed"]
            ].itertuples(index=False)
        }
        change_id = st.selectbox(
            "Contacts of change", list(labels), format_func=labels.__getitem__, key="history_members_change"
        )
        with database().session() as session:
            rows = lists.change_rows(session, int(change_id)).rename(
                columns={"email": "Email", "change": "Change", "contact_id": "Contact id"}
            )
        st.dataframe(rows, hide_index=True, width="stretch")
        csv_download(rows, f"list-change-{change_id}.csv", "history_members_change_csv")
