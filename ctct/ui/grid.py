"""The one AgGrid wrapper: contacts with a checkbox per row, ineligible rows greyed and locked,
name, job title and email editable in the cells."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from st_aggrid import AgGrid, GridOptionsBuilder, JsCode

from ctct.lists import ContactType

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


# The Contact Type filter as the seed words it.
CONTACT_TYPES = {
    "All": ContactType.ALL,
    "Customer only": ContactType.CUSTOMER,
    "Prospect only": ContactType.PROSPECT,
}


def edited_fields(rows: pd.DataFrame, shown: pd.DataFrame) -> dict[int, dict[str, str | None]]:
    """Per contact, the editable fields whose value in the grid differs from what was shown."""
    edited = rows.set_index("contact_id")[EDITABLE]
    original = shown.set_index("contact_id")[EDITABLE]
    common = edited.index.intersection(original.index)
    before = original.loc[common].astype(object).where(original.loc[common].notna(), None)
    after = edited.loc[common].astype(object).where(edited.loc[common].notna(), None)
    changed = (before.fillna("") != after.fillna("")).any(axis=1)
    return {
        int(contact_id): {
            name: after.at[contact_id, name]
            for name in EDITABLE
            if (before.at[contact_id, name] or "") != (after.at[contact_id, name] or "")
        }
        for contact_id in common[changed.to_numpy()]
    }


@dataclass
class GridAnswer:
    """What the user did in the grid: the rows ticked, and the rows as they now read."""

    selected_ids: set[int] | None
    rows: pd.DataFrame | None


def contact_grid(frame: pd.DataFrame, key: str, height: int = 560) -> GridAnswer:
    # The checkbox goes into the first column: a visible one, the ids come last.
    shown = frame[[*COLUMNS, "contact_id", "eligible", "member"]].copy()
    builder = GridOptionsBuilder.from_dataframe(shown)
    builder.configure_default_column(resizable=True, sortable=True, filter=True)
    for name, title in COLUMNS.items():
        builder.configure_column(name, header_name=title, editable=name in EDITABLE)
    builder.configure_column("contact_id", hide=True)
    builder.configure_column("eligible", hide=True)
    builder.configure_column("member", hide=True)
    builder.configure_selection(
        "multiple",
        use_checkbox=True,
        header_checkbox=True,
        pre_selected_rows=[str(cid) for cid in shown.loc[shown["member"], "contact_id"]],
    )
    builder.configure_grid_options(
        getRowId=JsCode("function (params) { return String(params.data.contact_id); }"),
        # Ineligible rows cannot be ticked (members stay untickable so they can be removed).
        isRowSelectable=JsCode("function (node) { return node.data.eligible || node.data.member; }"),
        getRowStyle=JsCode(
            "function (params) { return params.data.eligible ? null : {color: '#8a8f98', background: '#f4f5f7'}; }"
        ),
    )
    answer = AgGrid(
        shown,
        gridOptions=builder.build(),
        height=height,
        allow_unsafe_jscode=True,
        update_on=["selectionChanged", "cellValueChanged"],
        # Rows come back in input order: the default re-sorts by row ids, which getRowId replaces.
        data_return_mode="AS_INPUT",
        key=key,
        show_toolbar=False,
        show_download_button=False,
    )
    selected = answer.selected_rows
    rows = answer.data if isinstance(answer.data, pd.DataFrame) else None
    if rows is not None and "contact_id" in rows:
        # The grid hands values back as it holds them (ids may come back as text).
        rows = rows.assign(contact_id=pd.to_numeric(rows["contact_id"], errors="coerce")).dropna(subset=["contact_id"])
        rows["contact_id"] = rows["contact_id"].astype(int)
    ids = None if selected is None else {int(cid) for cid in pd.DataFrame(selected).get("contact_id", [])}
    return GridAnswer(selected_ids=ids, rows=rows)
