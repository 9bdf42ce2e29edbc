"""The preview of a Plan: counts, warnings, and one filterable table per change kind."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ctct.api.errors import CtctError
from ctct.errors import ConsoleError
from ctct.sync.apply import COMPLETED_WITH_ERRORS, SyncResult
from ctct.sync.journal import SyncRefused
from ctct.sync.plan import CHANGE_KINDS, Plan
from ctct.ui.downloads import csv_download
from ctct.ui.state import sync_service
from ctct.ui.text import plain


def _matches(frame: pd.DataFrame, needle: str) -> pd.Series:
    text = frame.astype(str)
    return text.apply(lambda column: column.str.contains(needle, case=False, regex=False)).any(axis=1)


def show_plan(plan: Plan, key: str) -> None:
    counts = plan.counts()
    shown = [(kind, count) for kind, count in counts.items() if count]
    if not shown:
        st.success("Both sides already agree: nothing to change.")
    columns = st.columns(max(len(shown), 1))
    for column, (kind, count) in zip(columns, shown, strict=False):
        column.metric(CHANGE_KINDS[kind][0], f"{count:,}")
    st.caption(f"About {plan.estimated_requests:,} Constant Contact requests.")
    for warning in plan.warnings:
        st.warning(plain(warning.message), icon=":material/warning:")
    for removal in plan.mass_removals:
        st.error(f"Mass removal: this {plain(removal)}", icon=":material/delete_sweep:")
    tabs = [kind for kind, _ in shown]
    if not tabs:
        return
    for tab, kind in zip(st.tabs([CHANGE_KINDS[kind][0] for kind in tabs]), tabs, strict=True):
        with tab:
            frame = plan[kind][CHANGE_KINDS[kind][1]]
            needle = st.text_input("Filter", key=f"{key}_{kind}_filter", placeholder="email, list or name")
            if needle:
                frame = frame[_matches(frame, needle)]
            st.dataframe(frame, hide_index=True, width="stretch")
            csv_download(frame, f"{plan.direction}-{kind}.csv", f"{key}_{kind}_csv")


def commit_with_progress(plan: Plan, *, allow_mass_removal: bool = False) -> SyncResult | None:
    """Commits with a progress bar and CTCT's queue message; errors are explained, not raised."""
    service = sync_service()
    with st.status("Synchronizing with Constant Contact…", expanded=True) as status:
        bar = st.progress(0.0)
        note = st.empty()

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0))
            note.write(plain(message))

        try:
            result = service.commit(
                plan, allow_mass_removal=allow_mass_removal, progress=progress, started_by="console"
            )
        except SyncRefused as error:
            status.update(label="Not committed", state="error")
            st.error(plain(error), icon=":material/block:")
            return None
        except (CtctError, ConsoleError) as error:
            status.update(label="Stopped by an error", state="error")
            st.error(f"{plain(error)} — nothing already stored was lost; run it again or resume it.")
            return None
        if result.status == COMPLETED_WITH_ERRORS:
            status.update(label=f"Done with errors: run {result.run_id}", state="error")
        else:
            status.update(label=f"Done: run {result.run_id}, {result.requests_used:,} requests", state="complete")
    if result.failed:
        st.warning(
            f"{len(result.failed):,} change(s) did not apply in Constant Contact; they stay differences that the "
            "next preview shows again. History lists them with Constant Contact's reason.",
            icon=":material/error:",
        )
        shown = pd.DataFrame(result.failed[:200]).rename(
            columns={"kind": "Change", "list": "List", "email": "Email", "reason": "Why"}
        )
        st.dataframe(shown, hide_index=True, width="stretch")
    for message in result.activity_errors[:10]:
        st.warning(f"Constant Contact reported: {plain(message)}")
    return result
