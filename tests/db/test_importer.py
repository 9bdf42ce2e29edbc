import csv
import io
import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from ctct import lists
from ctct.crm import importer, services
from ctct.db import bulk
from ctct.db.models import Company, Contact, MarketingTag, SyncRun
from ctct.errors import IneligibleContacts, InvalidInput

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
    assert plan.rows.loc[3, "reason"].startswith("email 'cy@gamma' is not valid")
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


# Each reason names the field and its value (SPEC §10): quoted, control and invisible characters
# escaped, long values cut.
@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("Acme,customer,,Ann,Lee,ann@acme,,", "email 'ann@acme' is not valid"),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com,,\nAcme,customer,,Ann,Twin,ANN@acme.com,,",
            "duplicate email 'ANN@acme.com': same as line 2",
        ),
        ("Acme,customer,,Ann," + "L" * 51 + ",ann@acme.com,,", "last name '" + "L" * 51 + "' is longer than 50"),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com," + "T" * 70 + ",",
            "job title '" + "T" * 60 + "'… is longer than 50 characters (70)",
        ),
        ("Acme,customer,,Ann\x07,Lee,ann@acme.com,,", "first name 'Ann\\x07' contains a control character U+0007"),
        (
            'Acme,customer,,"=HYPERLINK(""http://evil"")",Lee,ann@acme.com,,',
            """first name '=HYPERLINK("http://evil")' looks like a spreadsheet formula""",
        ),
        ("Acme,partner,,Ann,Lee,ann@acme.com,,", "kind 'partner' must be 'customer' or 'prospect'"),
        (",customer,,Ann,Lee,ann@acme.com,,", "company name is required"),
        ("Acme,customer,not-mail,Ann,Lee,ann@acme.com,,", "company email 'not-mail' is not valid"),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com,," + "x" * 101,
            "tag name '" + "x" * 60 + "'… is longer than 100 characters",
        ),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com,,VIP; =HYPERLINK(1)",
            "tag name '=HYPERLINK(1)' looks like a spreadsheet",
        ),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com,,VIP; Gol\u200bf",
            "tag name 'Gol\\u200bf' contains an invisible character U+200B (zero width space)",
        ),
        ("Acme,customer,,Ann,Lee,ann@acme.com,,VIP;" + "x" * 2000, "tags 'VIP;" + "x" * 56 + "'… is longer than 2000"),
        (
            "Acme,customer\u200b,,Ann,Lee,ann@acme.com,,",
            "kind 'customer\\u200b' contains an invisible character U+200B (zero width space)",
        ),
        (
            "Acme,customer,,Ann\u202eeeL,Lee,ann@acme.com,,",
            "first name 'Ann\\u202eeeL' contains an invisible character U+202E (right-to-left override)",
        ),
        (
            "Acme,customer,,Ann,Le\u200be,ann@acme.com,,",
            "last name 'Le\\u200be' contains an invisible character U+200B (zero width space)",
        ),
        (
            "Acme\u2028Corp,customer,,Ann,Lee,ann@acme.com,,",
            "company name 'Acme\\u2028Corp' contains an invisible character U+2028 (line separator)",
        ),
        (
            "Acme,customer,,Ann,Lee,ann@acme.com,Own\ufeffer,",
            "job title 'Own\\ufeffer' contains an invisible character U+FEFF (zero width no-break space)",
        ),
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
    assert "kind 'partner' must be" in reason and "email 'nope' is not valid" in reason


