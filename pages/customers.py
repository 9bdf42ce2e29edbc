"""Customers & Prospects: companies and their contacts, with who may go on a list and why not."""

import streamlit as st

from ctct import lists
from ctct.crm.services import list_tags
from ctct.ui.state import database, settings

st.title("Customers & Prospects")

with database().session() as session:
    tag_names = [tag.name for tag in list_tags(session)]

left, middle, right = st.columns([1, 2, 2])
contact_type = left.radio(
    "Contact Type", ["All", "Customer only", "Prospect only"], key="customers_type", horizontal=False
)
tags = middle.multiselect("Marketing Tags", tag_names, key="customers_tags")
search = right.text_input("Search", key="customers_search", placeholder="company, name, email, job title")

contact_filter = lists.ContactFilter(
    contact_type={"All": lists.ContactType.ALL, "Customer only": lists.ContactType.CUSTOMER}.get(
        contact_type, lists.ContactType.PROSPECT
    ),
    tags=tuple(tags),
    search=search,
)
with database().session() as session:
    frame = lists.contacts_frame(session, contact_filter, role_addresses=settings().role_addresses)

eligible = int(frame["eligible"].sum()) if not frame.empty else 0
st.caption(f"{len(frame):,} contacts · {eligible:,} can be put on email lists")
st.dataframe(
    frame[["company", "company_kind", "first_name", "last_name", "email", "job_title", "tags", "ineligible_reason"]],
    hide_index=True,
    width="stretch",
    column_config={
        "company": "Company",
        "company_kind": "Kind",
        "first_name": "First name",
        "last_name": "Last name",
        "email": "Email",
        "job_title": "Job title",
        "tags": "Marketing tags",
        "ineligible_reason": "Not selectable because",
    },
)
