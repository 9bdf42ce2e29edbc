"""Who may be on an email list (SPEC §3): one reason per ineligible contact, None when eligible.

The rules are checked in the SPEC's order and the first that fails is the reason shown, so a
user fixes the most basic problem first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ctct.crm.normalize import (
    email_key,
    email_keys,
    email_syntax_error,
    email_syntax_errors,
    role_local_part,
    role_locals,
)

REASON_COMPANY_ADDRESS = "company general address, not a contact"
REASON_UNSUBSCRIBED = "unsubscribed"


def reason_invalid(detail: str) -> str:
    return f"invalid email: {detail}"


def reason_role(role: str) -> str:
    return f"role address ({role}@), which Constant Contact does not mail"


def reason_shared(others: int) -> str:
    noun = "contact" if others == 1 else "contacts"
    return f"email shared with {others} other {noun}: resolve the conflict first"


@dataclass(frozen=True)
class EligibilityContext:
    """What the rules need to know about the rest of the CRM."""

    company_emails: frozenset[str]
    # Only emails held by more than one contact; every other email counts once.
    email_counts: dict[str, int]
    role_addresses: frozenset[str]


def eligibility_reason(email: str | None, unsubscribed: bool, context: EligibilityContext) -> str | None:
    """Why one contact cannot be selected for a list, or None when it can."""
    key = email_key(email)
    if key is not None and key in context.company_emails:
        return REASON_COMPANY_ADDRESS
    syntax = email_syntax_error(email)
    if syntax is not None:
        return reason_invalid(syntax)
    assert email is not None and key is not None
    role = role_local_part(email, context.role_addresses)
    if role is not None:
        return reason_role(role)
    if unsubscribed:
        return REASON_UNSUBSCRIBED
    shared = context.email_counts.get(key, 1)
    if shared > 1:
        return reason_shared(shared - 1)
    return None


def _member_of(keys: pd.Series, values: frozenset[str]) -> pd.Series:
    """`keys.isin(values)`, without handing a large set to the column engine for a few rows."""
    if len(keys) < len(values):
        return keys.map(values.__contains__).astype(bool)
    return keys.isin(values)


def eligibility_reasons(contacts: pd.DataFrame, context: EligibilityContext) -> pd.Series:
    """Vectorized `eligibility_reason` over a frame with `email` and `unsubscribed` columns.

    Only string operations the column's own engine runs (no per-row Python) touch every row;
    reasons are worded for the rows that have one."""
    if contacts.empty:
        return pd.Series([], index=contacts.index, dtype=object)
    emails = contacts["email"].astype(object).where(contacts["email"].notna(), None)
    keys = email_keys(emails)

    reasons = pd.Series([None] * len(contacts), index=contacts.index, dtype=object)
    undecided = pd.Series(True, index=contacts.index)

    def settle(mask: pd.Series, reason: str | Callable[[pd.Series], pd.Series]) -> None:
        nonlocal undecided
        hit = mask & undecided
        if hit.any():
            reasons[hit] = reason if isinstance(reason, str) else reason(hit)
            undecided = undecided & ~hit

    settle(_member_of(keys, context.company_emails) & (keys != ""), REASON_COMPANY_ADDRESS)
    syntax = email_syntax_errors(emails)
    settle(syntax.notna(), lambda hit: syntax[hit].map(reason_invalid))
    roles = role_locals(emails, context.role_addresses)
    settle(roles.notna(), lambda hit: roles[hit].map(reason_role))
    settle(contacts["unsubscribed"].astype(bool), REASON_UNSUBSCRIBED)
    shared = _member_of(keys, frozenset(key for key, count in context.email_counts.items() if count > 1))
    settle(shared, lambda hit: keys[hit].map(lambda key: reason_shared(context.email_counts[key] - 1)))
    return reasons