def test_a_role_address_contact_is_imported_with_a_warning(database):
    # SPEC §3: ineligible contacts are still CRM data; the import keeps them and says so.
    text = (
        HEADER
        + "Acme,customer,info@acme.com,Ann,Lee,ann@acme.com,,\n"
        + "\n"  # a blank line: the warning names the line of the file
        + "Acme,customer,,Sal,Es,Sales@acme.com,,\n"
    )
    plan = plan_for(database, text)
    assert plan.rejected.empty
    assert plan.rows["status"].tolist() == ["create", "create"]
    roles = [w.message for w in plan.warnings if w.kind == "role_address"]
    assert len(roles) == 1  # the company's general email is no contact: no warning
    assert roles[0].startswith("line 4: email 'Sales@acme.com' is a role address (sales@)")
    summary = run_import(database, text)
    assert summary.contacts_created == 2
    with database.session() as session:
        assert services.find_contacts_by_email(session, "sales@acme.com")[0].first_name == "Sal"
        assert services.find_companies_by_name(session, "acme")[0].email == "info@acme.com"
        lists.create_list(session, "News")
        with pytest.raises(IneligibleContacts, match="role address"):
            lists.add_members(session, "News", ["sales@acme.com"])  # CRM data, never list material


def test_lines_are_the_files_own_lines(database):
    # Blank lines, the header and a quoted cell over three lines all count (CRLF too).
    text = (
        "\r\n"
        + HEADER.replace("\n", "\r\n")
        + "Acme,customer,,Ann,Lee,ann@acme.com,,\r\n"
        + "\r\n"
        + ",,,,,,,\r\n"  # only delimiters: blank too
        + 'Beta,customer,,Bo,Berg,bo@beta.com,"Head of\r\nthree-line\r\nthings",\r\n'
        + "\r\n"
        + "Gamma,customer,,Cy,Dee,cy@gamma,,\r\n"
        + "Delta,customer,,Di,Dee,ANN@acme.com,,\r\n"
    )
    plan = plan_for(database, text)
    assert plan.rows["line"].tolist() == [3, 6, 10, 11]
    assert plan.rows.loc[1, "job_title"] == "Head of\r\nthree-line\r\nthings"  # refused for its line breaks
    rejected = dict(zip(plan.rejected["line"], plan.rejected["reason"], strict=True))
    assert set(rejected) == {6, 10, 11}
    assert "email 'cy@gamma' is not valid" in rejected[10]
    assert "duplicate email 'ANN@acme.com': same as line 3" in rejected[11]
    assert plan.to_json()["rejected"][1]["line"] == 10
    with pytest.raises(importer.ImportRejected, match="first: line 6: job title"):
        run_import(database, text)


def test_a_ragged_row_is_named_by_its_line():
    content = b"Company,Email\n\nAcme,ann@acme.com\n\n\nBeta,bo@beta.com,extra\n"
    with pytest.raises(importer.ImportFileError, match="line 6 has 3 cells"):
        importer.read_import_file("crm.csv", content)


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
        (b"Company,Email\n\n\n", "no data rows"),
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
    summary = run_import(
        database,
        "\ufeff"
        + HEADER
        + "Müller GmbH,customer,,Zoë,Łukasz,zoe@mueller.de,,\n"
        + "株式会社山田,customer,,花子,山田,hanako@yamada.jp,社長,\n"
        + "Code Crew 👩\u200d💻,customer,,José,Núñez,jose@crew.io,Dev 🏳️\u200d🌈,\n",  # ZWJ inside emoji
    )
    assert summary.contacts_created == 3


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


def excel_file(tmp_path, rows, name="crm.xlsx"):
    """A workbook as openpyxl writes it: formulas are stored without a computed value."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def with_empty_text_result(path, cell):
    """The workbook as Excel saves a formula whose result is empty text: t="str", an empty value."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info.filename) for info in source.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    pattern = rf'<c r="{cell}"[^>]*><f>(.*?)</f><v\s*/>'.encode()
    assert re.search(pattern, sheet)
    parts["xl/worksheets/sheet1.xml"] = re.sub(pattern, rf'<c r="{cell}" t="str"><f>\1</f><v></v>'.encode(), sheet)
    with zipfile.ZipFile(path, "w") as target:
        for filename, content in parts.items():
            target.writestr(filename, content)
    return path


