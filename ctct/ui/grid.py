"""The one AgGrid wrapper: contacts with an "On list" checkbox per row, ineligible rows greyed
and locked, name, job title and email editable in their cells.

The grid never holds membership of its own: it is drawn from the stored state on every run
(`server_sync_strategy="server_wins"`), and what the user does in it comes back as events that
name their row — "contact 17: On list → true", "contact 17: job_title → 'Buyer'" — numbered, so
each is applied once even when Streamlit folds several into one run (docs/decisions/0007).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st
from st_aggrid import AgGrid, GridOptionsBuilder, JsCode

from ctct.crm.contact_frame import ContactType

MEMBER = "member"
EDITABLE = ["first_name", "last_name", "job_title", "email"]
COLUMNS = {
    "company": "Company",
    "company_kind": "Kind",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "job_title": "Job title",
    "tags": "Marketing tags",
    "ineligible_reason": "Not selectable because",
}
# Columns as the grid lays them out: the checkbox, who the contact is (company and email whole at
# 1280 pixels), then why a row cannot be ticked — which a greyed row also says on hover.
GRID_COLUMNS = [
    MEMBER,
    "company",
    "first_name",
    "last_name",
    "email",
    "ineligible_reason",
    "job_title",
    "company_kind",
    "tags",
]
LAYOUT: dict[str, dict[str, Any]] = {
    MEMBER: {"width": 84, "pinned": "left"},
    "company": {"minWidth": 150},
    "first_name": {"width": 100},
    "last_name": {"width": 100},
    "email": {"minWidth": 200},
    "ineligible_reason": {"minWidth": 240, "cellStyle": {"color": "#8a5a00"}},
    "job_title": {"width": 160},
    "company_kind": {"width": 100},
    "tags": {"flex": 1, "minWidth": 180},
}
# Hovering any cell of a greyed row says why it cannot be ticked; other cells show their value
# (for values wider than the column).
_CELL_TOOLTIP = JsCode(
    "function (params) { if (!params.data || params.data.eligible) { return params.value; } "
    "return 'Not selectable: ' + (params.data.ineligible_reason || ''); }"
)


# The Contact Type filter as the seed words it.
CONTACT_TYPES = {
    "All": ContactType.ALL,
    "Customer only": ContactType.CUSTOMER,
    "Prospect only": ContactType.PROSPECT,
}


@dataclass(frozen=True)
class GridEvent:
    """One edit the user made in the grid: a tick or untick (`field == "member"`) or a cell."""

    contact_id: int
    field: str
    value: Any


# Every edit is appended to a log kept in the grid's own page (its iframe), and the whole recent
# log is what the grid returns: a run that arrives late or folds two clicks still sees both.
# A new grid (new key, or the page reloaded) starts a new log under a new mount id.
_EVENT_LOG = JsCode(
    """
function ({streamlitRerunEventTriggerName, eventData}) {
    const log = window.__contactGridLog || (window.__contactGridLog = {
        mount: Date.now().toString(36) + Math.random().toString(36).slice(2), seq: 0, events: []
    });
    if (streamlitRerunEventTriggerName === 'cellValueChanged' && eventData && eventData.colDef) {
        log.seq += 1;
        log.events.push({
            seq: log.seq,
            contact_id: eventData.data.contact_id,
            field: eventData.colDef.field,
            value: eventData.newValue === undefined ? null : eventData.newValue
        });
        if (log.events.length > 500) { log.events.shift(); }
    }
    return {mount: log.mount, seq: log.seq, events: log.events.slice()};
}
"""
)


# The "On list" checkbox: a plain checkbox that shows the row's stored value and reports exactly
# what the click made of it. (AG Grid's own boolean cell once reported a click on a ticked box as
# a tick, after the rows had been redrawn underneath it.) Ineligible rows cannot be ticked; a
# member can always be unticked.
_ON_LIST_CHECKBOX = JsCode(
    """
