"""The preview of a Plan (counts, warnings, companies, one filterable table per change kind), the
commit with one progress bar, and what a commit did, in words, with its run in History."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ctct.crm.normalize import company_name_key
from ctct.errors import ConsoleError, SyncRefused
from ctct.sync import history
from ctct.sync.apply import COMPLETED_WITH_ERRORS, SyncResult
from ctct.sync.changes import CHANGE_KINDS, ChangeKind, title_of
from ctct.sync.merge import CHOICE_WORDS, CONFLICT_CHOICES, IN_CRM, IN_CTCT, MergePlan
from ctct.sync.plan import COLUMN_TITLES, PUSH, Plan
from ctct.ui.downloads import csv_download
from ctct.ui.state import database, sync_service
from ctct.ui.text import plain

HISTORY_PAGE = "views/history.py"
# The query parameter that opens History on one run (a link from a commit's summary, a bookmark).
RUN_PARAM = "run"
NEW_COMPANY = "New company"
FAILED_ROWS_SHOWN = 200
COMPANIES_TAB = "New and matched companies"


def _matches(frame: pd.DataFrame, needle: str) -> pd.Series:
    text = frame.astype(str)
    return text.apply(lambda column: column.str.contains(needle, case=False, regex=False)).any(axis=1)


def companies_summary(matches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The companies an import or pull creates, and those here that its contacts join: one row
    each, with how many contacts and which."""

    def emails(values: pd.Series) -> str:
        return ", ".join(sorted(map(str, values)))

    new = matches[matches["company_here"].isna()]
    # One new company per normalized name, spelled as its first contact has it (as the commit makes it).
    by_key = new.groupby(new["company"].map(company_name_key), sort=False)
    created = pd.DataFrame(
        {
            "New company": by_key["company"].first(),
            "Contacts": by_key.size(),
            "Their emails": by_key["email"].agg(emails),
        }
    ).reset_index(drop=True)
    existing = matches[matches["company_here"].notna()]
    by_here = existing.groupby("company_here", sort=False)
    joined = pd.DataFrame(
        {
            "Company here": by_here["company_here"].first(),
            "Named in Constant Contact": by_here["company"].agg(lambda names: ", ".join(sorted(set(map(str, names))))),
            "Contacts": by_here.size(),
            "Their emails": by_here["email"].agg(emails),
        }
    ).reset_index(drop=True)
    return created, joined


def review_frame(plan: Plan, kind: str) -> pd.DataFrame:
    """A change kind's rows as a person reviews them: the reviewed columns, with titles and values
    in words (`link` True → "Here already: linked")."""
    frame = plan[kind][CHANGE_KINDS[kind][1]].copy()
    if kind == ChangeKind.LISTS_CREATE:
        frame["link"] = frame["link"].map(_link_words(plan.direction))
    elif kind == ChangeKind.CONTACTS_CREATE:
        frame = _contacts_created(plan, frame)
    elif kind == ChangeKind.CONTACTS_UNSUBSCRIBED:
        frame["source"] = frame["source"].map(_unsubscribed_by)
    titles = {**COLUMN_TITLES, "company_here": "Company here"}
    # An empty field reads as empty, not as "None".
    frame = frame.astype(object).where(frame.notna(), "")
    return frame.rename(columns={column: titles.get(column, column) for column in frame.columns})


def _link_words(direction: str) -> Callable[[object], str]:
    """A list to create, in words: linked to one of the same name on the other side, or new."""
    if direction == PUSH:
        linked_words, new_words = "In Constant Contact already: linked", "New: created in Constant Contact"
    else:
        linked_words, new_words = "Here already: linked", "New: created here"
    return lambda linked: linked_words if linked else new_words


def _contacts_created(plan: Plan, frame: pd.DataFrame) -> pd.DataFrame:
    """The contacts a plan creates, with whether each is restored and the company it gets here."""
    if frame["restored"].astype(bool).any():
        frame["restored"] = frame["restored"].map(
            lambda restored: "Yes: deleted in Constant Contact, put back" if restored else ""
        )
    else:
        frame = frame.drop(columns="restored")  # a column of "no" says nothing
    matches = plan.company_matches()
    if matches is not None:
        frame["company_here"] = matches["company_here"].map(
            lambda here: NEW_COMPANY if here is None or pd.isna(here) else f"Joins {here}"
        )
    return frame


def _unsubscribed_by(source: object) -> str:
    """CTCT's opt-out source (`ctct:Contact`, `ctct:Account`) in words."""
    text = str(source or "").removeprefix("ctct:")
    return {"Contact": "the contact", "Account": "the account owner"}.get(text, text or "unknown")


def _count(count: int, one: str, several: str) -> str:
    return f"{count:,} {one if count == 1 else several}"


def _contacts(companies: pd.DataFrame) -> str:
    return _count(int(companies["Contacts"].sum()), "contact", "contacts")


