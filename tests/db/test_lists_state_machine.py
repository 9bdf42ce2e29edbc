"""`ctct.lists` against a model: random sequences of list and membership actions, undos and CRM
edits, on SQLite and PostgreSQL. After every step the stored members equal the model's, the
journal replayed from nothing gives the stored members, and no action ever put an ineligible
contact on a list."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule
from sqlalchemy import delete, select

from ctct import lists
from ctct.crm import services
from ctct.crm.eligibility import EligibilityContext, eligibility_reason
from ctct.crm.normalize import name_key
from ctct.db.models import (
    Base,
    EmailList,
    EmailStatus,
    ListMembership,
    MembershipChange,
    MembershipChangeHow,
    MembershipChangeRow,
)
from ctct.errors import IneligibleContacts, RecordConflict, RecordNotFound

ORIGIN = lists.ChangeOrigin("model test", MembershipChangeHow.PYTHON)
ROLES = frozenset({"info", "sales"})
LIST_NAMES = ["News", "news", "Events", "VIP Customers", "Spring 2027"]
# (company, kind, tags, contacts); the company's general address is hello@<domain>.
CRM = [
    ("Acme", "customer", ["Golf"], ["ann@acme.com", "bob@acme.com", "hello@acme.com", "sales@acme.com"]),
    ("Beta Foods", "prospect", ["Golf", "Food"], ["cara@beta.com", "dan@beta.com", "ann2@beta.com"]),
    ("Cobalt", "customer", [], ["eve@cobalt.com", "fay@cobalt.com", "gus@cobalt.com"]),
    ("Delta", "prospect", ["Food"], ["hal@delta.com", "ivy@delta.com"]),
]
FILTERS = [
    lists.ContactFilter(),
    lists.ContactFilter(contact_type=lists.ContactType.CUSTOMER),
    lists.ContactFilter(contact_type=lists.ContactType.PROSPECT),
    lists.ContactFilter(tags=("Golf",)),
    lists.ContactFilter(tags=("Golf", "Food"), contact_type=lists.ContactType.PROSPECT),
    lists.ContactFilter(search="a"),
    lists.ContactFilter(search="BETA"),
]


class ListsMachine(RuleBasedStateMachine):
    database = None  # set by the test

    lists_made = Bundle("lists")
    changes = Bundle("changes")

    def __init__(self) -> None:
        super().__init__()
        with self.database.session() as session:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(delete(table))
            self.contacts: dict[int, dict] = {}
            for company_name, kind, tags, emails in CRM:
                for tag in tags:
                    if services.find_tag(session, tag) is None:
                        services.create_tag(session, tag)
                domain = emails[0].split("@")[1]
                company = services.create_company(session, company_name, kind, email=f"hello@{domain}", tags=tags)
                for email in emails:
                    contact = services.create_contact(session, company.id, email=email, first_name=email[:3])
                    self.contacts[contact.id] = {
                        "email": email,
                        "unsubscribed": False,
                        "kind": kind,
                        "tags": set(tags),
                        "company": company_name,
                        "company_email": f"hello@{domain}",
                    }
        self.names: dict[int, str] = {}
        self.members: dict[int, set[int]] = {}
        # Journaled changes not undone yet: change id -> (list id, added, removed).
        self.undoable: dict[int, tuple[int, set[int], set[int]]] = {}

    # The model's view of the CRM

    def eligible(self, contact_id: int) -> bool:
        contact = self.contacts[contact_id]
        company_emails = frozenset(c["company_email"] for c in self.contacts.values())
        counts: dict[str, int] = {}
        for other in self.contacts.values():
            counts[other["email"].lower()] = counts.get(other["email"].lower(), 0) + 1
        reason = eligibility_reason(
            contact["email"],
            contact["unsubscribed"],
            EligibilityContext(company_emails, {k: v for k, v in counts.items() if v > 1}, ROLES),
        )
        return reason is None

    def matching(self, contact_filter: lists.ContactFilter) -> set[int]:
        chosen = set()
        for contact_id, contact in self.contacts.items():
            if contact_filter.contact_type != lists.ContactType.ALL and contact["kind"] != contact_filter.contact_type:
                continue
            if contact_filter.tags and not contact["tags"] & set(contact_filter.tags):
                continue
            needle = contact_filter.search.strip().lower()
            fields = [contact["company"], contact["email"], contact["email"][:3]]
            if needle and not any(needle in field.lower() for field in fields):
                continue
            chosen.add(contact_id)
        return chosen

    def record(self, list_id: int, change: lists.ListChange) -> object:
        assert set(change.added_ids) <= {cid for cid in self.contacts if self.eligible(cid)}, "ineligible added"
        assert set(change.added_ids).isdisjoint(self.members[list_id]), "an add of a member"
        assert set(change.removed_ids) <= self.members[list_id], "a removal of a non-member"
        self.members[list_id] = (self.members[list_id] | set(change.added_ids)) - set(change.removed_ids)
        if change.change_id is None:
            assert not change.changed
            return multiple()
        self.undoable[change.change_id] = (list_id, set(change.added_ids), set(change.removed_ids))
        return multiple(change.change_id)

    # Rules: lists

    @rule(target=lists_made, name=st.sampled_from(LIST_NAMES))
    def create(self, name):
        taken = any(name_key(existing) == name_key(name) for existing in self.names.values())
        with self.database.session() as session:
            if taken:
                with pytest.raises(RecordConflict):
                    lists.create_list(session, name)
                return multiple()
            created = lists.create_list(session, name)
        self.names[created.id] = name
        self.members[created.id] = set()
        return created.id

    @rule(list_id=lists_made, name=st.sampled_from(LIST_NAMES))
    def rename(self, list_id, name):
        if list_id not in self.names:
            return
        clash = any(name_key(n) == name_key(name) for i, n in self.names.items() if i != list_id)
        with self.database.session() as session:
            if clash:
                with pytest.raises(RecordConflict):
                    lists.rename_list_by_id(session, list_id, name)
                return
            lists.rename_list_by_id(session, list_id, name)
        self.names[list_id] = name

    @rule(list_id=consumes(lists_made))
    def delete(self, list_id):
        if list_id not in self.names:
            return
        with self.database.session() as session:
            lists.delete_list(session, self.names[list_id])
        del self.names[list_id], self.members[list_id]
        # Its changes cannot be undone any more, even when a new list gets the same id (SQLite
        # hands out the highest id again).
        self.undoable = {cid: entry for cid, entry in self.undoable.items() if entry[0] != list_id}

    # Rules: members

    @rule(target=changes, list_id=lists_made, picks=st.sets(st.integers(0, 11), min_size=1, max_size=4))
    def tick(self, list_id, picks):
        if list_id not in self.names:
            return multiple()
        ids = [sorted(self.contacts)[pick] for pick in picks]
        with self.database.session() as session:
            if not all(self.eligible(cid) for cid in ids):
                with pytest.raises(IneligibleContacts):
                    lists.add_contacts(session, self.names[list_id], ids, ROLES, origin=ORIGIN)
                return multiple()
            change = lists.add_contacts(session, self.names[list_id], ids, ROLES, origin=ORIGIN)
        return self.record(list_id, change)

    @rule(target=changes, list_id=lists_made, picks=st.sets(st.integers(0, 11), min_size=1, max_size=4))
    def untick(self, list_id, picks):
        if list_id not in self.names:
            return multiple()
        ids = [sorted(self.contacts)[pick] for pick in picks]
        with self.database.session() as session:
            change = lists.remove_contacts(session, self.names[list_id], ids, origin=ORIGIN)
        return self.record(list_id, change)

    @rule(target=changes, list_id=lists_made, contact_filter=st.sampled_from(FILTERS))
    def select_all(self, list_id, contact_filter):
        if list_id not in self.names:
            return multiple()
        with self.database.session() as session:
            change = lists.add_matching(session, self.names[list_id], contact_filter, ROLES, origin=ORIGIN)
        expected = {cid for cid in self.matching(contact_filter) if self.eligible(cid)} - self.members[list_id]
        assert set(change.added_ids) == expected
        return self.record(list_id, change)

    @rule(target=changes, list_id=lists_made, contact_filter=st.sampled_from(FILTERS))
    def clear_all(self, list_id, contact_filter):
        if list_id not in self.names:
            return multiple()
        with self.database.session() as session:
            change = lists.remove_matching(session, self.names[list_id], contact_filter, origin=ORIGIN)
        assert set(change.removed_ids) == self.matching(contact_filter) & self.members[list_id]
        return self.record(list_id, change)

    @rule(change_id=consumes(changes))
    def undo(self, change_id):
        entry = self.undoable.pop(change_id, None)
        with self.database.session() as session:
            if entry is None or entry[0] not in self.names:
                with pytest.raises((RecordNotFound, RecordConflict)):
                    lists.undo_change(session, change_id, ROLES, origin=ORIGIN)
                return
            list_id, added, removed = entry
            change = lists.undo_change(session, change_id, ROLES, origin=ORIGIN)
        put_back = {cid for cid in removed if self.eligible(cid)} - self.members[list_id]
        assert set(change.added_ids) == put_back
        assert set(change.removed_ids) == added & self.members[list_id]
        self.members[list_id] = (self.members[list_id] - added) | put_back

    def adversarial_contact(self, data) -> int:
        """A contact whose eligibility matters most: one a pending undo would put back."""
        put_back = sorted({cid for _, _, removed in self.undoable.values() for cid in removed})
        return data.draw(st.sampled_from(put_back or sorted(self.contacts)))

    @rule(data=st.data())
    def unsubscribe(self, data):
        contact_id = self.adversarial_contact(data)
        with self.database.session() as session:
            services.get_contact(session, contact_id).email_status = EmailStatus.UNSUBSCRIBED
        self.contacts[contact_id]["unsubscribed"] = True

    @rule(data=st.data(), other=st.integers(0, 11))
    def share_an_email(self, data, other):
        """One contact takes another's email: both become ineligible (SPEC §3 rule 5)."""
        contact_id, source = self.adversarial_contact(data), sorted(self.contacts)[other]
        if contact_id == source:
            return
        email = self.contacts[source]["email"]
        with self.database.session() as session:
            services.get_contact(session, contact_id).email = email
            services.get_contact(session, contact_id).email_key = email.lower()
        self.contacts[contact_id]["email"] = email

    # Invariants

    @invariant()
    def stored_members_equal_the_model(self):
        with self.database.session() as session:
            stored: dict[int, set[int]] = {list_id: set() for list_id in session.scalars(select(EmailList.id))}
            for list_id, contact_id in session.execute(select(ListMembership.list_id, ListMembership.contact_id)):
                stored[list_id].add(contact_id)
        assert stored == self.members

    @invariant()
    def the_journal_replays_to_the_stored_members(self):
        replayed: dict[int, set[int]] = {}
        with self.database.session() as session:
            changes = session.execute(
                select(
                    MembershipChange.id, MembershipChange.list_id, MembershipChange.added, MembershipChange.removed
                ).order_by(MembershipChange.id)
            ).all()
            for change_id, list_id, added_count, removed_count in changes:
                rows = session.execute(
                    select(MembershipChangeRow.contact_id, MembershipChangeRow.added).where(
                        MembershipChangeRow.change_id == change_id
                    )
                ).all()
                added = {cid for cid, was_added in rows if was_added}
                removed = {cid for cid, was_added in rows if not was_added}
                assert (len(added), len(removed)) == (added_count, removed_count)
                if list_id is None:  # the list was deleted since
                    continue
                held = replayed.setdefault(list_id, set())
                assert not added & held, "the journal adds a contact already on the list"
                assert removed <= held, "the journal removes a contact not on the list"
                replayed[list_id] = (held | added) - removed
        for list_id, members in self.members.items():
            assert replayed.get(list_id, set()) == members


@pytest.mark.timeout(600)
def test_lists_behave_like_the_model(database):
    ListsMachine.database = database
    runner = ListsMachine.TestCase
    runner.settings = settings(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    runner().runTest()