def test_excel_lines_are_the_sheets_row_numbers(database, tmp_path):
    path = excel_file(
        tmp_path,
        [
            [],  # the header may start lower
            ["Company", "Email", "First Name"],
            ["Acme", "ann@acme.com", "Ann"],
            [],
            [None, None, None],
            ["Beta", "bo@beta", "Bo", "stray"],  # a value under no header: an ignored column
        ],
    )
    frame, ignored = importer.read_import_file(path)
    assert ignored == ["(column D)"]
    with database.session() as session:
        plan = importer.plan_crm_import(session, frame)
    assert plan.rows["line"].tolist() == [3, 6]  # blank rows are skipped, not rejected
    assert plan.rejected["line"].tolist() == [6]
    assert "email 'bo@beta' is not valid" in plan.rejected["reason"].iloc[0]


def test_an_uncomputed_excel_formula_refuses_its_row(database, tmp_path):
    path = excel_file(
        tmp_path,
        [
            ["Company", "First Name", "Last Name", "Email", "Notes"],
            ["Acme", "Ann", "Lee", "ann@acme.com", "=1+1"],  # an ignored column: no matter
            [],
            ["Beta", "bo", "beta.com", '=B4&"@"&C4'],
            ["Gamma", "Cy", '=IF(TRUE,"","x")', "cy@gamma.com"],  # Excel computed it: empty text
        ],
    )
    with_empty_text_result(path, "C5")
    frame, ignored = importer.read_import_file(path)
    assert ignored == ["Notes"]
    with database.session() as session:
        plan = importer.plan_crm_import(session, frame)
    assert plan.rows["status"].tolist() == ["create", "reject", "create"]
    (line, reason), *_ = plan.rejected[["line", "reason"]].itertuples(index=False)
    assert line == 4
    assert reason.startswith("""email (cell D4) is the formula '=B4&"@"&C4' with no computed value in the file""")
    assert "open and save it in Excel or LibreOffice" in reason
    with database.session() as session, pytest.raises(importer.ImportRejected, match="first: line 4: email"):
        importer.commit_crm_import(session, plan)


def test_a_row_with_only_an_uncomputed_formula_is_not_a_blank_row(tmp_path):
    path = excel_file(tmp_path, [["Company", "Email"], ["Acme", "ann@acme.com"], ['="Beta"', None]])
    frame, _ = importer.read_import_file(path)
    assert frame["line"].tolist() == [2, 3]
    assert frame.loc[1, "uncomputed_formula"].startswith("company (cell A3) is the formula '=\"Beta\"'")


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


# One rule and one message per field: a bad value typed in a form (ctct/crm/services.py) is told
# exactly what the import tells it for that value in that column (the import adds only the line).
BAD_VALUES = ["x" * 300, "=SUM(A1:A9)", "+1 555", "Ann\x07", "Le\u200be", "Acme\u2028Corp", "\u202egnp.exe"]
BAD_EMAILS = ["ann@acme", "not-mail", "a" * 70 + "@acme", "ann\u200b@acme.com", "=ann@acme.com", "x" * 90]
GOOD_ROW = {"company": "Acme", "kind": "", "company email": "", "first name": "Ann", "last name": "Lee"}
GOOD_ROW |= {"email": "ann@acme.com", "job title": "", "tags": ""}


def _typed(session, column, value):
    """What the form refuses `value` with when typed into the field of `column`."""
    company = services.create_company(session, "Typed Co")
    entries = {
        "company": lambda: services.create_company(session, value),
        "kind": lambda: services.create_company(session, "Acme", value),
        "company email": lambda: services.create_company(session, "Acme", email=value),
        "first name": lambda: services.create_contact(session, company.id, email=None, first_name=value),
        "last name": lambda: services.create_contact(session, company.id, email=None, last_name=value),
        "email": lambda: services.create_contact(session, company.id, email=value),
        "job title": lambda: services.create_contact(session, company.id, email=None, job_title=value),
        "tags": lambda: services.create_tag(session, value),
    }
    with pytest.raises(InvalidInput) as caught:
        entries[column]()
    return caught.value.message


