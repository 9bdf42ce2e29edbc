"""Email Lists (Manage Email Lists / New List): pick a list, filter contacts, tick them — every
change saves at once, is journaled, and can be undone.

Every action is a callback that changes the store before the page draws; the page then draws
only what is stored (docs/decisions/0007). Nothing here diffs what a widget holds."""

from __future__ import annotations

from functools import partial

import streamlit as st

from ctct import activation, lists
from ctct.crm import services
from ctct.crm.services import list_tags
from ctct.db.models import MembershipChangeHow
from ctct.errors import ConsoleError
from ctct.ui import grid
from ctct.ui.state import actor, all_contacts, client, database, directory, settings
from ctct.ui.text import plain

UNDO_DEPTH = 20
FIELD_WORDS = {"first_name": "first name", "last_name": "last name", "job_title": "job title", "email": "email"}

st.title("Email Lists")
# A server's first visit reads the whole CRM, seconds at 100,000 contacts. That visit draws the grid
# without rows first, reads, then runs again to draw what was read: the browser loads the grid (a
# large script of its own) while the server reads. What that first run would show waits for the second.
reading_first = directory().full_reads == 0
st.session_state.pop("email_lists_deleted", None)  # set by a deletion; only its dialog reads it
for message in [] if reading_first else st.session_state.pop("email_lists_flash", []):
    st.error(message)


def flash(message: str) -> None:
    st.session_state.setdefault("email_lists_flash", []).append(message)


def origin(how: MembershipChangeHow) -> lists.ChangeOrigin:
    return lists.ChangeOrigin(made_by=actor(), how=how)


def remember(change: lists.ListChange, label: str, said: str | None = None) -> None:
    """Puts a change on this session's undo stack and says what it did (`said`, or its summary)."""
    if change.change_id is None:
        st.toast(plain(change.summary()), icon=":material/info:")
        return
    stack = st.session_state.setdefault("email_lists_undo", [])
    stack.append((change.change_id, f"{label} on '{change.list_name}'"))
    del stack[:-UNDO_DEPTH]
    st.toast(plain(said or change.summary()), icon=":material/check:")


# Lists: create, choose, rename, delete


def create_list() -> None:
    try:
        with database().session() as session:
            created = lists.create_list(session, st.session_state.get("email_lists_new_name", ""))
            st.session_state["email_lists_chosen"] = created.id
        st.toast(f"Created list '{plain(created.name)}'", icon=":material/check:")
    except ConsoleError as error:
        flash(plain(error))


def rename_list(list_id: int) -> None:
    new_name = st.session_state.get("email_lists_rename_to", "")
    try:
        with database().session() as session:
            renamed = lists.rename_list_by_id(session, list_id, new_name)
        st.session_state["email_lists_rename_to"] = ""
        st.toast(f"Renamed to '{plain(renamed.name)}'", icon=":material/check:")
    except ConsoleError as error:
        flash(plain(error))


if not activation.connection_status(client()).active:
    # SPEC §2: email lists exist only while the integration is active (deactivating deletes them).
    st.info(
        "Email lists exist while Constant Contact is activated: activate it first, and its lists come over.",
        icon=":material/link_off:",
    )
    st.page_link("views/settings_ctct.py", label="Settings → Constant Contact", icon=":material/settings:")
    st.stop()

with st.form("email_lists_new", clear_on_submit=True):
    st.text_input("New list", placeholder="Email list title", key="email_lists_new_name")
    st.form_submit_button("Add", on_click=create_list)

with database().session() as session:
    overview = [(email_list.id, email_list.name, members) for email_list, members in lists.all_lists(session)]
    tag_names = [tag.name for tag in list_tags(session)]

if not overview:
    st.info("No email lists yet. Add one above.")
    st.stop()

names = {list_id: name for list_id, name, _ in overview}
member_counts = {list_id: members for list_id, _, members in overview}
st.dataframe([{"List": name, "Members": members} for _, name, members in overview], hide_index=True, width="stretch")
if st.session_state.get("email_lists_chosen") not in names:
    # A reloaded page comes back to the list in its address.
    wanted = st.query_params.get("list")
    by_name = {name.lower(): list_id for list_id, name in names.items()}
    st.session_state["email_lists_chosen"] = by_name.get(str(wanted).lower(), overview[0][0])
