import string

import pandas as pd
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import assume, given
from hypothesis import strategies as st

from ctct.crm.normalize import (
    _is_plain_email,
    company_name_key,
    email_key,
    email_syntax_error,
    email_syntax_errors,
    name_key,
    role_local_part,
    text_problem,
)

ROLES = frozenset({"info", "sales", "noreply", "admin"})


# Emails


def test_email_key_is_trimmed_and_case_insensitive():
    assert email_key("  Ann.Lee@Acme.COM ") == "ann.lee@acme.com"
    assert email_key("   ") is None
    assert email_key(None) is None


@pytest.mark.parametrize(
    ("email", "fragment"),
    [
        ("", "empty"),
        ("ann.acme.com", "@-sign"),
        ("ann@@acme.com", "@"),
        ("ann..lee@acme.com", "two periods"),
        ("ann@acme", "period"),
        ("ann@acme.test", "special-use"),
        ("a" * 75 + "@b.com", "longer than 80"),
    ],
)
def test_invalid_emails_have_a_reason(email, fragment):
    reason = email_syntax_error(email)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize("email", ["ann@acme.com", " Ann.Lee+news@Acme-Sports.co.uk ", "ü@müller.de", "o'brien@x.io"])
def test_valid_emails(email):
    assert email_syntax_error(email) is None


@given(st.text(alphabet=string.ascii_letters + string.digits + "._%+-@", max_size=40))
def test_plain_fast_path_only_accepts_what_the_parser_accepts(candidate):
    if _is_plain_email(candidate):
        validate_email(candidate, check_deliverability=False)  # must not raise


@given(st.emails())
def test_bulk_and_single_verdicts_agree(email):
    assume(len(email) <= 80)
    try:
        validate_email(email, check_deliverability=False)
        parser_ok = True
    except EmailNotValidError:
        parser_ok = False
    assert (email_syntax_error(email) is None) == parser_ok
    assert email_syntax_errors(pd.Series([email])).iloc[0] == email_syntax_error(email)


def test_bulk_reasons_match_single_ones():
    emails = ["ann@acme.com", "bad", None, "x@y.test", "Bob@Example.org"]
    assert email_syntax_errors(pd.Series(emails, dtype=object)).tolist() == [email_syntax_error(e) for e in emails]


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("info@acme.com", "info"),
        ("INFO@acme.com", "info"),
        ("sales+eu@acme.com", "sales"),
        ("no-reply@acme.com", "no-reply"),
        ("no_reply@acme.com", "no_reply"),
        ("ann@acme.com", None),
        ("information@acme.com", None),
    ],
)
def test_role_local_part(email, role):
    assert role_local_part(email, ROLES) == role


# Company names


@pytest.mark.parametrize(
    "name", ["ACME, Inc.", "Acme Inc", "acme", "  Acme   Incorporated ", "ACME LLC", "Acme Co. Ltd."]
)
def test_company_name_variants_share_one_key(name):
    assert company_name_key(name) == "acme"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Company", "company"),
        ("The Co Inc", "the"),
        ("Smith & Jones Ltd", "smith jones"),
        ("Ｆｕｌｌｗｉｄｔｈ GmbH", "fullwidth"),
        ("Müller S.A.", "müller"),
        ("Acme Sports", "acme sports"),
        ("STRASSE B.V.", "strasse"),
        ("", ""),
    ],
)
def test_company_name_key_examples(name, key):
    assert company_name_key(name) == key


def test_near_names_stay_apart():
    assert company_name_key("Acme Sports") != company_name_key("Acme Sport")


words = st.lists(st.text(alphabet=string.ascii_letters + "éüßÅ", min_size=1, max_size=8), min_size=1, max_size=4)
suffixes = st.sampled_from(
    ["Inc", "Inc.", "LLC", "Ltd", "Limited", "Corp.", "Co", "Company", "PLC", "GmbH", "S.A.", "B.V."]
)


@given(st.text(max_size=40))
def test_company_key_is_idempotent(name):
    assert company_name_key(company_name_key(name)) == company_name_key(name)


@given(words)
def test_company_key_ignores_case(parts):
    name = " ".join(parts)
    assert company_name_key(name.upper()) == company_name_key(name.lower()) == company_name_key(name)


@given(words, st.lists(st.sampled_from([" ", "  ", "\t", " \u00a0"]), min_size=1, max_size=4))
def test_company_key_ignores_spacing(parts, gaps):
    spaced = "  " + "".join(part + gaps[i % len(gaps)] for i, part in enumerate(parts))
    assert company_name_key(spaced) == company_name_key(" ".join(parts))


@given(words, st.lists(st.sampled_from([",", ".", "!", "'", "&", "(", ")", "-", "™"]), min_size=1, max_size=5))
def test_company_key_ignores_punctuation(parts, marks):
    punctuated = " ".join(part + marks[i % len(marks)] for i, part in enumerate(parts))
    assert company_name_key(punctuated) == company_name_key(" ".join(parts))


@given(words, suffixes)
def test_company_key_ignores_legal_suffixes(parts, suffix):
    name = " ".join(parts)
    assume(company_name_key(name))
    assert company_name_key(f"{name}, {suffix}") == company_name_key(name)


# Other text


def test_list_and_tag_name_key():
    assert name_key("  Apparel   Sports Wear ") == name_key("apparel sports wear")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("x" * 51, "longer than 50"),
        ("Ann\x07", "control characters"),
        ("Line\nbreak", "control characters"),
        ('=HYPERLINK("http://x")', "formula"),
        ("+1+2", "formula"),
        ("@SUM(A1)", "formula"),
    ],
)
def test_text_problems(value, fragment):
    problem = text_problem(value, "first name", 50)
    assert problem is not None and fragment in problem and "first name" in problem


def test_plain_text_is_fine():
    assert text_problem("Ann-Marie O'Neil", "first name", 50) is None
    assert text_problem("<script>alert(1)</script>", "company name", 255) is None  # stored as text, escaped on display
