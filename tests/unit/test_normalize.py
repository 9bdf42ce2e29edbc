import re
import string
import sys
import unicodedata

import pandas as pd
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import assume, given
from hypothesis import strategies as st

from ctct.crm.normalize import (
    _is_plain_email,
    choice_problem,
    company_name_key,
    email_key,
    email_keys,
    email_problem,
    email_problems,
    email_syntax_error,
    email_syntax_errors,
    hidden_character_class,
    name_key,
    quoted,
    role_local_part,
    role_locals,
    text_problem,
    text_problems,
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


# Emails as they come: whitespace around and inside, plus-tags, dots, dashes and underscores,
# letters that lower-case differently in Python and in the column engine (İ, Σ, ẞ, K), other
# unicode and missing values.
EMAIL_ALPHABET = "infosalesINFO+-_.@ \t\n\x1c\x85\u00a0\u2028\u3000İıΣσςẞßKǅéü李\u200b"
email_values = st.one_of(
    st.none(),
    st.emails(),
    st.text(alphabet=EMAIL_ALPHABET, max_size=16),
    st.text(max_size=16),
    st.builds(
        lambda local, tag, domain: f"{local}+{tag}@{domain}",
        st.sampled_from(sorted(ROLES)),
        st.text(max_size=4),
        st.text(max_size=6),
    ),
)
role_sets = st.one_of(
    st.just(ROLES),
    st.frozensets(st.sampled_from(["info", "no-reply", "no_reply", "noreply", "sales", "İnfo", "i̇nfo", "σales"])),
    st.frozensets(st.text(alphabet="in+@-_.", max_size=4), max_size=3),
)


@given(st.lists(email_values, max_size=20))
def test_bulk_email_keys_match_single_ones(emails):
    for series in (pd.Series(emails, dtype=object), pd.Series(emails, dtype="str")):
        assert email_keys(series).tolist() == [email_key(email) or "" for email in emails]


@given(st.lists(email_values, max_size=20), role_sets)
def test_bulk_role_verdicts_match_single_ones(emails, roles):
    expected = [role_local_part(email, roles) for email in emails]
    for series in (pd.Series(emails, dtype=object), pd.Series(emails, dtype="str")):
        assert role_locals(series, roles).tolist() == expected


def test_role_locals_keeps_the_index_and_names_the_role():
    emails = pd.Series(["Info+eu@acme.com", None, "ann@acme.com", "no-reply@acme.com"], index=[7, 3, 5, 1])
    assert role_locals(emails, {"info", "noreply"}).to_dict() == {7: "info", 3: None, 5: None, 1: "no-reply"}


def test_a_fine_value_among_suspects_is_none_not_nan():
    # Every row passes the screens here, and one of them is fine after all.
    assert text_problems(pd.Series(["👩\u200d💻", "=x"]), "tag name", 50).tolist()[0] is None
    assert role_locals(pd.Series(["", "0@"]), {""}).tolist() == ["", None]


def test_non_ascii_email_keys_are_pythons():
    # pyarrow lower-cases "İ" to "i"; the keys stored with each contact come from `email_key`.
    assert email_keys(pd.Series(["  İnfo@Acme.com "], dtype="str")).tolist() == [email_key("İnfo@Acme.com")]


# One message per bad value, typed or imported


@pytest.mark.parametrize(
    ("email", "message"),
    [
        (None, None),
        ("", None),
        ("ann@acme.com", None),
        ("ann@acme", "email 'ann@acme' is not valid: "),
        ("a" * 75 + "@b.com", "email '" + "a" * 60 + "'… is longer than 80 characters (81)"),
        ("ann\u200b@acme.com", "email 'ann\\u200b@acme.com' contains an invisible character U+200B"),
        ("=ann@acme.com", "email '=ann@acme.com' looks like a spreadsheet formula"),
    ],
)
def test_email_problem(email, message):
    problem = email_problem(email)
    assert problem == message if message is None else problem.startswith(message)
    assert email_problems(pd.Series([email], dtype=object)).iloc[0] == problem


def test_an_invalid_email_is_quoted_whole():
    email = "a" * 70 + "@acme"
    assert email_problem(email, "company email").startswith(f"company email {email!r} is not valid: ")


@given(st.lists(email_values, max_size=20))
def test_bulk_email_problems_match_single_ones(emails):
    expected = [email_problem(email, "company email") for email in emails]
    assert email_problems(pd.Series(emails, dtype=object), "company email").tolist() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, None),
        ("", None),
        ("Prospect", None),
        ("partner", "kind 'partner' must be 'customer' or 'prospect'"),
        (
            "customer\u200b",
            "kind 'customer\\u200b' contains an invisible character U+200B (zero width space); "
            "control characters and invisible characters are not allowed",
        ),
    ],
)
def test_choice_problem(value, message):
    assert choice_problem(value, "kind", ("customer", "prospect")) == message


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
        ("Ann\x07", "control character U+0007 (bell)"),
        ("Line\nbreak", "control character U+000A (line feed)"),
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


