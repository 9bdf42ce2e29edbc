"""The shapes the console reads from and sends to CTCT (the TypedDicts of ctct/api) against CTCT's published spec —
every key a type declares is a property of the schema where the type is used, so a misspelt field fails — and
against the sandbox: every key a type marks Required is in the sandbox's answers."""

from __future__ import annotations

from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest
import yaml

from ctct.api.account import AccountSummary
from ctct.api.activities import Activity, ContactDeleteBody, ImportBody, ListDeleteBody, MembershipBody
from ctct.api.contacts import Contact, ContactCreate, ContactUpdate, SignUpForm, SignUpResult
from ctct.api.lists import ContactList, ListBody
from tests.sandbox.conftest import OPENAPI_SKIP
from tests.sandbox.openapi_contract import OPENAPI_FILE

# (type, method, path, status, where in that answer the type sits: property names, "[]" for an array's items)
RESPONSES = [
    (AccountSummary, "get", "/account/summary", "200", ()),
    (ContactList, "get", "/contact_lists", "200", ("lists", "[]")),
    (ContactList, "get", "/contact_lists/{list_id}", "200", ()),
    (Contact, "get", "/contacts", "200", ("contacts", "[]")),
    (Contact, "get", "/contacts/{contact_id}", "200", ()),
    (Contact, "post", "/contacts", "201", ()),
    (Contact, "put", "/contacts/{contact_id}", "200", ()),
    (SignUpResult, "post", "/contacts/sign_up_form", "201", ()),
    (Activity, "get", "/activities/{activity_id}", "200", ()),
    (Activity, "get", "/activities", "200", ("activities", "[]")),
]
REQUESTS = [
    (ListBody, "post", "/contact_lists"),
    (ListBody, "put", "/contact_lists/{list_id}"),
    (ContactCreate, "post", "/contacts"),
    (ContactUpdate, "put", "/contacts/{contact_id}"),
    (SignUpForm, "post", "/contacts/sign_up_form"),
    (ImportBody, "post", "/activities/contacts_json_import"),
    (MembershipBody, "post", "/activities/add_list_memberships"),
    (MembershipBody, "post", "/activities/remove_list_memberships"),
    (ContactDeleteBody, "post", "/activities/contact_delete"),
    (ListDeleteBody, "post", "/activities/list_delete"),
]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not OPENAPI_FILE.is_file():
        pytest.skip(OPENAPI_SKIP)
    with OPENAPI_FILE.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = spec["components"]["schemas"][name]
    return schema


def json_schema(operation: dict[str, Any], status: str | None) -> dict[str, Any]:
    """The JSON body schema of an operation's request (`status` None) or of its answer with that status."""
    body = operation["requestBody"] if status is None else operation["responses"][status]
    return body["content"]["application/json"]["schema"]


def misspelt(spec: dict[str, Any], typed: type, schema: dict[str, Any], where: str) -> list[str]:
    """The keys `typed` declares (its nested TypedDicts too) that the schema has no property for."""
    properties = resolved(spec, schema).get("properties", {})
    problems = [f"{where}.{key}" for key in get_type_hints(typed) if key not in properties]
    for key, hint in get_type_hints(typed).items():
        if key in properties:
            problems += misspelt_within(spec, hint, properties[key], f"{where}.{key}")
    return problems


def misspelt_within(spec: dict[str, Any], hint: Any, schema: dict[str, Any], where: str) -> list[str]:
    if get_origin(hint) is list:
        return misspelt_within(spec, get_args(hint)[0], resolved(spec, schema).get("items", {}), f"{where}[]")
    if is_typeddict(hint):
        return misspelt(spec, hint, schema, where)
    return []


