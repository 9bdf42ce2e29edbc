"""Normalization of emails, company names and free text (SPEC §3, §4, §10)."""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache

import numpy as np
import pandas as pd
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from ctct.safe_csv import FORMULA_STARTS, looks_like_formula

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


def per_row(chosen: pd.Series, verdicts: list[str | None]) -> pd.Series:
    """A verdict per row: `verdicts` in the `chosen` rows, in order, and None in the others.

    Assigning a list through a mask would let pandas infer a string column, where a None verdict
    turns NaN: the values go through an object array instead.
    """
    values = np.full(len(chosen), None, dtype=object)
    values[chosen.to_numpy(dtype=bool)] = verdicts
    return pd.Series(values, index=chosen.index, dtype=object)


def email_key(email: str | None) -> str | None:
    """The match key of an email: trimmed and case-insensitive (SPEC §4)."""
    if email is None:
        return None
    key = email.strip().lower()
    return key or None


def email_keys(emails: pd.Series) -> pd.Series:
    """Vectorized `email_key`: each email trimmed and lower-cased, a missing one as "" (which
    matches nothing: every key a snapshot or a plan joins on is a real address)."""
    text = emails.astype(object).where(emails.notna(), "").astype(str)
    keys = text.str.strip().str.lower()
    # The column engine (pyarrow) folds some non-ASCII letters otherwise than Python does ("İ"
    # becomes "i", in Python "i̇"), and the keys stored with each contact are `email_key`'s: the
    # few non-ASCII emails get its own verdict.
    non_ascii = ~text.str.isascii()
    if non_ascii.any():
        keys[non_ascii] = [email_key(email) or "" for email in text[non_ascii]]
    return keys


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
    # Everything after the first "@" (what `_is_plain_email` calls the domain); a row without one
    # is not plain anyway. A regex replace stays in the column engine, where `partition` builds
    # three Python strings per row.
    domains = stripped.str.replace(r"^[^@]*@", "", regex=True).str.lower()
    plain &= ~domains.str.contains("--", regex=False)
    plain &= ~domains.str.endswith(_SPECIAL_USE_SUFFIXES)
    needs_parser = ~plain
    return per_row(needs_parser, [email_syntax_error(value) for value in stripped[needs_parser]])


def local_part(email: str) -> str:
    """The local part without a `+tag`, lower-cased: what role-address rules look at."""
    local = email.strip().rpartition("@")[0].lower()
    return local.split("+", 1)[0]


def role_local_part(email: str | None, role_addresses: Iterable[str]) -> str | None:
    """The role name (`info`, `no-reply`…) when `email` is a role address, else None."""
    if email is None:
        return None
    local = local_part(email)
    folded = local.replace("-", "").replace("_", "").replace(".", "")
    roles = set(role_addresses)
    if local in roles or folded in roles:
        return local
    return None


def role_locals(emails: pd.Series, role_addresses: Iterable[str]) -> pd.Series:
    """Vectorized `role_local_part`: per row the role name (`info`, `no-reply`…) where the email is
    a role address, else None.

    A vectorized screen lets through every address whose part before its first `@` or `+` is a
    role name (with or without its `-_.`): that part is the local part of any address
    `role_local_part` can call a role address, unless a role name itself holds an `@` or a `+`.
    The rows let through, few in any real CRM, get `role_local_part`'s own verdict, so the two can
    never disagree.
    """
    roles = frozenset(role_addresses)
    keys = email_keys(emails)
    if any(not role or "@" in role or "+" in role for role in roles):
        suspect = emails.notna()
    else:
        # The part before the first "@" or "+": cut by a regex replace, which stays in the column
        # engine (`str.extract` goes through Python objects row by row).
        head = keys.str.replace(r"(?s)[@+].*", "", regex=True)
        suspect = emails.notna() & (head.isin(roles) | head.str.replace(r"[-_.]", "", regex=True).isin(roles))
    return per_row(suspect, [role_local_part(email, roles) for email in emails[suspect]])


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


# For a name of printable ASCII only, `company_name_key` comes down to these steps, which the
# column engine runs on a whole column at once: NFKC and a second punctuation pass change nothing,
# casefold is lower, and the only whitespace is the space.
_PRINTABLE_ASCII = r"[ -~]*"
_ASCII_PUNCTUATION_CLASS = "[" + re.escape(string.punctuation) + "]"
_SUFFIX = "(?:" + "|".join(sorted(LEGAL_SUFFIXES)) + ")"
_TRAILING_SUFFIXES = f"(?: {_SUFFIX})+$"
_ONLY_SUFFIXES = f"{_SUFFIX}(?: {_SUFFIX})*"