def test_a_problem_names_the_value_quoted_escaped_and_cut():
    assert text_problem("L" * 51, "last name", 50) == f"last name '{'L' * 51}' is longer than 50 characters (51)"
    assert text_problem("x" * 300, "company", 255) == f"company '{'x' * 60}'… is longer than 255 characters (300)"
    assert text_problem("Ann\tLee", "first name", 50) == (
        "first name 'Ann\\tLee' contains a control character U+0009 (tab); "
        "control characters and invisible characters are not allowed"
    )
    assert quoted("O'Neil") == '"O\'Neil"'
    assert quoted("a\u202eb\x00") == "'a\\u202eb\\x00'"


@pytest.mark.parametrize(
    ("value", "described"),
    [
        ("Ann\u202eeeL", "an invisible character U+202E (right-to-left override)"),
        ("Ann\u200b", "an invisible character U+200B (zero width space)"),
        ("Ann\u2028Lee", "an invisible character U+2028 (line separator)"),
        ("Ann\u2029Lee", "an invisible character U+2029 (paragraph separator)"),
        ("\ufeffAnn", "an invisible character U+FEFF (zero width no-break space)"),
        ("An\u00adn", "an invisible character U+00AD (soft hyphen)"),
        ("An\u2060n", "an invisible character U+2060 (word joiner)"),
        (
            "Ann\u2066Lee\u2069",
            "an invisible character U+2066 (left-to-right isolate) "
            "and an invisible character U+2069 (pop directional isolate)",
        ),
        ("Ann\u200e", "an invisible character U+200E (left-to-right mark)"),
        ("Ann\U000e0041", "an invisible character U+E0041 (tag latin capital letter a)"),
        ("Acme\x85", "a control character U+0085 (next line)"),
        # A ZWJ anywhere but between two emoji only makes equal-looking names differ.
        ("Ac\u200dme", "an invisible character U+200D (zero width joiner)"),
        ("\u200d💻", "an invisible character U+200D (zero width joiner)"),
        ("👩\u200d", "an invisible character U+200D (zero width joiner)"),
        ("Ann\u200cLee", "an invisible character U+200C (zero width non-joiner)"),
        (
            "A\u200bB\x07C\u202eD\u2028E",
            "an invisible character U+200B (zero width space), a control character U+0007 (bell), "
            "an invisible character U+202E (right-to-left override) and more",
        ),
    ],
)
def test_invisible_and_control_characters_are_refused_by_name(value, described):
    assert text_problem(value, "first name", 50) == (
        f"first name {quoted(value)} contains {described}; control characters and invisible characters are not allowed"
    )


@pytest.mark.parametrize(
    "value",
    [
        "Zoë Łukasz-Müller",
        "Ñandú S.A.",
        "株式会社 山田",
        "김민준",
        "محمد",
        "Ελένη",
        "Crew 😀",
        "👩\u200d💻 Devs",  # ZWJ joining two emoji
        "🏳️\u200d🌈",  # flag, VS16, ZWJ, rainbow
        "👨🏽\u200d🚀",  # skin tone before the ZWJ
        "Café\u0301",  # combining accent (Mn)
        "Ann\u00a0Lee",  # no-break space (Zs)
    ],
)
def test_legitimate_text_is_accepted(value):
    assert text_problem(value, "first name", 50) is None


def test_the_hidden_character_class_is_exactly_cc_cf_zl_zp():
    pattern = re.compile(hidden_character_class())
    wrong = [
        code
        for code in range(sys.maxunicode + 1)
        if (pattern.fullmatch(chr(code)) is not None) != (unicodedata.category(chr(code)) in {"Cc", "Cf", "Zl", "Zp"})
    ]
    assert wrong == []


# Control and invisible characters, emoji parts, letters and formula starts, mixed.
ALPHABET = "\x00\x07\t\n\r\x7f\x85\u00ad\u200b\u200c\u200d\u200e\u202e\u2028\u2029\u2060\u2066\ufeff\ufe0f"
ALPHABET += "\U000e0041\U0001f469\U0001f4bb\U0001f308\U0001f3fdaZé李 =+-@"
text_values = st.text(alphabet=ALPHABET, max_size=12)


@given(st.lists(st.one_of(st.none(), text_values, st.text(max_size=12)), max_size=25), st.sampled_from([5, 50]))
def test_bulk_text_verdicts_match_single_ones(values, limit):
    # One rule: the vectorized path of the import gives text_problem's verdict and message, on
    # pyarrow-backed strings (RE2) and on Python objects (re) alike.
    expected = [text_problem(value, "first name", limit) for value in values]
    assert text_problems(pd.Series(values, dtype=object), "first name", limit).tolist() == expected
    strings = pd.Series([value or "" for value in values], dtype="str")
    assert text_problems(strings, "first name", limit).tolist() == [
        text_problem(value or "", "first name", limit) for value in values
    ]
