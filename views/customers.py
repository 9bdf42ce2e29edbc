"""Customers & Prospects: companies and their contacts (who may go on a list, and why not),
adding and editing them, and the CSV/Excel import with its preview."""

import streamlit as st

from ctct import lists
from ctct.crm import importer, services
from ctct.crm.services import list_tags
from ctct.errors import ConsoleError
from ctct.ui.downloads import csv_download
from ctct.ui.grid import COLUMNS, CONTACT_TYPES
from ctct.ui.state import contacts, database, settings
from ctct.ui.text import plain

CONTACT_CHOICES = 50

st.title("Customers & Prospects")
browse, add, import_tab = st.tabs(["Contacts", "Add or edit", "Import CSV / Excel"])

with browse:
    with database().session() as session:
        tag_names = [tag.name for tag in list_tags(session)]
    left, middle, right = st.columns([1, 2, 2])
    contact_type = left.radio("Contact Type", list(CONTACT_TYPES), key="customers_type")
    tags = middle.multiselect("Marketing Tags", tag_names, key="customers_tags")
    search = right.text_input("Search", key="customers_search", placeholder="company, name, email, job title")
    contact_filter = lists.ContactFilter(
        contact_type=CONTACT_TYPES[contact_type],
        tags=tuple(tags),
        search=search,
    )
    frame = contacts(contact_filter)
    eligible = int(frame["eligible"].sum()) if not frame.empty else 0
    st.caption(f"{len(frame):,} contacts · {eligible:,} can be put on email lists")
    st.dataframe(frame[list(COLUMNS)], hide_index=True, width="stretch", column_config=COLUMNS)
    # The table's own download is off (client.disableDataExport): this one is formula-safe.
    csv_download(frame[list(COLUMNS)].rename(columns=COLUMNS), "contacts.csv", "customers_csv")

with add:
    with database().session() as session:
        companies = {f"{name} · #{cid}": cid for cid, name in services.company_choices(session)}
    with st.form("customers_company", clear_on_submit=True):
        st.markdown("**New company**")
        name = st.text_input("Company name", key="customers_company_name")
        kind = st.radio("Kind", ["customer", "prospect"], horizontal=True, key="customers_company_kind")
        email = st.text_input("General email (optional)", key="customers_company_email")
        if st.form_submit_button("Add company"):
            try:
                with database().session() as session:
                    services.create_company(session, name, kind, email=email or None)
                st.toast(f"Added {plain(name)}")
            except ConsoleError as error:
                st.error(plain(error))
    if companies:
        with st.form("customers_contact", clear_on_submit=True):
            st.markdown("**New contact**")
            company = st.selectbox("Company", list(companies), key="customers_contact_company")
            first, last = st.columns(2)
            first_name = first.text_input("First name", key="customers_contact_first")
            last_name = last.text_input("Last name", key="customers_contact_last")
            contact_email = st.text_input("Email", key="customers_contact_email")
            job_title = st.text_input("Job title", key="customers_contact_title")
            if st.form_submit_button("Add contact"):
                try:
                    with database().session() as session:
                        services.create_contact(
                            session,
                            companies[company],
                            email=contact_email,
                            first_name=first_name,
                            last_name=last_name,
                            job_title=job_title,
                        )
                    st.toast(f"Added {plain(contact_email)}")
                except ConsoleError as error:
                    st.error(plain(error))
        with st.form("customers_edit_company"):
            st.markdown("**Edit a company**")
            target = st.selectbox("Company", list(companies), key="customers_edit_target")
            new_name = st.text_input("New name (leave empty to keep)", key="customers_edit_name")
            new_kind = st.radio("Kind", ["keep", "customer", "prospect"], horizontal=True, key="customers_edit_kind")
            if st.form_submit_button("Save"):
                fields = {
                    key: value for key, value in (("name", new_name), ("kind", new_kind)) if value and value != "keep"
                }
                try:
                    with database().session() as session:
                        services.update_company(session, companies[target], **fields)
                    st.toast("Saved")
                except ConsoleError as error:
                    st.error(plain(error))

    st.markdown("**Edit a contact**")
    # Search first, then pick: a picker of every contact is unusable at 100,000 contacts.
    needle = st.text_input("Find the contact", key="customers_edit_find", placeholder="email, name or company")
    if needle.strip():
        found = contacts(lists.ContactFilter(search=needle))
        if found.empty:
            st.caption("No contact matches.")
        else:
            shown = found.head(CONTACT_CHOICES)
            labels = {
                int(row.contact_id): f"{row.email or '(no email)'} · {row.company} · #{row.contact_id}"
                for row in shown.itertuples()
            }
            more = f" (the first {CONTACT_CHOICES} shown: type more to narrow)" if len(found) > CONTACT_CHOICES else ""
            picked = st.selectbox(
                f"{len(found):,} contact(s) match{more}",
                list(labels),
                format_func=labels.__getitem__,
                key="customers_edit_contact",
            )
            current = shown.set_index("contact_id").loc[picked]
            with st.form("customers_edit_contact_form"):
                first, last = st.columns(2)
                # Keyed by contact: picking another contact shows its own values.
                edits = {
                    "first_name": first.text_input(
                        "First name", current["first_name"] or "", key=f"customers_edit_first_{picked}"
                    ),
                    "last_name": last.text_input(
                        "Last name", current["last_name"] or "", key=f"customers_edit_last_{picked}"
                    ),
                    "email": st.text_input("Email", current["email"] or "", key=f"customers_edit_email_{picked}"),
                    "job_title": st.text_input(
                        "Job title", current["job_title"] or "", key=f"customers_edit_title_{picked}"
                    ),
                }
                if st.form_submit_button("Save contact"):
                    try:
                        with database().session() as session:
                            # Only what was changed: a value that came from Constant Contact
                            # (a name that starts like a formula, say) stays as it is.
                            changed = {
                                field: value for field, value in edits.items() if value != (current[field] or "")
                            }
                            services.update_contact(session, picked, **changed)
                        st.toast("Saved")
                    except ConsoleError as error:
                        st.error(f"{plain(error)} — nothing was changed.")

