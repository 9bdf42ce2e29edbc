import io

import pandas as pd
import pytest
from sqlalchemy import func, select

from ctct.crm import importer, services
from ctct.db.models import Company, Contact, MarketingTag, SyncRun

HEADER = "Company,Kind,Company Email,First Name,Last Name,Email,Job Title,Tags\n"


def plan_for(database, text, name="crm.csv"):
    frame, ignored = importer.read_import_file(name, text.encode("utf-8") if isinstance(text, str) else text)
    with database.session() as session:
        return importer.plan_crm_import(session, frame, source=name, ignored_columns=ignored)


def run_import(database, text, **options):
    frame, ignored = importer.read_import_file("crm.csv", text.encode("utf-8"))
    with database.session() as session:
        plan = importer.plan_crm_import(session, frame, ignored_columns=ignored)
        return importer.commit_crm_import(session, plan, **options)


def counts(database):
    with database.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) for model in (Company, Contact, MarketingTag)
        )


def test_dry_run_says_what_each_row_does_and_changes_nothing(database):
    with database.session() as session:
        acme = services.create_company(session, "ACME, Inc.")
        services.create_contact(session, acme.id, email="ann@acme.com", first_name="Ann")
    plan = plan_for(
        database,
        HEADER
        + "Acme,customer,,Ann,Lee,ANN@acme.com,Owner,\n"  # existing contact, company matched by name
        + "Acme LLC,customer,,Bob,Ray,bob@acme.com,,VIP\n"  # new contact, same company
        + "Beta Foods,prospect,info@beta.com,,,,,\n"  # company-only row
        + "Gamma,customer,,Cy,Dee,cy@gamma,,\n",  # invalid email
    )
    assert plan.rows[["line", "status", "company_action", "contact_action"]].values.tolist() == [
        [2, "match", "match", "match"],
        [3, "create", "match", "create"],
        [4, "create", "create", "none"],
        [5, "reject", "create", "create"],
    ]
    assert plan.rows.loc[3, "reason"].startswith("email is not valid")
    assert plan.counts() == {
        "rows": 4,
        "rejected": 1,
        "companies_to_create": 1,
        "companies_matched": 1,
        "contacts_to_create": 1,
        "contacts_matched": 1,
        "tags_to_create": 1,
    }
    assert counts(database) == (1, 1, 0)


def test_commit_creates_matches_and_fills_only_empty_fields(database):
    with database.session() as session:
        services.create_tag(session, "VIP")
        acme = services.create_company(session, "Acme Inc", "prospect")
        services.create_contact(session, acme.id, email="ann@acme.com", first_name="Annie", job_title=None)
    summary = run_import(
        database,
        HEADER
        + "ACME,customer,hello@acme.com,Ann,Lee,Ann@Acme.com,Owner,vip;Apparel Sports Wear\n"
        + "Beta Foods,prospect,,Bo,Berg,bo@beta.com,Buyer,Apparel Sports Wear\n"
        + "Beta Foods,prospect,,Cy,Berg,cy@beta.com,,\n",
    )
    assert (summary.companies_created, summary.contacts_created, summary.tags_created) == (1, 2, 1)
    assert (summary.companies_updated, summary.contacts_updated) == (1, 1)
    with database.session() as session:
        acme = services.find_companies_by_name(session, "acme")[0]
        assert acme.kind.value == "prospect"  # the CRM's kind is kept
        assert acme.email == "hello@acme.com"  # an empty field is filled
        assert sorted(t.name for t in acme.tags) == ["Apparel Sports Wear", "VIP"]
        ann = services.find_contacts_by_email(session, "ann@acme.com")[0]
        assert (ann.first_name, ann.last_name, ann.job_title) == ("Annie", "Lee", "Owner")  # nothing overwritten
        beta = services.find_companies_by_name(session, "beta foods")[0]
        assert beta.created_by_import and beta.kind.value == "prospect"
        assert sorted(c.email for c in beta.contacts) == ["bo@beta.com", "cy@beta.com"]
        assert session.scalar(select(SyncRun.direction)) == "crm_import"
    # The same file again matches everything and creates nothing.
    again = run_import(database, HEADER + "ACME,customer,,Ann,Lee,ann@acme.com,Owner,VIP\n")
    assert (again.companies_created, again.contacts_created) == (0, 0)
    assert counts(database) == (2, 3, 2)


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("Acme,customer,,Ann,Lee,ann@acme,,", "email is not valid"),
        ("Acme,customer,,Info,Desk,info@acme.com,,", "role address"),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com,,\nAcme,customer,,Ann,Twin,ANN@acme.com,,",
            "duplicate email: same as line 2",
        ),
        ("Acme,customer,,Ann," + "L" * 51 + ",ann@acme.com,,", "last name is longer than 50"),
        ("Acme,customer,,Ann\x07,Lee,ann@acme.com,,", "first name contains control characters"),
        (
            'Acme,customer,,"=HYPERLINK(""http://evil"")",Lee,ann@acme.com,,',
            "first name looks like a spreadsheet formula",
        ),
        ("Acme,partner,,Ann,Lee,ann@acme.com,,", "kind must be"),
        (",customer,,Ann,Lee,ann@acme.com,,", "company is required"),
        ("Acme,customer,not-mail,Ann,Lee,ann@acme.com,,", "company email is not valid"),
    ],
)
def test_bad_rows_are_rejected_with_the_reason_and_nothing_is_imported(database, row, fragment):
    text = HEADER + row + "\n" + "Good Co,customer,,Gus,Good,gus@good.com,,\n"
    plan = plan_for(database, text)
    rejected = plan.rejected
    assert len(rejected) == 1 and fragment in rejected["reason"].iloc[0]
    with pytest.raises(importer.ImportRejected, match="nothing was imported"):
        run_import(database, text)
    assert counts(database) == (0, 0, 0)