def company_name_keys(names: pd.Series) -> pd.Series:
    """Vectorized `company_name_key` (a missing name as ""), worked out once per distinct name.
    Names with any character outside printable ASCII get `company_name_key`'s own verdict, so the
    two never disagree."""
    text = names.astype(object).where(names.notna(), "").astype(str)
    codes, distinct = pd.factorize(text)
    unique = pd.Series(distinct, dtype="str")
    words = (
        unique.str.replace(_ASCII_PUNCTUATION_CLASS, "", regex=True)
        .str.lower()
        .str.replace(" +", " ", regex=True)
        .str.strip(" ")
    )
    # Trailing legal suffixes go, but never the last word: a name of suffixes only keeps its first.
    only_suffixes = words.str.fullmatch(_ONLY_SUFFIXES)
    keys = words.str.replace(_TRAILING_SUFFIXES, "", regex=True)
    keys[only_suffixes] = words[only_suffixes].str.replace(" .*", "", regex=True)
    plain = unique.str.fullmatch(_PRINTABLE_ASCII)
    if not plain.all():
        keys[~plain] = [company_name_key(name) for name in unique[~plain]]
    return pd.Series(keys.to_numpy()[codes], index=names.index, dtype="str")


def name_key(name: str) -> str:
    """Case-insensitive key for list and tag names: trimmed, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


# How much of a value a message quotes: every person field fits whole, a long company name is cut.
QUOTED_LENGTH = 60


def quoted(value: str, limit: int = QUOTED_LENGTH) -> str:
    """`value` as a message names it (SPEC §10): in quotes, cut after `limit` characters.

    `repr` escapes every character that `str.isprintable` refuses — control and invisible
    characters, line separators — so what made a value bad is visible in the message itself.
    """
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "…"


# Control characters (Cc), invisible format characters (Cf: zero-width space/joiners, soft hyphen,
# bidirectional marks, embeddings, overrides and isolates, word joiner, BOM, tag characters…) and
# the line and paragraph separators (Zl, Zp). None of them is needed to write a name, a title or a
# tag, and each can make a value look like another one or reorder how the text around it shows
# (after U+202E the rest of a value shows right to left: "abc" U+202E "gnp.exe" reads "abcexe.png").
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Said after the characters found, so that the message also tells what the rule is.
HIDDEN_RULE = "control characters and invisible characters are not allowed"
ZERO_WIDTH_JOINER = "\u200d"
VARIATION_SELECTOR_16 = "\ufe0f"
# Names of the control characters people meet; `unicodedata.name` has none for Cc.
_CONTROL_NAMES = {
    0x00: "null",
    0x07: "bell",
    0x08: "backspace",
    0x09: "tab",
    0x0A: "line feed",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x0D: "carriage return",
    0x1B: "escape",
    0x7F: "delete",
    0x85: "next line",
}


@cache
def hidden_character_class() -> str:
    """A regex character class of every character in `HIDDEN_CATEGORIES` (one scan of Unicode, once).

    It is written so that both Python's `re` and RE2 (what pandas uses for pyarrow-backed strings)
    read it the same: `\\xHH` escapes below U+0100, the characters themselves above (RE2 knows no
    `\\u` escape, Python's `re` no `\\x{…}`). No regex metacharacter is in these categories.
    """
    codes = [code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) in HIDDEN_CATEGORIES]
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))

    def spelled(code: int) -> str:
        return f"\\x{code:02x}" if code < 0x100 else chr(code)

    return "[" + "".join(spelled(a) if a == b else f"{spelled(a)}-{spelled(b)}" for a, b in ranges) + "]"


@cache
def _hidden_character_pattern() -> re.Pattern[str]:
    return re.compile(hidden_character_class())


def _is_emoji_part(char: str) -> bool:
    # Emoji are "Symbol, other"; a sequence may put VS16 or a skin tone (U+1F3FB–U+1F3FF) before a ZWJ.
    return unicodedata.category(char) == "So" or char == VARIATION_SELECTOR_16 or "\U0001f3fb" <= char <= "\U0001f3ff"


def _joins_emoji(value: str, index: int) -> bool:
    """Whether the ZWJ at `index` sits inside an emoji sequence such as 👩‍💻 or 🏳️‍🌈.

    That is the one place a zero width joiner is legitimate in the text this product stores: it
    makes two emoji one. Anywhere else (inside a word, at an end, next to a space) it changes
    nothing visible and only makes two equal-looking names different.
    """
    return (
        0 < index < len(value) - 1
        and _is_emoji_part(value[index - 1])
        and unicodedata.category(value[index + 1]) == "So"
    )


def _described(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if unicodedata.category(char) == "Cc":
        name = _CONTROL_NAMES.get(ord(char))
        return f"a control character {code}" + (f" ({name})" if name else "")
    return f"an invisible character {code} ({unicodedata.name(char, 'unnamed').lower()})"


def hidden_characters(value: str) -> list[str]:
    """The distinct control and invisible characters of `value` that are refused, in order."""
    found: list[str] = []
    for match in _hidden_character_pattern().finditer(value):
        char = match.group()
        if char == ZERO_WIDTH_JOINER and _joins_emoji(value, match.start()):
            continue
        if char not in found:
            found.append(char)
    return found


def length_problem(value: str, field: str, max_length: int) -> str | None:
    """Why `value` is too long for `field`, or None."""
    if len(value) > max_length:
        return f"{field} {quoted(value)} is longer than {max_length} characters ({len(value)})"
    return None


def hidden_character_problem(value: str, field: str) -> str | None:
    """Which control or invisible characters `value` holds, e.g. "contains an invisible character
    U+202E (right-to-left override)", and the rule; None when it holds none."""
    hidden = hidden_characters(value)
    if not hidden:
        return None
    described = [_described(char) for char in hidden[:3]] + (["more"] if len(hidden) > 3 else [])
    listed = described[0] if len(described) == 1 else ", ".join(described[:-1]) + " and " + described[-1]
    return f"{field} {quoted(value)} contains {listed}; {HIDDEN_RULE}"


def text_problem(value: str | None, field: str, max_length: int) -> str | None:
    """Why a free-text value cannot be stored, or None: length, hidden characters, formulas.

    The message names the field and the value (quoted, escaped, cut when long), and for hidden
    characters which ones. Typed input and every imported cell are checked by this one function.
    """
    if value is None or value == "":
        return None
    problem = length_problem(value, field, max_length) or hidden_character_problem(value, field)
    if problem is None and looks_like_formula(value):
        problem = f"{field} {quoted(value)} looks like a spreadsheet formula (starts with =, +, - or @)"
    return problem


def text_problems(values: pd.Series, field: str, max_length: int) -> pd.Series:
    """Vectorized `text_problem`: its message per row, None where the value is fine.

    The vectorized screens (length, any character of `hidden_character_class`, a formula start)
    let through every value `text_problem` could refuse, and the few rows they let through get
    `text_problem`'s own verdict: one rule, whether a value is typed or imported by the million.
    """
    text = values.fillna("").astype(str)
    suspect = (
        (text.str.len() > max_length)
        | text.str.contains(hidden_character_class(), regex=True)
        | text.str.startswith(FORMULA_STARTS)
    )
    return per_row(suspect, [text_problem(value, field, max_length) for value in text[suspect]])


def required_problem(field: str) -> str:
    """What an empty required field is told, typed or imported."""
    return f"{field} is required"


def email_problem(email: str | None, field: str = "email") -> str | None:
    """Why an email cannot be stored, or None: `text_problem`'s rules, then the address syntax.

    An empty email is no problem here: whether the field may be empty is the caller's to say.
    The value is quoted whole (any address that gets this far fits in `MAX_EMAIL_LENGTH`).
    """
    problem = text_problem(email, field, MAX_EMAIL_LENGTH)
    if problem is not None or email is None or email == "":
        return problem
    syntax = email_syntax_error(email)
    return None if syntax is None else _invalid_email(email, field, syntax)


def _invalid_email(email: str, field: str, syntax: str) -> str:
    return f"{field} {quoted(email, MAX_EMAIL_LENGTH)} is not valid: {syntax}"


def email_problems(emails: pd.Series, field: str = "email") -> pd.Series:
    """Vectorized `email_problem`: its message per row, None where the email is fine or empty."""
    problems = text_problems(emails, field, MAX_EMAIL_LENGTH)
    text = emails.fillna("").astype(str)
    checked = (problems.isna() & (text != "")).to_numpy(dtype=bool)
    syntax = email_syntax_errors(text[checked])
    invalid = syntax.notna().to_numpy(dtype=bool)
    messages = problems.to_numpy(dtype=object, copy=True)
    messages[np.flatnonzero(checked)[invalid]] = [
        _invalid_email(email, field, why) for email, why in zip(text[checked][invalid], syntax[invalid], strict=True)
    ]
    return pd.Series(messages, index=emails.index, dtype=object)


def choice_problem(value: str | None, field: str, choices: Iterable[str]) -> str | None:
    """Why `value` is none of `choices` (compared ignoring case), or None; empty means the default.

    A value that looks like a choice but holds an invisible character is told which one."""
    allowed = list(choices)
    if value is None or value == "" or value.lower() in allowed:
        return None
    named = " or ".join(repr(choice) for choice in allowed)
    return hidden_character_problem(value, field) or f"{field} {quoted(value)} must be {named}"


def clean_text(value: object) -> str | None:
    """A cell or form value as stored: trimmed, inner runs of spaces kept, empty → None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None