chosen = st.selectbox("Manage email list", list(names), format_func=names.__getitem__, key="email_lists_chosen")
st.query_params["list"] = names[chosen]


def delete_list(list_id: int) -> None:
    try:
        with database().session() as session:
            name = lists.get_list_by_id(session, list_id).name
            lists.delete_list(session, name)
        st.session_state.pop("email_lists_chosen", None)
        st.query_params.pop("list", None)
        st.toast(f"Deleted list '{plain(name)}'", icon=":material/delete:")
    except ConsoleError as error:
        flash(plain(error))
    st.session_state["email_lists_deleted"] = True


@st.dialog("Delete this list?")
def confirm_delete(list_id: int) -> None:
    if st.session_state.pop("email_lists_deleted", False):
        st.rerun()  # closes the dialog: the list is gone
    st.write(f"'{plain(names[list_id])}' and its members here are deleted; a push deletes it in Constant Contact too.")
    st.button("Delete", type="primary", key="email_lists_delete_confirm", on_click=delete_list, args=(list_id,))


rename_col, delete_col = st.columns([3, 1], vertical_alignment="bottom")
with rename_col, st.form("email_lists_rename", border=False):
    name_col, button_col = st.columns([4, 1], vertical_alignment="bottom")
    name_col.text_input("Rename to", key="email_lists_rename_to", placeholder=names[chosen])
    button_col.form_submit_button("Rename", on_click=rename_list, args=(chosen,))
if delete_col.button("Delete list…", key="email_lists_delete"):
    confirm_delete(chosen)

# Filters: contact type, marketing tags (applied with the button), free text, members only.
type_col, tag_col, search_col = st.columns([1, 2, 2])
contact_type = type_col.radio("Contact Type", list(grid.CONTACT_TYPES), key="email_lists_type")
# Not a form: a form's submit can arrive before the multiselect it contains has committed its
# last choice. Each choice reruns the page, and Apply Filter makes the choice the filter.
picked_tags = tag_col.multiselect("Marketing Tags", tag_names, key="email_lists_tags_choice")
applied_tags = [tag for tag in st.session_state.get("email_lists_tags", []) if tag in tag_names]
tag_col.button(
    "Apply Filter",
    key="email_lists_apply_tags",
    on_click=lambda: st.session_state.update(email_lists_tags=st.session_state.get("email_lists_tags_choice", [])),
    type="primary" if picked_tags != applied_tags else "secondary",
)
search = search_col.text_input("Search", key="email_lists_search", placeholder="company, name, email, job title")
members_only = search_col.toggle(
    f"Members only ({member_counts[chosen]:,})",
    key="email_lists_members_only",
    help="Shows only the contacts on the list (within the other filters).",
)
contact_filter = lists.ContactFilter(
    contact_type=grid.CONTACT_TYPES[contact_type],
    tags=tuple(applied_tags),
    search=search,
)
roles = settings().role_addresses


# Membership: each action names its rows


def apply_grid_events(list_id: int, events: list[grid.GridEvent]) -> None:
    for event in events:
        try:
            with database().session() as session:
                email_list = lists.get_list_by_id(session, list_id)
                everyone = all_contacts(session)
                row = everyone[everyone["contact_id"] == event.contact_id]
                email = (row["email"].iloc[0] if len(row) else None) or f"contact {event.contact_id}"
                if event.field != grid.MEMBER:
                    services.update_contact(session, event.contact_id, **{event.field: event.value})
                    st.toast(f"Saved the {FIELD_WORDS[event.field]} of {plain(email)}", icon=":material/check:")
                    continue
                ticked = grid.as_member_flag(event.value)
                if ticked:
                    how = MembershipChangeHow.TICK
                    change = lists.add_contacts(
                        session, email_list, [event.contact_id], origin=origin(how), detail=email, contacts=everyone
                    )
                else:
                    how = MembershipChangeHow.UNTICK
                    change = lists.change_members(
                        session, email_list, remove=[event.contact_id], origin=origin(how), detail=email
                    )
            said = f"Added {email} to '{change.list_name}'" if ticked else f"Removed {email} from '{change.list_name}'"
            remember(change, f"{'tick' if ticked else 'untick'} of {email}", said)
        except ConsoleError as error:
            kept = "" if event.field == grid.MEMBER else " — the old value is kept."
            flash(f"{plain(error)}{kept}")