def test_skip_invalid_imports_the_good_rows(database):
    summary = run_import(
        database,
        HEADER + "Acme,customer,,Ann,Lee,ann@acme,,\nGood Co,customer,,Gus,Good,gus@good.com,,\n",
        skip_invalid=True,
    )
    assert (summary.contacts_created, summary.rows_rejected) == (1, 1)


def test_a_row_with_several_problems_lists_them_all(database):
    plan = plan_for(database, HEADER + "Acme,partner,,Ann,Lee,nope,,\n")
    reason = plan.rejected["reason"].iloc[0]
    assert "kind must be" in reason and "email is not valid" in reason


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"Company,Kind,First Name\nAcme,customer,Ann\n", "missing required column(s): email"),
        (b"Company,Email,email\nAcme,a@b.com,a@b.com\n", "appears more than once"),
        (HEADER.encode() + "Café,customer,,Zoë,Lee,zoe@cafe.com,,\n".encode("cp1252"), "not UTF-8"),
        (b"", "empty"),
        (b"Company,Email\x00\n", "NUL"),
        (('Company,Email\n"Acme,ann@acme.com\n' + "x\n" * 3).encode(), "not well-formed CSV"),
        (b"Company,Email\nAcme,ann@acme.com\nBeta,bo@beta.com,extra,cells\n", "line 3 has 4 cells"),
        (b"Company,Email\n", "no data rows"),
    ],
)
def test_bad_files_are_refused_whole(content, fragment):
    with pytest.raises(importer.ImportFileError) as caught:
        importer.read_import_file("crm.csv", content)
    assert fragment in str(caught.value)


def test_headers_are_forgiving_and_extra_columns_reported(database):
    plan = plan_for(database, "COMPANY NAME;e-mail address;first_name;Notes\nAcme;ann@acme.com;Ann;vip\n")
    assert plan.ignored_columns == ["Notes"]
    assert plan.rows.loc[0, "email"] == "ann@acme.com" and plan.rows.loc[0, "first_name"] == "Ann"


def test_utf8_with_bom_and_unicode_names(database):
    summary = run_import(database, "\ufeff" + HEADER + "Müller GmbH,customer,,Zoë,Łukasz,zoe@mueller.de,,\n")
    assert summary.contacts_created == 1


def test_html_in_names_is_stored_as_text(database):
    run_import(database, HEADER + "<script>alert(1)</script>,customer,,<b>Ann</b>,Lee,ann@acme.com,,\n")
    with database.session() as session:
        assert services.find_contacts_by_email(session, "ann@acme.com")[0].first_name == "<b>Ann</b>"