def _show_companies(plan: Plan, key: str) -> None:
    matches = plan.company_matches()
    if matches is None:
        return
    created, joined = companies_summary(matches)
    st.caption(
        "Companies are matched by name, ignoring case, punctuation and endings such as Inc or Ltd. "
        "A new company is created as a customer, marked as created by the import."
    )
    st.markdown(f"**{_count(len(created), 'new company', 'new companies')}**, for {_contacts(created)}")
    if len(created):
        st.dataframe(created, hide_index=True, width="stretch")
        csv_download(created, f"{plan.direction}-new-companies.csv", f"{key}_new_companies_csv")
    st.markdown(f"**{_count(len(joined), 'company', 'companies')} here already**, joined by {_contacts(joined)}")
    if len(joined):
        st.dataframe(joined, hide_index=True, width="stretch")
        csv_download(joined, f"{plan.direction}-matched-companies.csv", f"{key}_matched_companies_csv")


def show_plan(plan: Plan, key: str, *, one_of_two: bool = False) -> None:
    """The preview: counts, the requests it takes, warnings, mass removals, then one tab per kind.
    `one_of_two`: one side of a both-ways preview, whose requests and mass removals it says itself."""
    kinds = [kind for kind, count in plan.counts().items() if count]
    if not kinds:
        st.success("Both sides already agree: nothing to change.")
    matches = plan.company_matches()
    _show_metrics(plan, kinds, matches)
    if not one_of_two:
        st.caption(f"About {plan.estimated_requests:,} Constant Contact requests.")
    for warning in plan.warnings:
        st.warning(plain(warning.message), icon=":material/warning:")
    for removal in [] if one_of_two else plan.mass_removals:
        st.error(f"Mass removal: this {plain(removal)}", icon=":material/delete_sweep:")
    if kinds:
        _show_tabs(plan, kinds, key, with_companies=matches is not None)


def _show_metrics(plan: Plan, kinds: list[str], matches: pd.DataFrame | None) -> None:
    counts = plan.counts()
    metrics = [(CHANGE_KINDS[kind][0], counts[kind]) for kind in kinds]
    if matches is not None:
        created, _joined = companies_summary(matches)
        metrics.insert(kinds.index(ChangeKind.CONTACTS_CREATE) + 1, ("Companies to create", len(created)))
    columns = st.columns(max(len(metrics), 1))
    for column, (title, count) in zip(columns, metrics, strict=False):
        column.metric(title, f"{count:,}")


def _show_tabs(plan: Plan, kinds: list[str], key: str, *, with_companies: bool) -> None:
    tabs = list(kinds)
    if with_companies:
        # Beside the contacts it creates: which become new companies and which join one here.
        tabs.insert(tabs.index(ChangeKind.CONTACTS_CREATE) + 1, COMPANIES_TAB)
    titles = [COMPANIES_TAB if tab == COMPANIES_TAB else CHANGE_KINDS[tab][0] for tab in tabs]
    for tab, kind in zip(st.tabs(titles), tabs, strict=True):
        with tab:
            if kind == COMPANIES_TAB:
                _show_companies(plan, key)
            else:
                _show_changes(plan, kind, key)


def _show_changes(plan: Plan, kind: str, key: str) -> None:
    """One kind's rows, with a filter and a CSV download of what the filter shows."""
    frame = review_frame(plan, kind)
    needle = st.text_input("Filter", key=f"{key}_{kind}_filter", placeholder="email, list or name")
    if needle:
        frame = frame[_matches(frame, needle)]
    st.dataframe(frame, hide_index=True, width="stretch")
    csv_download(frame, f"{plan.direction}-{kind}.csv", f"{key}_{kind}_csv")


def show_merge_plan(
    plan: MergePlan, key: str, on_choice: Callable[[], None] | None = None, *, version: int = 0
) -> None:
    """The both-ways preview: the conflicts, each with its resolution to choose (the default never
    deletes and never loses a change), then what goes to each side, as a one-way preview shows it.
    `version` names this plan's choices: a new plan's start from its own resolutions."""
    if plan.is_empty:
        held_back = [w for w in plan.all_warnings() if w.kind == "name_clash"]
        if not held_back:
            st.success("Both sides already agree: nothing to change.")
        for warning in held_back:
            st.warning(plain(warning.message), icon=":material/warning:")
        return
    st.caption(
        f"About {plan.estimated_requests:,} Constant Contact requests. Each side's changes since the last sync go "
        "to the other; subscription status follows Constant Contact. Nothing either side changed is lost."
    )
    if plan.conflicts:
        st.markdown(
            f"**{len(plan.conflicts):,} conflict(s)**: both sides changed these lists in ways that cannot both stand."
        )
        for conflict in plan.conflicts:
            st.radio(
                f"'{conflict.list}': {conflict.local} here, {conflict.ctct} in Constant Contact",
                conflict.choices,
                index=conflict.choices.index(conflict.resolution),
                format_func=lambda choice, kind=conflict.kind: (
                    CHOICE_WORDS[(kind, choice)] + (" (default)" if CONFLICT_CHOICES[kind][0] == choice else "")
                ),
                key=f"{key}_conflict_{version}_{conflict.id}",
                on_change=on_choice,
                horizontal=True,
            )
    for removal in plan.mass_removals:
        st.error(f"Mass removal {plain(removal)}", icon=":material/delete_sweep:")
    for side, part, words in (
        (IN_CRM, plan.to_local, "From Constant Contact into Customer Focus"),
        (IN_CTCT, plan.to_ctct, "From Customer Focus into Constant Contact"),
    ):
        with st.container(border=True, key=f"{key}_{'crm' if side == IN_CRM else 'ctct'}_side"):
            st.markdown(f"**{words}**")
            if part.is_empty:
                st.caption("Nothing to change on this side.")
            else:
                show_plan(part, f"{key}_{'crm' if side == IN_CRM else 'ctct'}", one_of_two=True)