def spec_required(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    return set(resolved(spec, schema).get("required", []))


@pytest.mark.parametrize(("typed", "method", "path", "status", "within"), RESPONSES)
def test_every_key_read_is_in_the_answer_schema(spec, typed, method, path, status, within):
    schema = json_schema(spec["paths"][path][method], status)
    for step in within:
        schema = resolved(spec, schema)
        schema = schema["items"] if step == "[]" else schema["properties"][step]
    assert misspelt(spec, typed, schema, typed.__name__) == []
    # What CTCT promises to send is not left optional in the type.
    declared = set(get_type_hints(typed))
    assert spec_required(spec, schema) & declared <= typed.__required_keys__


@pytest.mark.parametrize(("typed", "method", "path"), REQUESTS)
def test_every_key_sent_is_in_the_request_schema(spec, typed, method, path):
    schema = json_schema(spec["paths"][path][method], None)
    assert misspelt(spec, typed, schema, typed.__name__) == []
    # A body type that could not carry a field CTCT requires would let a caller leave it out.
    assert spec_required(spec, schema) <= set(get_type_hints(typed))


def test_required_keys_are_known_at_run_time():
    """TypedDict reads Required/NotRequired from evaluated annotations only: the modules must not postpone them."""
    assert Contact.__required_keys__ == {"contact_id"}
    assert {"email_address", "first_name", "list_memberships", "deleted_at"} <= Contact.__optional_keys__
    assert Activity.__required_keys__ == {"activity_id", "state"}
    assert ContactList.__required_keys__ == {"list_id", "name"}


def missing(value: dict[str, Any], typed: type, where: str) -> list[str]:
    """The Required keys of `typed` (and of the TypedDicts within it) that `value` lacks."""
    gaps = [f"{where}.{key}" for key in sorted(typed.__required_keys__) if key not in value]
    for key, hint in get_type_hints(typed).items():
        if key in value:
            gaps += missing_within(value[key], hint, f"{where}.{key}")
    return gaps


def missing_within(value: Any, hint: Any, where: str) -> list[str]:
    if get_origin(hint) is list and isinstance(value, list):
        return [gap for item in value for gap in missing_within(item, get_args(hint)[0], f"{where}[]")]
    if is_typeddict(hint) and isinstance(value, dict):
        return missing(value, hint, where)
    return []


def test_the_sandbox_answers_carry_every_required_key(active_client):
    api = active_client
    answers: list[tuple[type, Any]] = []

    def seen(typed: type, value: Any) -> Any:
        answers.append((typed, value))
        return value

    seen(AccountSummary, api.account.summary())
    news = seen(ContactList, api.lists.create("News", "Every month"))["list_id"]
    seen(ContactList, api.lists.rename(news, "Newsletter"))
    seen(ContactList, api.lists.get(news))
    vip = seen(ContactList, api.lists.create("VIP"))["list_id"]
    ann = seen(
        Contact,
        api.contacts.create(
            {
                "email_address": {"address": "ann@acme.com", "permission_to_send": "implicit"},
                "first_name": "Ann",
                "list_memberships": [news],
            }
        ),
    )["contact_id"]
    seen(Contact, api.contacts.update(ann, {"email_address": {"address": "ann@acme.com"}, "job_title": "Buyer"}))
    seen(Contact, api.contacts.get(ann))
    seen(Contact, api.contacts.find_by_email("ann@acme.com"))
    ben = seen(SignUpResult, api.contacts.sign_up({"email_address": "ben@acme.com", "list_memberships": [news]}))
    results = [
        api.activities.import_contacts([{"email": "cy@acme.com", "first_name": "Cy"}], [news, vip]),
        api.activities.add_memberships([ann], [vip]),
        api.activities.remove_memberships([ann], [vip]),
        api.activities.delete_contacts([ben["contact_id"]]),
    ]
    for result in results:
        for activity in result.activities:
            seen(Activity, activity)
    seen(Activity, api.activities.get(results[0].activity_ids[0]))
    seen(Activity, api.lists.delete(api.lists.create("Old")["list_id"]))
    for activity in api.activities.unfinished():
        seen(Activity, activity)
    for item in api.lists.iterate():
        seen(ContactList, item)
    # With the deleted contact (Ben), whose answer has a deleted_at and no list.
    for contact in api.contacts.iterate(status="all"):
        seen(Contact, contact)

    assert [gap for typed, value in answers for gap in missing(value, typed, typed.__name__)] == []
    assert {typed for typed, _ in answers} == {AccountSummary, ContactList, Contact, SignUpResult, Activity}
    assert any("deleted_at" in value for typed, value in answers if typed is Contact)
