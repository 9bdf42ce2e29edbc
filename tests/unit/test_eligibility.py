import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctct.crm.eligibility import (
    REASON_COMPANY_ADDRESS,
    REASON_UNSUBSCRIBED,
    EligibilityContext,
    eligibility_reason,
    eligibility_reasons,
)

CONTEXT = EligibilityContext(
    company_emails=frozenset({"hello@acme.com"}),
    email_counts={"shared@acme.com": 2},
    role_addresses=frozenset({"info", "sales", "noreply", "support"}),
)


def test_rule_1_company_general_address():
    assert eligibility_reason("Hello@acme.com", False, CONTEXT) == REASON_COMPANY_ADDRESS


def test_rule_2_invalid_email():
    assert eligibility_reason("ann.acme.com", False, CONTEXT).startswith("invalid email:")
    assert eligibility_reason(None, False, CONTEXT) == "invalid email: email is empty"


def test_rule_3_role_address():
    reason = eligibility_reason("Sales@acme.com", False, CONTEXT)
    assert reason is not None and "role address (sales@)" in reason


def test_rule_3_role_list_is_configurable():
    custom = EligibilityContext(frozenset(), {}, frozenset({"events"}))
    assert eligibility_reason("events@acme.com", False, custom) is not None
    assert eligibility_reason("info@acme.com", False, custom) is None


def test_rule_4_unsubscribed():
    assert eligibility_reason("ann@acme.com", True, CONTEXT) == REASON_UNSUBSCRIBED


def test_rule_5_shared_email():
    assert eligibility_reason("SHARED@acme.com", False, CONTEXT) == (
        "email shared with 1 other contact: resolve the conflict first"
    )


def test_eligible_contact_has_no_reason():
    assert eligibility_reason("ann@acme.com", False, CONTEXT) is None


def test_first_failing_rule_is_the_reason():
    # A role address that is also unsubscribed: rule 3 comes before rule 4.
    assert "role address" in eligibility_reason("info@acme.com", True, CONTEXT)


CASES = [
    ("hello@acme.com", False),
    ("ann.acme.com", False),
    (None, False),
    ("sales@acme.com", True),
    ("no-reply@acme.com", False),
    ("ann@acme.com", True),
    ("shared@acme.com", False),
    ("Shared@Acme.com", True),
    ("bob@acme.com", False),
]


@pytest.mark.parametrize("size", [1, len(CASES)])
def test_vectorized_reasons_equal_the_single_ones(size):
    frame = pd.DataFrame(CASES[:size], columns=["email", "unsubscribed"])
    expected = [eligibility_reason(email, unsubscribed, CONTEXT) for email, unsubscribed in CASES[:size]]
    assert eligibility_reasons(frame, CONTEXT).tolist() == expected


def test_no_contacts_no_reasons():
    frame = pd.DataFrame({"email": pd.Series([], dtype=object), "unsubscribed": pd.Series([], dtype=bool)})
    assert eligibility_reasons(frame, CONTEXT).empty


# Emails as they come: spacing, case, plus-tags, role names with -_., unicode, missing.
email_values = st.one_of(
    st.none(),
    st.emails(),
    st.text(alphabet="infosalesupport+-_.@ \tİΣé", max_size=16),
    st.sampled_from(["Hello@acme.com", " SHARED@acme.com", "no-reply@acme.com", "Sales+eu@acme.com", "info"]),
)


@given(st.lists(st.tuples(email_values, st.booleans()), max_size=20))
def test_vectorized_reasons_equal_the_single_ones_for_any_email(cases):
    frame = pd.DataFrame(cases, columns=["email", "unsubscribed"]).astype({"email": object, "unsubscribed": bool})
    expected = [eligibility_reason(email, unsubscribed, CONTEXT) for email, unsubscribed in cases]
    assert eligibility_reasons(frame, CONTEXT).tolist() == expected