with import_tab:
    st.caption("Columns: company, kind, company email, first name, last name, email, job title, tags (separated by ;).")
    upload = st.file_uploader("CSV or Excel file", type=["csv", "xlsx"], key="customers_upload")
    if upload is not None:
        try:
            frame, ignored = importer.read_import_file(upload.name, upload.getvalue())
            with database().session() as session:
                plan = importer.plan_crm_import(
                    session,
                    frame,
                    source=upload.name,
                    ignored_columns=ignored,
                    role_addresses=settings().role_addresses,
                )
        except ConsoleError as error:
            st.error(plain(error))
            st.stop()
        counts = plan.counts()
        columns = st.columns(4)
        columns[0].metric("Rows", f"{counts['rows']:,}")
        columns[1].metric("Companies to create", f"{counts['companies_to_create']:,}")
        columns[2].metric("Contacts to create", f"{counts['contacts_to_create']:,}")
        columns[3].metric("Rejected rows", f"{counts['rejected']:,}")
        for warning in plan.warnings:
            st.warning(plain(warning.message))
        if plan.new_tags:
            st.info(f"New tags: {plain(', '.join(plan.new_tags))}")
        st.dataframe(
            plan.rows[["line", "status", "company", "company_action", "email", "contact_action", "reason"]],
            hide_index=True,
            width="stretch",
        )
        skip = st.checkbox(
            "Import the valid rows, skip the rejected ones",
            key="customers_skip_invalid",
            disabled=not counts["rejected"],
        )
        if st.button("Import", type="primary", key="customers_import"):
            try:
                with st.status("Importing…") as status:
                    bar = st.progress(0.0)
                    with database().session() as session:
                        summary = importer.commit_crm_import(
                            session, plan, skip_invalid=skip, progress=lambda fraction, _m: bar.progress(fraction)
                        )
                    status.update(label="Imported", state="complete")
                st.success(
                    f"Imported: {summary.companies_created:,} companies and {summary.contacts_created:,} "
                    "contacts created."
                )
            except ConsoleError as error:
                st.error(plain(error))
