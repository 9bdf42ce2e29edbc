"""History: every import and sync, with counts, duration, requests used, and row-level changes;
and every change to a list's members made here or on the command line."""

import streamlit as st

from ctct import lists
from ctct.sync import history
from ctct.ui.downloads import csv_download
from ctct.ui.state import database
from ctct.ui.text import plain

JOURNAL_ROWS = 1_000

st.title("History")
syncs_tab, members_tab = st.tabs(["Syncs and imports", "List changes"])

with syncs_tab:
    runs = history.runs(database())
    if not runs:
        st.info("No imports or syncs yet.")
    else:
        table = history.runs_frame(runs)
        st.dataframe(table, hide_index=True, width="stretch")
        chart = table.sort_values("Run").assign(Run=lambda f: "#" + f["Run"].astype(str) + " " + f["Direction"])
        st.caption("Requests per run, oldest first")
        st.bar_chart(chart, x="Run", y="Requests", sort=False)

        chosen = st.selectbox("Row-level changes of run", table["Run"], key="history_run")
        detail = history.run_detail(database(), int(chosen))
        run = detail["run"]
        if run["error"]:
            st.error(plain(run["error"]))
        for warning in run["warnings"]:
            st.warning(plain(warning))
        changes = detail["changes"]
        kinds = sorted(changes["change"].unique()) if len(changes) else []
        picked = st.multiselect("Change types", kinds, default=kinds, key="history_kinds")
        shown = changes[changes["change"].isin(picked)]
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
