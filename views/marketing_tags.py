"""Settings → Marketing Tags: create, rename, delete; assign to companies."""

import streamlit as st

from ctct.crm import services
from ctct.errors import ConsoleError
from ctct.ui.state import database
from ctct.ui.text import plain

st.title("Settings · Marketing Tags")


def act(action, message: str) -> None:
    try:
        with database().session() as session:
            action(session)
        st.toast(plain(message))
    except ConsoleError as error:
        st.error(plain(error))


with st.form("tags_new", clear_on_submit=True):
    name = st.text_input("New marketing tag", key="tags_new_name")
    if st.form_submit_button("Create"):
        act(lambda session: services.create_tag(session, name), f"Created tag '{name.strip()}'")

with database().session() as session:
    tags = services.tag_usage(session)
    companies = services.company_choices(session)

if not tags:
    st.info("No marketing tags yet.")
    st.stop()

st.dataframe([{"Tag": name, "Companies": count} for name, count in tags], hide_index=True, width="stretch")
chosen = st.selectbox("Tag", [name for name, _ in tags], key="tags_chosen")
left, right = st.columns(2)
with left:
    new_name = st.text_input("Rename to", key="tags_rename_to")
    if st.button("Rename", key="tags_rename") and new_name:
        act(lambda session: services.rename_tag(session, chosen, new_name), f"Renamed '{chosen}'")
        st.rerun()
    if st.button("Delete tag", key="tags_delete"):
        act(lambda session: services.delete_tag(session, chosen), f"Deleted '{chosen}'")
        st.rerun()
with right:
    # Labels carry the id: two companies may share a name.
    labels = {f"{company} · #{company_id}": company_id for company_id, company in companies}
    picked = st.multiselect("Assign to companies", list(labels), key="tags_assign_to")
    if st.button("Assign", key="tags_assign") and picked:

        def assign(session) -> None:
            for label in picked:
                services.assign_tags(session, labels[label], [chosen])

        act(assign, f"Assigned '{chosen}' to {len(picked)} companies")
        st.rerun()
