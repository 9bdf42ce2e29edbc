"""Email Lists: the lists with their member counts; create one and see who is on it."""

import streamlit as st

from ctct import lists
from ctct.errors import ConsoleError
from ctct.ui.state import database
from ctct.ui.text import plain

st.title("Email Lists")

with st.form("email_lists_new", clear_on_submit=True):
    name = st.text_input("New list", placeholder="Email list title", key="email_lists_new_name")
    if st.form_submit_button("Add"):
        try:
            with database().session() as session:
                created = lists.create_list(session, name)
            st.toast(f"Created list '{plain(created.name)}'")
        except ConsoleError as error:
            st.error(plain(error))

with database().session() as session:
    overview = [(email_list.name, members) for email_list, members in lists.all_lists(session)]

if not overview:
    st.info("No email lists yet. Add one above.")
else:
    st.dataframe([{"List": name, "Members": members} for name, members in overview], hide_index=True, width="stretch")
    chosen = st.selectbox("Members of", [name for name, _ in overview], key="email_lists_chosen")
    with database().session() as session:
        email_list = lists.get_list(session, chosen)
        frame = lists.contacts_frame(session, email_list=email_list)
    members = frame[frame["member"]]
    if members.empty:
        st.caption("This list has no members yet.")
    else:
        st.dataframe(
            members[["company", "first_name", "last_name", "email", "job_title"]],
            hide_index=True,
            width="stretch",
            column_config={
                "company": "Company",
                "first_name": "First name",
                "last_name": "Last name",
                "email": "Email",
                "job_title": "Job title",
            },
        )
