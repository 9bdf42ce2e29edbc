"""The OpenAPI contract harness itself, on hand-built exchanges (no server)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.sandbox.openapi_contract import validate_request, validate_response

pytestmark = pytest.mark.usefixtures("openapi_spec")

LIST = {
    "list_id": str(uuid.uuid4()),
    "name": "General Interest",
    "favorite": False,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}
ERRORS = [{"error_key": "contacts.api.not_found", "error_message": "Contact not found"}]


def test_valid_list_page_passes():
    request = httpx.Request("GET", "http://testserver/v3/contact_lists?limit=10")
    validate_response(request, httpx.Response(200, json={"lists": [LIST], "lists_count": 1}))


def test_wrong_type_in_body_fails_with_the_schema_error():
    request = httpx.Request("GET", "http://127.0.0.1:8765/v3/contact_lists")
    with pytest.raises(AssertionError) as failure:
        validate_response(request, httpx.Response(200, json={"lists": [LIST], "lists_count": "one"}))
    message = str(failure.value)
    assert "GET /v3/contact_lists -> 200" in message
    assert "at /lists_count: 'one' is not of type 'integer'" in message


def test_nested_schema_errors_are_reported_with_their_location():
    request = httpx.Request("GET", "http://testserver/v3/contact_lists")
    body = {"lists": [{**LIST, "favorite": "no", "created_at": "yesterday"}]}
    with pytest.raises(AssertionError, match=r"at /lists/0/favorite: 'no' is not of type 'boolean'") as failure:
        validate_response(request, httpx.Response(200, json=body))
    assert "at /lists/0/created_at: 'yesterday' is not a 'date-time'" in str(failure.value)


def test_undocumented_status_fails():
    request = httpx.Request("GET", "http://testserver/v3/contacts")
    with pytest.raises(AssertionError, match=r"Unknown response http status: 418; documented: 200, 202, 400"):
        validate_response(request, httpx.Response(418, text="I'm a teapot"))


def test_wrong_content_type_fails():
    request = httpx.Request("GET", "http://testserver/v3/contact_lists")
    with pytest.raises(AssertionError, match="text/plain"):
        validate_response(request, httpx.Response(200, text="lists"))


def test_unknown_path_fails():
    with pytest.raises(AssertionError, match="Path not found"):
        validate_response(httpx.Request("GET", "http://testserver/v3/segments"), httpx.Response(200, json={}))


def test_error_status_without_documented_content_accepts_any_body():
    request = httpx.Request("GET", f"http://testserver/v3/contacts/{uuid.uuid4()}")
    validate_response(request, httpx.Response(404, json=ERRORS))


def test_no_content_delete_passes():
    validate_response(httpx.Request("DELETE", f"http://testserver/v3/contacts/{uuid.uuid4()}"), httpx.Response(204))


def test_no_content_with_a_body_fails():
    request = httpx.Request("DELETE", f"http://testserver/v3/contacts/{uuid.uuid4()}")
    with pytest.raises(AssertionError, match="204 response must not have a body"):
        validate_response(request, httpx.Response(204, json=ERRORS))


def test_request_with_undeclared_cursor_passes():
    validate_request(
        httpx.Request("GET", "http://testserver/v3/contacts?limit=500&include=list_memberships&cursor=abc")
    )


def test_comma_separated_enum_parameters_pass():
    validate_request(httpx.Request("GET", "http://testserver/v3/contacts?include=custom_fields,list_memberships"))
    with pytest.raises(AssertionError, match="Invalid query parameter: include"):
        validate_request(httpx.Request("GET", "http://testserver/v3/contacts?include=custom_fields,friends"))


def test_request_with_bad_parameter_fails():
    with pytest.raises(AssertionError, match=r"GET /v3/contacts\?limit=abc request .*\n- .*limit"):
        validate_request(httpx.Request("GET", "http://testserver/v3/contacts?limit=abc"))


def test_request_with_out_of_range_parameter_fails():
    with pytest.raises(AssertionError, match="501 is greater than the maximum of 500"):
        validate_request(httpx.Request("GET", "http://testserver/v3/contacts?limit=501"))


def test_create_list_request_passes():
    validate_request(httpx.Request("POST", "http://testserver/v3/contact_lists", json={"name": "x"}))


def test_create_list_request_without_name_fails():
    with pytest.raises(AssertionError, match="at \\(root\\): 'name' is a required property"):
        validate_request(httpx.Request("POST", "http://testserver/v3/contact_lists", json={"description": "x"}))
