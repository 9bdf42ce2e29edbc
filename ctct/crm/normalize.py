"""Normalization of emails, company names and free text (SPEC §3, §4, §10)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from ctct.safe_csv import looks_like_formula

# CTCT's own field limits (reference/ctct-v3-facts.md): anything longer could never be synced.
MAX_EMAIL_LENGTH = 80
MAX_PERSON_FIELD_LENGTH = 50
MAX_COMPANY_NAME_LENGTH = 255
MAX_LIST_NAME_LENGTH = 255
MAX_TAG_NAME_LENGTH = 100

LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "gmbh",
        "sa",
        "bv",
    }
)

# A plain ASCII address of this shape is always accepted by email-validator, so the bulk path
# can skip the (comparatively slow) full parser for it. Anything else goes through the parser,
# which also produces the human-readable reason. tests/unit/test_normalize.py checks the subset.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_SPECIAL_USE_SUFFIXES = tuple(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)


def email_key(email: str | None) -> str | None:
    """The match key of an email: trimmed and case-insensitive (SPEC §4)."""
    if email is None:
        return None
    key = email.strip().lower()
    return key or None


def _is_plain_email(email: str) -> bool:
    return (
        _PLAIN_EMAIL.fullmatch(email) is not None
        and "--" not in email.partition("@")[2]
        and not email.lower().endswith(_SPECIAL_USE_SUFFIXES)
    )


@lru_cache(maxsize=4096)
def _parser_verdict(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def email_syntax_error(email: str | None) -> str | None:
    """Why `email` is not a syntactically valid address, or None when it is (no DNS lookups)."""
    if email is None or not email.strip():
        return "email is empty"
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH:
        return f"email is longer than {MAX_EMAIL_LENGTH} characters"
    if _is_plain_email(email):
        return None
    return _parser_verdict(email)


def email_syntax_errors(emails: pd.Series) -> pd.Series:
    """Vectorized `email_syntax_error`: the reason per row, None where the email is valid."""
    if emails.empty:
        return pd.Series([], index=emails.index, dtype=object)
    stripped = emails.fillna("").astype(str).str.strip()
    plain = stripped.str.fullmatch(_PLAIN_EMAIL.pattern) & (stripped.str.len() <= MAX_EMAIL_LENGTH)
    domains = stripped.str.partition("@")[2].str.lower()
    plain &= ~domains.str.contains("--", regex=False)
    plain &= ~domains.str.endswith(_SPECIAL_USE_SUFFIXES)
    reasons = pd.Series([None] * len(emails), index=emails.index, dtype=object)
    needs_parser = ~plain
    if needs_parser.any():
        reasons[needs_parser] = [email_syntax_error(value) for value in stripped[needs_parser]]
    return reasons


def local_part(email: str) -> str:
    """The local part without a `+tag`, lower-cased: what role-address rules look at."""
    local = email.strip().rpartition("@")[0].lower()
    return local.split("+", 1)[0]


def role_local_part(email: str, role_addresses: Iterable[str]) -> str | None:
    """The role name (`info`, `no-reply`…) when `email` is a role address, else None."""
    local = local_part(email)
    folded = local.replace("-", "").replace("_", "").replace(".", "")
    roles = set(role_addresses)
    if local in roles or folded in roles:
        return local
    return None


# Every ASCII punctuation mark and symbol is in a Unicode P* or S* category.
_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _strip_punctuation(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_PUNCTUATION)
    return "".join(char for char in text if not unicodedata.category(char).startswith(("P", "S")))


def company_name_key(name: str | None) -> str:
    """The dedupe key of a company name (SPEC §4), so that `ACME, Inc.` = `Acme Inc` = `acme`.

    Unicode NFKC, case-folded, punctuation and symbols removed, whitespace collapsed, trailing
    legal suffixes dropped — but never the last word, so "Company" stays "company".
    """
    if not name:
        return ""
    # Symbols go before NFKC too, or NFKC would spell them out ("™" → "TM").
    text = unicodedata.normalize("NFKC", _strip_punctuation(name)).casefold()
    words = _strip_punctuation(text).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    # casefold after NFKC can produce text that NFKC changes again (e.g. 'ǰ'); one more pass
    # makes the key idempotent.
    return unicodedata.normalize("NFKC", " ".join(words)).casefold()


def name_key(name: str) -> str:
    """Case-insensitive key for list and tag names: trimmed, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def text_problem(value: str | None, field: str, max_length: int) -> str | None:
    """Why a free-text value cannot be stored, or None: length, control characters, formulas."""
    if value is None or value == "":
        return None
    if len(value) > max_length:
        return f"{field} is longer than {max_length} characters ({len(value)})"
    if any(unicodedata.category(char) == "Cc" for char in value):
        return f"{field} contains control characters"
    if looks_like_formula(value):
        return f"{field} looks like a spreadsheet formula ({value[:20]!r})"
    return None


def clean_text(value: object) -> str | None:
    """A cell or form value as stored: trimmed, inner runs of spaces kept, empty → None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None
