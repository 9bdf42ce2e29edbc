"""The importer works out its checks, company ids and tag pairs once per distinct value and joins
them back to the rows: each row must still get exactly its own verdict, company and tags."""

from sqlalchemy import select

from ctct.crm import importer
from ctct.db.models import Company, MarketingTag, company_tags

HEADER = "Company,Kind,Company Email,First Name,Last Name,Email,Job Title,Tags\n"


def plan_for(database, text):
    frame, ignored = importer.read_import_file("crm.csv", text.encode("utf-8"))
    with database.session() as session:
        return importer.plan_crm_import(session, frame, ignored_columns=ignored)


def test_a_bad_value_repeated_is_refused_on_every_row_and_a_repeated_email_names_the_first_line(database):
    plan = plan_for(
        database,
        HEADER
        + "Acme,customer,,=SUM(A1),,a@acme.com,,\n"
        + "Acme,vendor,,Ann,,b@acme.com,,\n"
        + "Acme,customer,,=SUM(A1),,A@acme.com,,VIP;=X\n"
        + "Beta,vendor,,Bo,,c@beta.com,,\n"
        + "Beta,customer,,Bo,,a@ACME.com ,,VIP\n",
    )
    reasons = dict(zip(plan.rows["line"], plan.rows["reason"], strict=True))
    formula = "first name '=SUM(A1)' looks like a spreadsheet formula"
    assert reasons[2].startswith(formula) and reasons[4].startswith(formula)
    assert "kind 'vendor' must be" in reasons[3] and "kind 'vendor' must be" in reasons[5]
    assert "tag name '=X' looks like a spreadsheet formula" in reasons[4]
    assert "duplicate email 'A@acme.com': same as line 2" in reasons[4]
    assert "duplicate email 'a@ACME.com': same as line 2" in reasons[6]
    assert [line for line, reason in reasons.items() if reason is None] == []


def test_kind_conflicts_are_told_per_company_in_key_order_and_the_first_row_decides(database):
    plan = plan_for(
        database,
        HEADER
        + "Zeta,prospect,,,,z1@zeta.com,,\n"
        + "Alpha,customer,,,,a1@alpha.com,,\n"
        + "Mid,customer,,,,m1@mid.com,,\n"
        + "Zeta,customer,,,,z2@zeta.com,,\n"
        + "Mid,,,,,m2@mid.com,,\n"
        + "Alpha,prospect,,,,a2@alpha.com,,\n",
    )
    assert [w.message for w in plan.warnings if w.kind == "kind_conflict"] == [
        "company 'Alpha' is both customer and prospect in the file; the first row (line 3) decides: customer",
        "company 'Zeta' is both customer and prospect in the file; the first row (line 2) decides: prospect",
    ]


def test_each_company_gets_the_tags_of_all_its_rows_once(database):
    rows = [
        "Acme,,,,,a1@acme.com,,VIP;Gold",
        "Beta,,,,,b1@beta.com,,Gold",
        "Acme,,,,,a2@acme.com,,gold; Silver",
        "Gamma,,,,,g1@gamma.com,,;",
        "Beta,,,,,b2@beta.com,,Gold",
        "Delta,,,,,d1@delta.com,,",
        "Gamma,,,,,g2@gamma.com,,VIP",
    ]
    frame, ignored = importer.read_import_file("crm.csv", (HEADER + "\n".join(rows) + "\n").encode("utf-8"))
    with database.session() as session:
        importer.commit_crm_import(session, importer.plan_crm_import(session, frame, ignored_columns=ignored))
    with database.session() as session:
        pairs = session.execute(
            select(Company.name, MarketingTag.name)
            .join(company_tags, company_tags.c.company_id == Company.id)
            .join(MarketingTag, MarketingTag.id == company_tags.c.tag_id)
        ).all()
    assert sorted(tuple(pair) for pair in pairs) == [
        ("Acme", "Gold"),
        ("Acme", "Silver"),
        ("Acme", "VIP"),
        ("Beta", "Gold"),
        ("Gamma", "VIP"),
    ]


def test_a_tag_a_company_has_already_is_not_assigned_again(database):
    def import_file(text):
        frame, ignored = importer.read_import_file("crm.csv", (HEADER + text).encode("utf-8"))
        with database.session() as session:
            importer.commit_crm_import(session, importer.plan_crm_import(session, frame, ignored_columns=ignored))

    import_file("Acme,,,,,a1@acme.com,,VIP\n")
    import_file("Acme,,,,,a2@acme.com,,VIP;Gold\nBeta,,,,,b1@beta.com,,VIP\n")
    with database.session() as session:
        pairs = session.execute(
            select(Company.name, MarketingTag.name)
            .join(company_tags, company_tags.c.company_id == Company.id)
            .join(MarketingTag, MarketingTag.id == company_tags.c.tag_id)
        ).all()
    assert sorted(tuple(pair) for pair in pairs) == [("Acme", "Gold"), ("Acme", "VIP"), ("Beta", "VIP")]


def test_on_sqlite_the_commit_writes_with_a_big_page_cache_and_gives_it_back(database):
    if database.engine.dialect.name != "sqlite":
        return
    frame, ignored = importer.read_import_file("crm.csv", (HEADER + "Acme,,,,,a1@acme.com,,\n").encode("utf-8"))
    seen = []
    with database.session() as session:

        def cache_size():
            return session.connection().exec_driver_sql("PRAGMA cache_size").scalar()

        before = cache_size()
        plan = importer.plan_crm_import(session, frame, ignored_columns=ignored)
        importer.commit_crm_import(session, plan, progress=lambda _fraction, _message: seen.append(cache_size()))
        after = cache_size()
    assert set(seen) == {-importer.IMPORT_PAGE_CACHE_KIB}
    assert after == before != -importer.IMPORT_PAGE_CACHE_KIB
