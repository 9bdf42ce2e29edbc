"""History: every import and sync, with counts, duration, requests used, and row-level changes."""

import streamlit as st

from ctct.sync import history
from ctct.ui.state import database
from ctct.ui.text import plain

st.title("History")
runs = history.runs(database())
if not runs:
    st.info("No imports or syncs yet.")
    st.stop()

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
st.download_button(
    "Download CSV",
    shown.to_csv(index=False).encode(),
    file_name=f"run-{chosen}.csv",
    mime="text/csv",
    key="history_csv",
)
