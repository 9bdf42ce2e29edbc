import pytest

from ctct import lists
from ctct.crm import demo
from ctct.crm.export import export_data
from ctct.errors import ConsoleError


def test_default_demo_data_set(database):
    with database.session() as session:
        summary = demo.load_demo_data(session)
        frame = lists.contacts_frame(session)
        data = export_data(session)
    assert summary.companies == 40 and 100 <= summary.contacts <= 140 and summary.tags == 6
    kinds = {company["kind"] for company in data["companies"]}
    assert kinds == {"customer", "prospect"}
    reasons = frame["ineligible_reason"].dropna()
    assert reasons.str.startswith("role address").sum() >= 3
    assert reasons.str.startswith("email shared").sum() == 2  # one email, two people
    assert (reasons == "unsubscribed").sum() >= 1
    apparel = frame[frame["tags"].str.contains("Apparel Sports Wear")]
    assert 8 <= len(apparel) <= 16


def test_demo_data_is_deterministic(database_url, tmp_path):
    from ctct.db import Database

    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    first = Database(database_url)
    with first.session() as session:
        demo.load_demo_data(session, companies=60, seed=3)
        one = export_data(session)
    with other.session() as session:
        demo.load_demo_data(session, companies=60, seed=3)
        two = export_data(session)
    assert one == two
    with other.session() as session:
        demo.load_demo_data(session, companies=60, seed=4, replace=True)
        assert export_data(session) != one
    first.dispose()
    other.dispose()


def test_demo_data_scales_and_keeps_names_distinct(database):
    with database.session() as session:
        summary = demo.load_demo_data(session, companies=4000, seed=1)
        data = export_data(session)
    assert summary.companies == 4000
    assert 2.7 <= summary.contacts / summary.companies <= 3.3
    emails = [contact["email"].lower() for contact in data["contacts"]]
    assert len(emails) - len(set(emails)) == 4000 // 40 + (1 if demo.SHARED_EMAIL_COMPANY < 4000 % 40 else 0)


def test_demo_data_refuses_to_mix_with_existing_data(database):
    with database.session() as session:
        demo.load_demo_data(session, companies=5)
    with pytest.raises(ConsoleError, match="--replace"), database.session() as session:
        demo.load_demo_data(session, companies=5)
    with database.session() as session:
        lists.create_list(session, "Old list")
        summary = demo.load_demo_data(session, companies=5, replace=True)
        assert summary.companies == 5 and lists.all_lists(session) == []