def test_near_duplicate_companies_and_tags_are_warned_not_merged(database):
    with database.session() as session:
        services.create_company(session, "Compass Hotels Ltd")
        services.create_tag(session, "Apparel Sports Wear")
    plan = plan_for(
        database,
        HEADER
        + "Compas Hotels,customer,,Ann,Lee,ann@compas.com,,Apparel Sport Wear\n"
        + "Compass Hotels Limited,customer,,Bo,Berg,bo@compass.com,,\n"
        + "Riverbend Motors,customer,,Cy,Dee,cy@rb.com,,\n"
        + "Riverbend Motor,prospect,,Di,Dee,di@rb.com,,\n",
    )
    messages = [w.message for w in plan.warnings if w.kind == "possible_duplicate"]
    assert any("'Compas Hotels' looks like 'Compass Hotels Ltd'" in m for m in messages)
    assert any("Riverbend Motor" in m and "also new in this file" in m for m in messages)
    assert not any("Compass Hotels Limited" in m for m in messages)  # equal keys are a match, not a warning
    assert [w.kind for w in plan.warnings].count("new_tag_like_existing") == 1
    assert plan.rows.loc[1, "company_action"] == "match"


def test_xlsx_files_are_read(database, tmp_path):
    path = tmp_path / "crm.xlsx"
    pd.DataFrame(
        [["Acme", "customer", "Ann", "Lee", "ann@acme.com", "VIP"]],
        columns=["Company", "Kind", "First Name", "Last Name", "Email", "Tags"],
    ).to_excel(path, index=False)
    frame, _ = importer.read_import_file(path)
    with database.session() as session:
        plan = importer.plan_crm_import(session, frame)
    assert plan.counts()["contacts_to_create"] == 1


def test_progress_is_reported(database):
    seen = []
    frame, _ = importer.read_import_file("crm.csv", (HEADER + "Acme,customer,,Ann,Lee,ann@acme.com,,\n").encode())
    with database.session() as session:
        plan = importer.plan_crm_import(session, frame)
        importer.commit_crm_import(session, plan, progress=lambda fraction, message: seen.append(fraction))
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_plan_json_shape(database):
    data = plan_for(database, HEADER + "Acme,customer,,Ann,Lee,ann@acme,,\n").to_json()
    assert data["rejected"] == [{"line": 2, "email": "ann@acme", "reason": data["rejected"][0]["reason"]}]
    assert set(data) >= {"counts", "warnings", "rows", "new_tags", "ignored_columns"}
    io.StringIO().write(str(data))


def test_an_error_midway_rolls_the_whole_import_back(database, monkeypatch):
    with database.session() as session:
        services.create_company(session, "Acme")

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_fill_contact_fields", broken)  # runs after every insert
    with pytest.raises(RuntimeError):
        run_import(
            database, HEADER + "Beta,customer,,Bo,Berg,bo@beta.com,,VIP\nAcme,customer,,Ann,Lee,ann@acme.com,,\n"
        )
    assert counts(database) == (1, 0, 0)


def test_a_plan_is_committed_once_and_only_while_the_crm_is_as_it_saw_it(database):
    text = HEADER + "Acme,customer,,Ann,Lee,ann@acme.com,Owner,VIP\n"
    plan = plan_for(database, text)
    with database.session() as session:
        importer.commit_crm_import(session, plan)
    assert counts(database) == (1, 1, 1)
    with database.session() as session, pytest.raises(importer.ImportStale, match="plan the file again"):
        importer.commit_crm_import(session, plan)  # the same plan again: would duplicate Ann
    assert counts(database) == (1, 1, 1)

    stale = plan_for(database, HEADER + "Beta,customer,,Bo,Ray,bo@beta.com,,\n")
    with database.session() as session:
        services.create_contact(session, services.find_companies_by_name(session, "Acme")[0].id, email="bo@beta.com")
    with database.session() as session, pytest.raises(importer.ImportStale, match=r"the CRM changed since crm\.csv"):
        importer.commit_crm_import(session, stale)  # Bo was added meanwhile: the plan would create him twice
    assert counts(database) == (1, 2, 1)


def test_renaming_a_tag_after_planning_makes_the_plan_stale(database):
    with database.session() as session:
        services.create_tag(session, "Alpha")
        services.create_tag(session, "Zulu")
    plan = plan_for(database, HEADER + "Acme,customer,,Ann,Lee,ann@acme.com,,Alpha\n")
    with database.session() as session:
        services.rename_tag(session, "Alpha", "Beta")
    with database.session() as session, pytest.raises(importer.ImportStale):
        importer.commit_crm_import(session, plan)
    assert counts(database) == (0, 0, 2)