def act_on_filter(list_id: int, chosen_filter: lists.ContactFilter, how: MembershipChangeHow) -> None:
    """Select all (adds the filter's eligible contacts) or Clear all (takes its members off)."""
    action, label = (
        (lists.add_matching, "Select all")
        if how == MembershipChangeHow.SELECT_ALL
        else (lists.remove_matching, "Clear all")
    )
    try:
        with database().session() as session:
            email_list = lists.get_list_by_id(session, list_id)
            change = action(session, email_list, chosen_filter, origin=origin(how), contacts=all_contacts(session))
        remember(change, label)
    except ConsoleError as error:
        flash(plain(error))


def undo_last() -> None:
    stack = st.session_state.get("email_lists_undo", [])
    if not stack:
        return
    change_id, label = stack.pop()
    try:
        with database().session() as session:
            change = lists.undo_change(session, change_id, roles, origin=origin(MembershipChangeHow.UNDO))
        skipped = sum(change.skipped.values())
        note = f" ({skipped:,} not put back: no longer eligible)" if skipped else ""
        st.toast(f"Undone: {plain(label)}{plain(note)}", icon=":material/undo:")
    except ConsoleError as error:
        flash(f"Could not undo {plain(label)}: {plain(error)}")


# Fixed places, whatever the counts draw: the grid stays the same element from run to run.
summary = st.container()
grid_place = st.container()
if reading_first:
    summary.caption("Reading the contacts…")
    with grid_place:
        grid.contact_grid(
            grid.no_rows(), key=f"email_lists_grid_{chosen}", on_events=partial(apply_grid_events, chosen)
        )
    # Read in this run, not the next: the next run's start drops whatever this one has not sent yet.
    with database().session() as session:
        all_contacts(session)
    st.rerun()

with database().session() as session:
    matching = lists.filter_contacts(session, all_contacts(session), contact_filter)
    matching = lists.with_members(session, matching, lists.get_list_by_id(session, chosen))
members_total = member_counts[chosen]
eligible = int(matching["eligible"].sum())
to_add = int((matching["eligible"] & ~matching["member"]).sum())
members_matching = int(matching["member"].sum())
shown = matching[matching["member"]] if members_only else matching

summary.caption(
    f"{members_total:,} on '{plain(names[chosen])}' · {len(matching):,} contacts match the filter, "
    f"{members_matching:,} of them on the list · {eligible:,} can be selected"
)
select_col, clear_col, undo_col = summary.columns(3)
select_col.button(
    f"Select all ({eligible:,} eligible)",
    key="email_lists_select_all",
    on_click=act_on_filter,
    args=(chosen, contact_filter, MembershipChangeHow.SELECT_ALL),
    disabled=members_only or to_add == 0,
    help="Adds every eligible contact the filter selects, on every page of the grid.",
    width="stretch",
)
clear_col.button(
    f"Clear all ({members_matching:,} on the list)",
    key="email_lists_clear_all",
    on_click=act_on_filter,
    args=(chosen, contact_filter, MembershipChangeHow.CLEAR_ALL),
    disabled=members_matching == 0,
    help="Takes every member the filter selects off the list.",
    width="stretch",
)
undo_stack = st.session_state.get("email_lists_undo", [])
undo_col.button(
    f"Undo {undo_stack[-1][1]}" if undo_stack else "Undo",
    key="email_lists_undo_button",
    on_click=undo_last,
    disabled=not undo_stack,
    help=f"Reverts your changes one at a time, newest first (up to {UNDO_DEPTH}).",
    width="stretch",
)

page_rows = settings().grid_page_rows
pages = max(1, -(-len(shown) // page_rows))
view = (chosen, contact_filter, members_only)
if st.session_state.get("email_lists_view") != view or st.session_state.get("email_lists_page", 1) > pages:
    st.session_state["email_lists_view"] = view
    st.session_state["email_lists_page"] = 1
page_number = 1
if pages > 1:
    # The grid holds a page at a time; filters, Select all, Clear all and counts cover all rows.
    page_number = int(summary.number_input(f"Page (of {pages:,})", 1, pages, key="email_lists_page"))
visible = shown.iloc[(page_number - 1) * page_rows : page_number * page_rows]
with grid_place:
    grid.contact_grid(visible, key=f"email_lists_grid_{chosen}", on_events=partial(apply_grid_events, chosen))
