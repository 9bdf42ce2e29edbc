"""Email Lists (Manage Email Lists / New List): pick a list, filter contacts, tick them — every
change saves at once and can be undone."""

import streamlit as st

from ctct import lists
from ctct.crm import services
from ctct.crm.services import list_tags
from ctct.errors import ConsoleError
from ctct.ui import grid
from ctct.ui.state import contacts, database, settings
from ctct.ui.text import plain

GRID_ROWS = 500

st.title("Email Lists")
flash = st.session_state.pop("email_lists_flash", None)
if flash:
    st.error(flash)

with st.form("email_lists_new", clear_on_submit=True):
    name = st.text_input("New list", placeholder="Email list title", key="email_lists_new_name")
    if st.form_submit_button("Add"):
        try:
            with database().session() as session:
                created = lists.create_list(session, name)
            st.session_state["email_lists_chosen"] = created.name
            st.toast(f"Created list '{plain(created.name)}'")
        except ConsoleError as error:
            st.error(plain(error))

with database().session() as session:
    overview = [(email_list.name, members) for email_list, members in lists.all_lists(session)]
    tag_names = [tag.name for tag in list_tags(session)]

if not overview:
    st.info("No email lists yet. Add one above.")
    st.stop()

st.dataframe([{"List": name, "Members": members} for name, members in overview], hide_index=True, width="stretch")
names = [name for name, _ in overview]
if st.session_state.get("email_lists_chosen") not in names:
    st.session_state["email_lists_chosen"] = names[0]
chosen = st.selectbox("Manage email list", names, key="email_lists_chosen")


@st.dialog("Delete this list?")
def confirm_delete(list_name: str) -> None:
    st.write(f"'{plain(list_name)}' and its members here are deleted; a push deletes it in Constant Contact too.")
    if st.button("Delete", type="primary", key="email_lists_delete_confirm"):
        with database().session() as session:
            lists.delete_list(session, list_name)
        st.session_state.pop("email_lists_chosen", None)
        st.rerun()


rename_col, delete_col = st.columns([3, 1])
with rename_col, st.form("email_lists_rename"):
    new_name = st.text_input("Rename to", key="email_lists_rename_to")
    if st.form_submit_button("Rename") and new_name:
        try:
            with database().session() as session:
                renamed = lists.rename_list(session, chosen, new_name)
            st.session_state["email_lists_chosen"] = renamed.name
            st.rerun()
        except ConsoleError as error:
            st.error(plain(error))
if delete_col.button("Delete list…", key="email_lists_delete"):
    confirm_delete(chosen)

# Filters: contact type, marketing tags (applied with the button), free text.
type_col, tag_col, search_col = st.columns([1, 2, 2])
contact_type = type_col.radio("Contact Type", list(grid.CONTACT_TYPES), key="email_lists_type")
with tag_col.form("email_lists_tag_filter"):
    picked_tags = st.multiselect("Marketing Tags", tag_names, key="email_lists_tags_choice")
    if st.form_submit_button("Apply Filter"):
        st.session_state["email_lists_tags"] = picked_tags
search = search_col.text_input("Search", key="email_lists_search", placeholder="company, name, email, job title")
contact_filter = lists.ContactFilter(
    contact_type=grid.CONTACT_TYPES[contact_type],
    tags=tuple(st.session_state.get("email_lists_tags", [])),
    search=search,
)
roles = settings().role_addresses


def save(action, message: str, undo=None) -> None:
    try:
        with database().session() as session:
            action(session)
        st.session_state["email_lists_undo"] = undo
        st.toast(plain(message), icon=":material/check:")
    except ConsoleError as error:
        st.error(plain(error))


frame = contacts(contact_filter, chosen)

eligible = int(frame["eligible"].sum())
members_shown = int(frame["member"].sum())
select_col, clear_col, undo_col = st.columns(3)
if select_col.button(f"Select all ({eligible:,} eligible)", key="email_lists_select_all"):
    before = set(frame.loc[frame["member"], "contact_id"])
    added = [cid for cid in frame.loc[frame["eligible"], "contact_id"] if cid not in before]
    save(
        lambda s: lists.add_matching(s, chosen, contact_filter, roles),
        f"Added {len(added):,} to '{chosen}'",
        ("remove", chosen, added),
    )
    st.rerun()
if clear_col.button(f"Clear all ({members_shown:,} shown)", key="email_lists_clear_all"):
    removed = frame.loc[frame["member"], "contact_id"].tolist()
    save(
        lambda s: lists.remove_contacts(s, chosen, removed),
        f"Removed {len(removed):,} from '{chosen}'",
        ("add", chosen, removed),
    )
    st.rerun()
undo = st.session_state.get("email_lists_undo")
if undo and undo_col.button("Undo last change", key="email_lists_undo_button"):
    verb, list_name, ids = undo
    if verb == "remove":
        save(lambda s: lists.remove_contacts(s, list_name, ids), "Undone")
    else:
        save(lambda s: lists.add_contacts(s, list_name, ids, roles), "Undone")
    st.session_state["email_lists_undo"] = None
    st.rerun()

pages = max(1, -(-len(frame) // GRID_ROWS))
page_number = 1
if pages > 1:
    # The grid holds a page at a time; filters, select-all and counts work on the server over all rows.
    page_number = int(st.number_input(f"Page (of {pages:,})", 1, pages, 1, key="email_lists_page"))
st.caption(f"{len(frame):,} contacts match · {eligible:,} can be selected · {members_shown:,} on '{plain(chosen)}'")


@st.fragment
def grid_section() -> None:
    """The grid reruns on its own: a tick saves without redrawing the rest of the page (the
    counts above catch up on the next full run)."""
    current = contacts(contact_filter, chosen)
    visible = current.iloc[(page_number - 1) * GRID_ROWS : page_number * GRID_ROWS]
    # A new key remounts the grid, so a refused edit shows the stored value again.
    version = st.session_state.setdefault("email_lists_grid_version", 0)
    answer = grid.contact_grid(visible, key=f"email_lists_grid_{chosen}_{version}")

    if answer.selected_ids is not None:
        members = set(visible.loc[visible["member"], "contact_id"])
        adds = sorted(answer.selected_ids - members)
        removes = sorted(members - answer.selected_ids)
        if adds:
            save(
                lambda s: lists.add_contacts(s, chosen, adds, roles),
                f"Added {len(adds):,} to '{chosen}'",
                ("remove", chosen, adds),
            )
        if removes:
            save(
                lambda s: lists.remove_contacts(s, chosen, removes),
                f"Removed {len(removes):,} from '{chosen}'",
                ("add", chosen, removes),
            )

    if answer.rows is not None and len(answer.rows):
        save_edits(answer.rows, visible, version)


def save_edits(rows, visible, version: int) -> None:
    refused = False
    for contact_id, fields in grid.edited_fields(rows, visible).items():
        try:
            with database().session() as session:
                services.update_contact(session, contact_id, **fields)
            st.toast(f"Saved {plain(', '.join(fields))}", icon=":material/check:")
        except ConsoleError as error:
            st.session_state["email_lists_flash"] = f"{plain(error)} — the old value is kept."
            st.session_state["email_lists_grid_version"] = version + 1
            refused = True
    if refused:
        st.rerun()


grid_section()