def chosen_resolutions(plan: MergePlan, key: str, version: int = 0) -> dict[str, str]:
    """The resolutions picked in the preview (the plan's own where nothing else was picked)."""
    return {c.id: str(st.session_state.get(f"{key}_conflict_{version}_{c.id}", c.resolution)) for c in plan.conflicts}


@dataclass
class CommitProblem:
    """Why a commit did not happen (`refused`: on purpose, nothing started) or stopped (an error)."""

    message: str
    refused: bool


def commit_plan(
    plan: Plan | MergePlan,
    *,
    allow_mass_removal: bool = False,
    label: str = "Synchronizing with Constant Contact…",
    run_id: int | None = None,
) -> SyncResult | CommitProblem:
    """Commits with one progress bar that names its step; a refusal or an error comes back in
    words, to show where the page wants it (not inside the collapsed progress box)."""
    service = sync_service()
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text="Starting…")
        shown = 0.0

        def progress(fraction: float, message: str) -> None:
            nonlocal shown
            # The engine's bar only moves forward; this keeps it so for any other caller too.
            shown = max(shown, min(max(fraction, 0.0), 1.0))
            bar.progress(shown, text=plain(message[:1].upper() + message[1:]))

        try:
            result = service.commit(
                plan, allow_mass_removal=allow_mass_removal, progress=progress, started_by="console", run_id=run_id
            )
        except SyncRefused as error:
            status.update(label="Not committed", state="error", expanded=False)
            return CommitProblem(f"Not committed: {error}. Nothing was changed on either side.", refused=True)
        except ConsoleError as error:
            status.update(label="Stopped by an error", state="error", expanded=False)
            return CommitProblem(
                f"Stopped by an error: {error}. Nothing already stored was lost; make a new preview to see "
                "what is left to do, and commit it (or resume it on the command line).",
                refused=False,
            )
        if result.status == COMPLETED_WITH_ERRORS:
            status.update(label=f"Done with errors: run {result.run_id}", state="error")
        else:
            status.update(label=f"Done: run {result.run_id}, {result.requests_used:,} requests", state="complete")
    return result


def commit_with_progress(plan: Plan, *, allow_mass_removal: bool = False) -> SyncResult | None:
    """`commit_plan`, showing a refusal or an error at once (below the progress box): None then."""
    outcome = commit_plan(plan, allow_mass_removal=allow_mass_removal)
    if isinstance(outcome, CommitProblem):
        st.error(plain(outcome.message), icon=":material/block:" if outcome.refused else ":material/error:")
        return None
    return outcome


def summary_of(result: SyncResult) -> str:
    """What a committed import or sync did, in plain words, as applied: `2 lists created (News,
    Promo); 13 contacts created; News: 8 added, 1 removed` (from the run's journal)."""
    return history.run_summary(database(), result.run_id)


def history_link(run_id: int) -> None:
    """A link to History with this run chosen."""
    st.page_link(
        HISTORY_PAGE,
        label=f"See run {run_id} in History, row by row",
        icon=":material/history:",
        query_params={RUN_PARAM: str(run_id)},
    )


def show_result(result: SyncResult, done: str = "Synchronized") -> None:
    """A commit's outcome: the summary in words, what did not apply and why, the run in History."""
    said = f"{done}: {plain(summary_of(result))}."
    if result.status == COMPLETED_WITH_ERRORS:
        st.warning(f"{said} Some changes did not apply: see below.", icon=":material/error:")
    else:
        st.success(said, icon=":material/check_circle:")
    if result.failed:
        st.warning(
            f"{len(result.failed):,} change(s) did not apply in Constant Contact; they stay differences that the "
            "next preview shows again.",
            icon=":material/error:",
        )
        failed = pd.DataFrame(result.failed[:FAILED_ROWS_SHOWN]).rename(
            columns={"kind": "Change", "list": "List", "email": "Email", "reason": "Why"}
        )
        failed["Change"] = failed["Change"].map(title_of)
        st.dataframe(failed, hide_index=True, width="stretch")
    for message in result.activity_errors[:10]:
        st.warning(f"Constant Contact reported: {plain(message)}")
    history_link(result.run_id)
