"""The contact directory the pages share: after any CRM edit it equals a fresh read, and contact
edits re-read only the contacts that changed."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from ctct.crm import demo, services
from ctct.crm.contact_frame import COLUMNS, ContactDirectory, read_contacts
from ctct.db.models import Contact, EmailStatus, utcnow


def same_rows(left: pd.DataFrame, right: pd.DataFrame) -> None:
    ordered = [frame.sort_values("contact_id").reset_index(drop=True)[COLUMNS] for frame in (left, right)]
    pd.testing.assert_frame_equal(*ordered, check_dtype=False)


@st.composite
def edits(draw):
    """A contact edit: a name, a job title, an email (possibly one another contact has), a status."""
    field = draw(st.sampled_from(["first_name", "job_title", "email", "shared_email", "unsubscribe", "new_contact"]))
    return field, draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(edits(), min_size=1, max_size=6))
def test_contact_edits_are_patched_in_and_equal_a_fresh_read(database, changes):
    with database.session() as session:
        demo.load_demo_data(session, companies=15, replace=True)
    directory = ContactDirectory()
    with database.session() as session:
        directory.frame(session)
    for number, (field, pick, other) in enumerate(changes):
        with database.session() as session:
            frame = read_contacts(session)
            contact_id = int(frame["contact_id"].iloc[pick % len(frame)])
            other_id = int(frame["contact_id"].iloc[other % len(frame)])
            if field == "first_name":
                services.update_contact(session, contact_id, first_name=f"Zed{number}")
            elif field == "job_title":
                services.update_contact(session, contact_id, job_title=f"Chief {number}")
            elif field == "email":
                services.update_contact(session, contact_id, email=f"moved{number}@example.org")
            elif field == "shared_email":  # two contacts share an email: both become ineligible
                contact = services.get_contact(session, contact_id)
                contact.email = services.get_contact(session, other_id).email
                contact.email_key = (contact.email or "").lower() or None
            elif field == "unsubscribe":
                services.get_contact(session, contact_id).email_status = EmailStatus.UNSUBSCRIBED
            else:
                company_id = int(frame["company_id"].iloc[pick % len(frame)])
                services.create_contact(session, company_id, email=f"new{number}@example.org", first_name="New")
        with database.session() as session:
            same_rows(directory.frame(session), read_contacts(session))
    assert directory.full_reads == 1  # every contact edit was patched in
    assert directory.patched_rows <= 2 * len(changes)


def test_an_edit_committed_late_with_an_older_time_is_still_read(database):
    """A transaction that stamped a contact before the directory's last read but committed after
    it: the re-read window catches it."""
    with database.session() as session:
        demo.load_demo_data(session, companies=3)
        frame = read_contacts(session)
    old = utcnow() - dt.timedelta(hours=1)
    with database.session() as session:
        session.execute(update(Contact).values(updated_at=old))
    directory = ContactDirectory(reread_window=dt.timedelta(seconds=60))
    first, second = (int(cid) for cid in frame["contact_id"].iloc[:2])
    with database.session() as session:
        services.update_contact(session, first, job_title="Edited now")
    with database.session() as session:
        directory.frame(session)
    with database.session() as session:  # committed after that read, stamped 10 s before it
        services.update_contact(session, second, job_title="Edited late")
        services.get_contact(session, second).updated_at = utcnow() - dt.timedelta(seconds=10)
    with database.session() as session:
        assert directory.frame(session).set_index("contact_id").at[second, "job_title"] == "Edited late"
    assert directory.full_reads == 1


def test_company_tag_and_deletion_changes_read_everything_again(database):
    with database.session() as session:
        demo.load_demo_data(session, companies=6)
        frame = read_contacts(session)
    directory = ContactDirectory()
    with database.session() as session:
        first = directory.frame(session)
        assert directory.frame(session) is first  # nothing changed: the same frame, not a copy
    company_id, contact_id = int(frame["company_id"].iloc[0]), int(frame["contact_id"].iloc[-1])
    for change in (
        lambda session: services.update_company(session, company_id, name="Renamed Co"),
        lambda session: services.create_tag(session, "Golf"),
        lambda session: session.delete(services.get_contact(session, contact_id)),
    ):
        with database.session() as session:
            change(session)
        reads = directory.full_reads
        with database.session() as session:
            same_rows(directory.frame(session), read_contacts(session))
        assert directory.full_reads == reads + 1
    assert first is not directory.frame(database.sessionmaker())  # the first frame was never changed
    assert "Renamed Co" not in set(first["company"])