class OnListCheckbox {
    init(params) {
        this.box = document.createElement('input');
        this.box.type = 'checkbox';
        this.box.className = 'ag-checkbox-input on-list';
        this.box.addEventListener('click', (event) => {
            event.stopPropagation();
            this.params.node.setDataValue(this.params.column.getColId(), this.box.checked);
        });
        this.refresh(params);
    }
    getGui() { return this.box; }
    refresh(params) {
        this.params = params;
        this.box.checked = params.value === true;
        this.box.disabled = !(params.data.eligible || params.data.member);
        this.box.setAttribute('aria-label', (this.box.checked ? 'On the list: ' : 'Not on the list: ') +
            (params.data.email || 'contact ' + params.data.contact_id));
        return true;
    }
}
"""
)


def new_events(answer: object, seen: dict[str, int]) -> list[GridEvent]:
    """The events of a grid answer not handled yet; `seen` remembers the last one per mount."""
    if not isinstance(answer, dict) or "mount" not in answer:
        return []
    mount, last = str(answer["mount"]), seen.get(str(answer["mount"]), 0)
    fresh = [event for event in answer.get("events", []) if int(event.get("seq", 0)) > last]
    seen[mount] = max([last, *(int(event["seq"]) for event in fresh)])
    return [
        GridEvent(contact_id=int(event["contact_id"]), field=str(event["field"]), value=event.get("value"))
        for event in fresh
        if event.get("contact_id") is not None and event.get("field") in {MEMBER, *EDITABLE}
    ]


def as_member_flag(value: object) -> bool:
    """A checkbox's new value as the grid reports it (a boolean; text when it edits as text)."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _grid_options(shown: pd.DataFrame) -> dict[str, Any]:
    builder = GridOptionsBuilder.from_dataframe(shown)
    builder.configure_default_column(resizable=True, sortable=True, filter=True)
    for name in GRID_COLUMNS[1:]:
        # The tooltip shows a value the column is too narrow for.
        builder.configure_column(
            name, header_name=COLUMNS[name], editable=name in EDITABLE, tooltipValueGetter=_CELL_TOOLTIP, **LAYOUT[name]
        )
    builder.configure_column(
        MEMBER,
        header_name="On list",
        cellRenderer=_ON_LIST_CHECKBOX,
        editable=False,
        tooltipValueGetter=JsCode(
            "function (params) { return params.data.eligible ? null : 'Not selectable: ' + "
            "(params.data.ineligible_reason || ''); }"
        ),
        sortable=True,
        filter=False,
        type=[],
        **LAYOUT[MEMBER],
    )
    builder.configure_column("contact_id", hide=True)
    builder.configure_column("eligible", hide=True, type=[])
    builder.configure_column("drawn_after", hide=True)
    builder.configure_grid_options(
        getRowId=JsCode("function (params) { return String(params.data.contact_id); }"),
        getRowStyle=JsCode(
            "function (params) { return params.data.eligible ? null : {color: '#6b7079', background: '#f4f5f7'}; }"
        ),
        # Company and email as wide as what they hold; the other columns by their own widths.
        autoSizeStrategy={"type": "fitCellContents", "colIds": ["company", "email"]},
        # Rows jump to their place when the stored state is drawn: a row gliding there could
        # take a click meant for the one it passes over.
        animateRows=False,
        tooltipShowDelay=300,
    )
    return builder.build()


def no_rows() -> pd.DataFrame:
    """A grid's frame without rows, typed as the contacts' columns are: the grid built from it
    keeps its columns when the rows come."""
    typed: dict[str, str] = {MEMBER: "bool", "eligible": "bool", "contact_id": "int64"}
    return pd.DataFrame(
        {name: pd.Series(dtype=typed.get(name, object)) for name in [*GRID_COLUMNS, "contact_id", "eligible"]}
    )


def contact_grid(
    frame: pd.DataFrame, key: str, on_events: Callable[[list[GridEvent]], None], height: int = 560
) -> None:
    """Draws `frame` (with `member`) as the grid; `on_events` gets each new edit once, before
    the page's next run draws anything."""
    shown = frame[[*GRID_COLUMNS, "contact_id", "eligible"]].copy()
    # The grid redraws its rows only when what it is given changes; after an edit it must redraw
    # even then, so that a refused value gives way to the stored one: every row says which
    # round of events it was drawn after. (In the data, not the options: a change of options
    # makes AG Grid rebuild its columns.)
    shown["drawn_after"] = st.session_state.get(f"{key}__revision", 0)
    seen: dict[str, int] = st.session_state.setdefault(f"{key}__seen", {})
    revision_key = f"{key}__revision"

    def handle(answer: object) -> None:
        events = new_events(getattr(answer, "raw_data", answer), seen)
        if events:
            on_events(events)
            st.session_state[revision_key] = st.session_state.get(revision_key, 0) + 1

    AgGrid(
        shown,
        gridOptions=_grid_options(shown),
        height=height,
        allow_unsafe_jscode=True,
        update_on=["cellValueChanged"],
        data_return_mode="CUSTOM",
        custom_jscode_for_grid_return=_EVENT_LOG,
        server_sync_strategy="server_wins",
        callback=handle,
        key=key,
        show_toolbar=False,
        show_download_button=False,
    )