def _imported(database, column, value):
    """The reason the import refuses its one row with `value` in `column`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(importer.COLUMNS))
    writer.writeheader()
    writer.writerow(GOOD_ROW | {column: value})
    (reason,) = plan_for(database, out.getvalue()).rejected["reason"]
    return reason


@pytest.mark.parametrize(
    ("column", "value"),
    [
        *((column, value) for column in ("company", "first name", "last name", "job title") for value in BAD_VALUES),
        *(("tags", value) for value in [*BAD_VALUES, "x" * 101]),
        *((column, value) for column in ("email", "company email") for value in [*BAD_EMAILS, *BAD_VALUES[1:]]),
        *(("kind", value) for value in ["partner", "Customer\u200b", "=1", "x" * 80]),
        ("company", ""),
    ],
)
def test_typed_and_imported_values_are_told_the_same(database, column, value):
    with database.session() as session:
        typed = _typed(session, column, value)
    assert _imported(database, column, value) == typed


# Random files against the rules one value at a time: the import checks whole columns at once and
# writes rows straight to the driver, and must still say and store exactly what the single-value
# rules (the ones the forms use) say for every row.

RANDOM_COMPANIES = [
    "Acme",
    "ACME, Inc.",
    "Acme Co Inc",
    "Beta Foods",
    "beta  foods llc",
    "Co Inc",
    "Éclair",
    "Ωmega Ltd.",
]
RANDOM_EMAILS = ["", "ann@acme.com", "ANN@acme.com", "bo@beta.com", "info@acme.com", "ü@exämple.com", "cy@gamma.org"]
RANDOM_TAGS = ["", "VIP", "vip ; Newsletter", "Apparel Sports Wear", "a;;b", "New Tag"]
RANDOM_BAD = {
    "company": ["", "=SUM(A1)", "x" * 300, "Le\u200be", "Multi\nLine"],
    "kind": ["partner", "customer\u200b"],
    "company email": ["not-mail", "a@b--c.com"],
    "first name": ["=cmd", "n" * 60, "Ann\x07"],
    "last name": ["-x", "Le\u202ee"],
    "email": ["cy@gamma", "a@localhost", "x" * 90 + "@a.com", "ann\u200b@acme.com"],
    "job title": ["+1", "Own\ufeffer"],
    "tags": ["t" * 120, "ok;=bad;b\u200bad", "y" * 2100],
}


def _random_file(draw_value, rows: int, seed: int) -> tuple[str, list[dict[str, str]], list[int]]:
    """A CSV of `rows` data rows with blank lines and multi-line cells between them: its text, the
    rows as the import reads them (trimmed) and the line each starts on."""
    import random

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(importer.COLUMNS), lineterminator="\n")
    writer.writeheader()
    line, records, lines = 2, [], []
    for _ in range(rows):
        if rng.random() < 0.15:
            out.write("\n")
            line += 1
        record = {column: draw_value(rng, column) for column in importer.COLUMNS}
        writer.writerow(record)
        records.append({column: value.strip() for column, value in record.items()})
        lines.append(line)
        line += 1 + sum(value.count("\n") for value in record.values())
    return out.getvalue(), records, lines


def _draw_value(bad_rate: float):
    def draw(rng, column):
        if rng.random() < bad_rate:
            return rng.choice(RANDOM_BAD[column])
        good = {
            "company": RANDOM_COMPANIES,
            "kind": ["", "customer", "Prospect"],
            "company email": RANDOM_EMAILS,
            "first name": ["", "Ann", "Ünal"],
            "last name": ["", "Lee", " O'Brien "],
            "email": RANDOM_EMAILS,
            "job title": ["", "Owner"],
            "tags": RANDOM_TAGS,
        }[column]
        return rng.choice(good)

    return draw


def _expected_reason(record: dict[str, str], earlier: dict[str, int]) -> str | None:
    """The row's reason by the single-value rules, in the import's order; `earlier` maps each
    email key seen so far to its line."""
    from ctct.crm.normalize import choice_problem, email_problem, length_problem, text_problem

    tags = record["tags"]
    if len(tags) > importer.MAX_TAGS_CELL_LENGTH:
        tag_problem = length_problem(tags, "tags", importer.MAX_TAGS_CELL_LENGTH)
    else:
        verdicts = [text_problem(tag.strip(), services.TAG_NAME_LABEL, 100) for tag in tags.split(";")] if tags else []
        tag_problem = next((verdict for verdict in verdicts if verdict), None)
    problems = [
        "company name is required" if record["company"] == "" else None,
        text_problem(record["company"], *services.COMPANY_TEXT_FIELDS["name"]),
        choice_problem(record["kind"], services.KIND_LABEL, services.COMPANY_KINDS),
        email_problem(record["company email"], services.COMPANY_EMAIL_LABEL),
        text_problem(record["first name"], *services.CONTACT_TEXT_FIELDS["first_name"]),
        text_problem(record["last name"], *services.CONTACT_TEXT_FIELDS["last_name"]),
        email_problem(record["email"], services.CONTACT_EMAIL_LABEL),
        text_problem(record["job title"], *services.CONTACT_TEXT_FIELDS["job_title"]),
        tag_problem,
    ]
    key = record["email"].lower()
    if key in earlier:
        problems.append(
            f"duplicate email {importer.quoted(record['email'])}: same as line {earlier[key]} "
            "(emails are compared ignoring case)"
        )
    found = [problem for problem in problems if problem]
    return "; ".join(found) if found else None


def _stored(session):
    companies = {
        key: (name, kind, email)
        for key, name, kind, email in session.execute(
            select(Company.name_key, Company.name, Company.kind, Company.email)
        )
    }
    contacts = {
        email: (key, first, last, title)
        for email, key, first, last, title in session.execute(
            select(Contact.email, Company.name_key, Contact.first_name, Contact.last_name, Contact.job_title).join(
                Company
            )
        )
    }
    tags = {
        (company, tag)
        for company, tag in session.execute(select(Company.name_key, MarketingTag.name_key).join(Company.tags))
    }
    return companies, contacts, tags


@pytest.mark.parametrize("seed", range(12))
def test_random_files_are_told_and_stored_as_the_single_value_rules_say(database, seed):
    from ctct.crm.normalize import company_name_key, name_key

    with database.session() as session:
        services.create_tag(session, "VIP")
        acme = services.create_company(session, "Acme", "prospect")
        services.create_contact(session, acme.id, email="ann@acme.com", first_name="Annie")
    bad_rate = [0.0, 0.1, 0.3][seed % 3]
    text, records, lines = _random_file(_draw_value(bad_rate), rows=5 + seed * 3, seed=seed)
    plan = plan_for(database, text)

    earlier: dict[str, int] = {}
    expected = []
    for record, line in zip(records, lines, strict=True):
        expected.append(_expected_reason(record, earlier))
        if record["email"]:
            earlier.setdefault(record["email"].lower(), line)
    assert plan.rows["line"].tolist() == lines
    assert plan.rows["reason"].tolist() == expected
    assert plan.rows["company_key"].tolist() == [company_name_key(record["company"]) for record in records]
    assert plan.rows["company_action"].tolist() == [
        "match" if company_name_key(record["company"]) == "acme" else "create" for record in records
    ]

    with database.session() as session:
        before = _stored(session)
    if expected.count(None) < len(expected):
        with database.session() as session, pytest.raises(importer.ImportRejected):
            importer.commit_crm_import(session, plan)
        with database.session() as session:
            assert _stored(session) == before  # a rejected file changes nothing
    with database.session() as session:
        summary = importer.commit_crm_import(session, plan, skip_invalid=True)
    with database.session() as session:
        companies, contacts, tags = _stored(session)

    valid = [record for record, reason in zip(records, expected, strict=True) if reason is None]
    first_of_company: dict[str, dict[str, str]] = {}
    for record in valid:
        first_of_company.setdefault(company_name_key(record["company"]), record)
    expected_companies = dict(before[0])
    # A company already here gets the file's first general email for it, having none.
    acme_email = next(
        (r["company email"] for r in valid if company_name_key(r["company"]) == "acme" and r["company email"]), None
    )
    expected_companies["acme"] = (*expected_companies["acme"][:2], acme_email)
    for key, record in first_of_company.items():
        if key not in expected_companies:
            expected_companies[key] = (
                record["company"],
                record["kind"].lower() or "customer",
                record["company email"] or None,
            )
    assert companies == expected_companies
    expected_contacts = dict(before[1])
    for record in valid:
        if record["email"].lower() == "ann@acme.com":  # Annie: only her empty fields are filled
            expected_contacts["ann@acme.com"] = (
                "acme",
                "Annie",
                record["last name"] or None,
                record["job title"] or None,
            )
        elif record["email"]:
            expected_contacts[record["email"]] = (
                company_name_key(record["company"]),
                record["first name"] or None,
                record["last name"] or None,
                record["job title"] or None,
            )
    assert contacts == expected_contacts  # Annie keeps her name and company: nothing stored is lost
    assert tags == before[2] | {
        (company_name_key(record["company"]), name_key(tag))
        for record in valid
        for tag in record["tags"].split(";")
        if tag.strip()
    }
    assert summary.contacts_created == len(expected_contacts) - len(before[1])
    assert summary.rows_rejected == len(records) - len(valid)


def test_a_big_import_is_stored_whole_across_statements_and_batches(database):
    """More rows than one statement or one batch takes, so every boundary is crossed."""
    count = bulk.SQLITE_MAX_PARAMETERS + 7
    rows = "".join(
        f"Company {index % 150},{'prospect' if index % 3 else ''},,{f'First{index % 5}' if index % 5 else ''},,"
        f"p{index}@x.com,,{'VIP;Gold' if index % 4 else ''}\n"
        for index in range(count)
    )
    summary = run_import(database, HEADER + rows, batch_size=400)
    assert (summary.companies_created, summary.contacts_created, summary.tags_created) == (150, count, 2)
    with database.session() as session:
        stored = session.execute(
            select(Contact.email, Contact.email_key, Contact.first_name, Contact.created_by_import, Company.name)
            .join(Company)
            .order_by(Contact.id)
        ).all()
        assert [tuple(row) for row in stored] == [
            (
                f"p{index}@x.com",
                f"p{index}@x.com",
                f"First{index % 5}" if index % 5 else None,
                True,
                f"Company {index % 150}",
            )
            for index in range(count)
        ]
        assert session.scalar(select(func.count()).select_from(Company.tags.property.secondary)) == 150 * 2
        kinds = dict(session.execute(select(Company.name, Company.kind)).all())
        assert kinds["Company 0"] == "customer" and kinds["Company 1"] == "prospect"
        assert (
            session.scalar(select(func.count()).where(Contact.created_at.is_(None) | Contact.updated_at.is_(None))) == 0
        )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Acme",
        "ACME, Inc.",
        "acme co inc",
        "Co Inc",
        "inc",
        "Inc. LLC",
        "  Beta   Foods  LLC ",
        "Coast Co",
        "Company",
        "A.B.C. Ltd",
        "!!!",
        "Éclair SARL",
        "Ωmega Ltd.",
        "Acme™ Corp",
        "ǰ Inc",
        "Tab\tCo",
        "Line\nInc",
        "x\u200by co",
    ],
)
def test_company_keys_of_a_column_are_the_single_name_keys(name):
    from ctct.crm.normalize import company_name_key, company_name_keys

    for dtype in ("str", object):
        names = pd.Series([name, "Other Co", name], dtype=dtype)
        assert company_name_keys(names).tolist() == [company_name_key(name), "other", company_name_key(name)]
    assert company_name_keys(pd.Series([None, "Acme Inc"], dtype=object)).tolist() == ["", "acme"]
