"""Customers & Prospects: companies and their contacts (who may go on a list, and why not),
adding, editing and deleting them, and the CSV/Excel import with its preview."""

from collections.abc import Callable

import streamlit as st
from sqlalchemy.orm import Session

from ctct import activation, lists
from ctct.crm import importer, services
from ctct.crm.services import list_tags
from ctct.errors import ConsoleError
from ctct.ui.downloads import csv_download
from ctct.ui.grid import COLUMNS, CONTACT_TYPES
from ctct.ui.state import client, contacts, database, settings
from ctct.ui.text import plain

CONTACT_CHOICES = 50
COMPANY_CHOICES = 50
# Rows the Contacts table holds at a time.
PAGE_ROWS = 100
NO_COMPANY = "No company found: change the search, or add the company above."
KINDS = ["customer", "prospect"]
# A contact's editable fields and the suffix of their widget keys.
EDIT_FIELDS = {"first_name": "first", "last_name": "last", "email": "email", "job_title": "title"}

st.title("Customers & Prospects")
for message in st.session_state.pop("customers_said", []):
    st.toast(message, icon=":material/check:")
# Set by a deletion's buttons for its dialog to close; a run of the whole page drops it, so that a
# dialog opened later does not close at once.
st.session_state.pop("customers_deleted", None)
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
    pages = max(1, -(-len(frame) // PAGE_ROWS))
    # A new filter starts at its first page (assigned before the page picker is drawn).
    if st.session_state.get("customers_view") != contact_filter or st.session_state.get("customers_page", 1) > pages:
        st.session_state["customers_view"] = contact_filter
        st.session_state["customers_page"] = 1
    page_number = 1
    caption, pager = st.columns([4, 1], vertical_alignment="bottom")
    if pages > 1:
        # The table holds a page at a time (100,000 rows would be 30 MB a run); counts and the
        # download cover every row the filter selects.
        page_number = int(pager.number_input(f"Page (of {pages:,})", 1, pages, key="customers_page"))
    first_row = (page_number - 1) * PAGE_ROWS
    page = frame.iloc[first_row : first_row + PAGE_ROWS]
    rows_shown = f" · rows {first_row + 1:,}–{first_row + len(page):,} shown" if pages > 1 else ""
    caption.caption(f"{len(frame):,} contacts · {eligible:,} can be put on email lists{rows_shown}")
    st.dataframe(page[list(COLUMNS)], hide_index=True, width="stretch", column_config=COLUMNS)
    # The table's own download is off (client.disableDataExport): this one is formula-safe.
    csv_download(frame[list(COLUMNS)].rename(columns=COLUMNS), "contacts.csv", "customers_csv")

# Adding, editing and deleting run in callbacks, before the page draws: a refused save keeps what
# was typed and says why under its form; a save that succeeds clears its form, and every picker
# drawn after it already holds what it made or lost what it deleted.


def choose_valid(key: str, options: list[int]) -> None:
    """A picker whose choice is gone (deleted here or elsewhere) shows its first option instead.
    Assigned, not dropped: a dropped key leaves the browser showing the old choice."""
    if options and st.session_state.get(key) not in options:
        st.session_state[key] = options[0]


def said(message: str) -> None:
    """Queues a toast for the run the action leads to (a dialog's confirmation ends in a rerun)."""
    st.session_state.setdefault("customers_said", []).append(plain(message))


def refused(form: str, error: ConsoleError) -> None:
    st.session_state[f"customers_refused_{form}"] = plain(error)


def show_refusal(form: str) -> None:
    message = st.session_state.pop(f"customers_refused_{form}", None)
    if message:
        st.error(message)


def add_company() -> None:
    state = st.session_state
    try:
        with database().session() as session:
            company = services.create_company(
                session,
                state.get("customers_company_name", ""),
                state.get("customers_company_kind", KINDS[0]),
                email=state.get("customers_company_email") or None,
            )
            company_id, name, kind = company.id, company.name, company.kind.value
    except ConsoleError as error:
        refused("company", error)
        return
    state.update(customers_company_name="", customers_company_kind=KINDS[0], customers_company_email="")
    # Its contacts are usually what comes next: the contact form offers the new company, chosen.
    state["customers_contact_company"] = company_id
    said(f"Added the {kind} '{name}'")


def add_contact() -> None:
    state = st.session_state
    try:
        with database().session() as session:
            contact = services.create_contact(
                session,
                state["customers_contact_company"],
                email=state.get("customers_contact_email"),
                first_name=state.get("customers_contact_first"),
                last_name=state.get("customers_contact_last"),
                job_title=state.get("customers_contact_title"),
            )
            # Without the email: a toast shows three lines, and the form above still shows it.
            message = f"Added {services.describe_contact(contact, with_email=False)}"
    except ConsoleError as error:
        refused("contact", error)
        return
    # The company stays chosen: the next contact is often of the same company.
    for key in (
        "customers_contact_first",
        "customers_contact_last",
        "customers_contact_email",
        "customers_contact_title",
    ):
        state[key] = ""
    said(message)


def save_company(company_id: int) -> None:
    state = st.session_state
    fields = {}
    if (state.get("customers_edit_name") or "").strip():
        fields["name"] = state["customers_edit_name"]
    if state.get("customers_edit_kind", "keep") != "keep":
        fields["kind"] = state["customers_edit_kind"]
    if not fields:
        refused("edit_company", ConsoleError("Nothing to save: type a new name or choose a kind."))
        return
    try:
        with database().session() as session:
            before = services.get_company(session, company_id).name
            company = services.update_company(session, company_id, **fields)
            renamed = f" (renamed from '{before}')" if company.name != before else ""
            message = f"Saved the {company.kind.value} '{company.name}'{renamed}"
    except ConsoleError as error:
        refused("edit_company", error)
        return
    state.update(customers_edit_name="", customers_edit_kind="keep")
    said(message)


def save_contact(contact_id: int, stored: dict[str, str]) -> None:
    state = st.session_state
    typed = {field: state.get(f"customers_edit_{short}_{contact_id}", "") for field, short in EDIT_FIELDS.items()}
    # Only what was changed: a value that came from Constant Contact (a name that starts like a
    # formula, say) stays as it is.
    changed = {field: value for field, value in typed.items() if value != stored[field]}
    if not changed:
        said("Nothing to save: no field was changed")
        return
    try:
        with database().session() as session:
            contact = services.update_contact(session, contact_id, **changed)
            message = f"Saved {services.describe_contact(contact, with_email=False)}"
    except ConsoleError as error:
        refused("edit_contact", ConsoleError(f"{error} — nothing was changed."))
        return
    said(message)


def consequences(impact: services.DeletionImpact, here: str) -> str:
    """What a deletion does here and in Constant Contact, as ctct/sync/plan.py does it (and
    tests/sync/test_crm_deletions.py checks): a push takes the deleted contacts off the linked lists
    there and deletes no contact in CTCT; a pull brings back the members of CTCT's lists that are
    unknown here."""
    if not activation.connection_status(client()).active:
        there = "not connected, so nothing changes there."
    elif impact.linked_lists:
        there = (
            "no contact is deleted there. The next push (Synchronize → Update Constant Contact from Customer "
            f"Focus) takes the deleted contact(s) off {', '.join(impact.linked_lists)} there. Until that push, a "
            "pull brings them back here."
        )
    else:
        there = (
            "no contact is deleted there: Constant Contact keeps any of them it has. A pull brings back any of "
            "them that is on a list in Constant Contact."
        )
    return f"**Here:** {plain(here)} This cannot be undone.\n\n**In Constant Contact:** {plain(there)}"


def memberships(impact: services.DeletionImpact) -> str:
    return f"{impact.memberships:,} email-list membership(s) ({', '.join(impact.lists)})"


def delete_company(company_id: int) -> None:
    try:
        with database().session() as session:
            gone = services.delete_company(session, company_id)
    except ConsoleError as error:
        refused("edit_company", error)
    else:
        said(f"Deleted '{gone.name}' with {gone.contacts:,} contact(s) and {gone.memberships:,} list membership(s)")
    st.session_state["customers_deleted"] = True


def delete_contact(contact_id: int) -> None:
    try:
        with database().session() as session:
            who = services.describe_contact(services.get_contact(session, contact_id), with_email=False)
            gone = services.delete_contact(session, contact_id)
    except ConsoleError as error:
        refused("find_contact", error)
    else:
        said(f"Deleted {who} with {gone.memberships:,} list membership(s)")
    st.session_state["customers_deleted"] = True


def cancel_deletion() -> None:
    st.session_state["customers_deleted"] = True


def company_consequence(impact: services.DeletionImpact) -> str:
    if not impact.contacts:
        return f"'{impact.name}' is deleted; it has no contacts."
    if impact.memberships:
        return f"'{impact.name}' is deleted with its {impact.contacts:,} contact(s) and their {memberships(impact)}."
    return f"'{impact.name}' is deleted with its {impact.contacts:,} contact(s), none of them on an email list."


def contact_consequence(impact: services.DeletionImpact) -> str:
    if impact.memberships:
        return f"{impact.name} is deleted with its {memberships(impact)}."
    return f"{impact.name} is deleted; it is on no email list."


def deletion_dialog(
    what: str,
    target_id: int,
    impact_of: Callable[[Session, int], services.DeletionImpact],
    consequence: Callable[[services.DeletionImpact], str],
    on_delete: Callable[[int], None],
) -> None:
    """The body of a deletion's confirmation: what goes here and in Constant Contact, then the buttons."""
    # Set by the buttons below: the dialog closes on the run they lead to.
    if st.session_state.pop("customers_deleted", False):
        st.rerun()
    try:
        with database().session() as session:
            impact = impact_of(session, target_id)
    except ConsoleError as error:
        st.error(plain(error))
        return
    st.markdown(consequences(impact, consequence(impact)))
    buttons = st.container(horizontal=True)
    buttons.button(
        f"Delete the {what}",
        type="primary",
        key=f"customers_delete_{what}_confirm",
        on_click=on_delete,
        args=(target_id,),
    )
    buttons.button("Cancel", key=f"customers_delete_{what}_cancel", on_click=cancel_deletion)


@st.dialog("Delete this company?")
def confirm_company_deletion(company_id: int) -> None:
    deletion_dialog("company", company_id, services.company_deletion_impact, company_consequence, delete_company)


@st.dialog("Delete this contact?")
def confirm_contact_deletion(contact_id: int) -> None:
    deletion_dialog("contact", contact_id, services.contact_deletion_impact, contact_consequence, delete_contact)


def company_options(key: str) -> services.CompanyMatches:
    """What the company picker `key` offers: the companies its search box finds (the first
    COMPANY_CHOICES by name), and the one it holds even when the search does not find it. A
    choice that no longer exists gives way to the first company found."""
    with database().session() as session:
        found = services.search_companies(session, st.session_state.get(f"{key}_find", ""), COMPANY_CHOICES)
        held = st.session_state.get(key)
        held_name = None if held in found.shown else services.company_name(session, held)
    options = {held: held_name, **found.shown} if held_name is not None else found.shown
    choose_valid(key, list(options))
    return services.CompanyMatches(shown=options, total=found.total)


def pick_found_company(key: str) -> None:
    """A new search chooses the first company it finds: what is typed is usually the one meant."""
    with database().session() as session:
        found = services.search_companies(session, st.session_state.get(f"{key}_find", ""), 1)
    if found.shown:
        st.session_state[key] = next(iter(found.shown))


def company_finder(key: str) -> None:
    st.text_input(
        "Find the company",
        key=f"{key}_find",
        placeholder="part of its name, or #id",
        on_change=pick_found_company,
        args=(key,),
    )


def company_picker(key: str, options: services.CompanyMatches) -> int:
    def label(company_id: int) -> str:
        # Labels carry the id: two companies may share a name.
        return f"{options.shown[company_id]} · #{company_id}"

    narrowed = (
        f" ({options.total:,} found, the first {COMPANY_CHOICES} shown: type more to narrow)"
        if options.total > COMPANY_CHOICES
        else ""
    )
    return int(st.selectbox(f"Company{narrowed}", list(options.shown), format_func=label, key=key))


with add:
    with st.form("customers_company"):
        st.markdown("**New company**")
        st.text_input("Company name", key="customers_company_name")
        st.radio("Kind", KINDS, horizontal=True, key="customers_company_kind")
        st.text_input("General email (optional)", key="customers_company_email")
        st.form_submit_button("Add company", on_click=add_company)
        show_refusal("company")
    # Read after the callbacks: a company added (or deleted) by this click is already here.
    # Searched, never listed whole: a picker of 33,000 companies is megabytes on every run.
    st.markdown("**New contact**")
    company_finder("customers_contact_company")
    new_contact_companies = company_options("customers_contact_company")
    if not new_contact_companies.shown:
        st.caption(NO_COMPANY)
    else:
        with st.form("customers_contact"):
            company_picker("customers_contact_company", new_contact_companies)
            first, last = st.columns(2)
            first.text_input("First name", key="customers_contact_first")
            last.text_input("Last name", key="customers_contact_last")
            st.text_input("Email", key="customers_contact_email")
            st.text_input("Job title", key="customers_contact_title")
            st.form_submit_button("Add contact", on_click=add_contact)
            show_refusal("contact")

    st.markdown("**Edit or delete a company**")
    company_finder("customers_edit_target")
    edit_companies = company_options("customers_edit_target")
    if not edit_companies.shown:
        st.caption(NO_COMPANY)
    else:
        # Outside the form: Delete acts on the company shown, not on the one of the last Save.
        target = company_picker("customers_edit_target", edit_companies)
        with st.form("customers_edit_company"):
            st.text_input("New name (leave empty to keep)", key="customers_edit_name")
            st.radio("Kind", ["keep", *KINDS], horizontal=True, key="customers_edit_kind")
            st.form_submit_button("Save", on_click=save_company, args=(target,))
            show_refusal("edit_company")
        if st.button("Delete company…", key="customers_delete_company", icon=":material/delete:"):
            confirm_company_deletion(target)

    st.markdown("**Edit or delete a contact**")
    # Search first, then pick: a picker of every contact is unusable at 100,000 contacts.
    needle = st.text_input("Find the contact", key="customers_edit_find", placeholder="email, name or company")
    show_refusal("find_contact")
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
            choose_valid("customers_edit_contact", list(labels))
            more = f" (the first {CONTACT_CHOICES} shown: type more to narrow)" if len(found) > CONTACT_CHOICES else ""
            picked = st.selectbox(
                f"{len(found):,} contact(s) match{more}",
                list(labels),
                format_func=labels.__getitem__,
                key="customers_edit_contact",
            )
            current = shown.set_index("contact_id").loc[picked]
            stored = {field: current[field] or "" for field in EDIT_FIELDS}
            with st.form("customers_edit_contact_form"):
                first, last = st.columns(2)
                # Keyed by contact: picking another contact shows its own values, and a refused
                # save keeps what was typed.
                first.text_input("First name", stored["first_name"], key=f"customers_edit_first_{picked}")
                last.text_input("Last name", stored["last_name"], key=f"customers_edit_last_{picked}")
                st.text_input("Email", stored["email"], key=f"customers_edit_email_{picked}")
                st.text_input("Job title", stored["job_title"], key=f"customers_edit_title_{picked}")
                st.form_submit_button("Save contact", on_click=save_contact, args=(picked, stored))
                show_refusal("edit_contact")
            if st.button("Delete contact…", key="customers_delete_contact", icon=":material/delete:"):
                confirm_contact_deletion(picked)

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
