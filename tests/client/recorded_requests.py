"""Every request an httpx client sends, recorded, and each /v3 request checked against CTCT's published spec.

The check is openapi-core's request validation (the operation exists for that path and method; its path and query
parameters and its JSON body match), plus one openapi-core leaves out: a query parameter the operation does not
declare. openapi-core ignores those, but CTCT's API would not: a misspelled or invented parameter is a client bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.paths.finders import APICallPathFinder

from tests.sandbox.openapi_contract import SPEC_HOST, load_spec, validate_request

API_PREFIX = "/v3/"
# CTCT's `_links.next.href` carries `cursor` on every paged listing, yet the spec declares it nowhere
# (ctct-v3-facts.md §4): a client following the link sends it, rightly.
PAGING_PARAMETER = "cursor"
PROBLEMS_SHOWN = 12  # lines of problems shown per request
# Errors openapi-core finds in a request that are the spec's own mistakes, by operation (docs/sandbox.md, "Known
# differences from CTCT"). The contact schemas mark each list id of `list_memberships` readOnly, yet the property's
# own description says it lists the lists the contact is being subscribed to, as CTCT's create and update do.
SPEC_MISTAKES = {
    "POST /contacts": re.compile(r"at /list_memberships/\d+: Tried to write read-only property"),
    "PUT /contacts/{contact_id}": re.compile(r"at /list_memberships/\d+: Tried to write read-only property"),
}


@dataclass
class RequestRecorder:
    requests: list[httpx.Request] = field(default_factory=list)

    def attach(self, http: httpx.Client) -> None:
        """Records every request `http` sends from now on, retries included, before it goes out."""
        http.event_hooks["request"].append(self.requests.append)

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [request for request in self.requests if request.url.path.startswith(API_PREFIX)]

    def operations(self) -> set[str]:
        """The spec's operations the recorded requests went to (`GET /contacts/{contact_id}`)."""
        return {operation for request in self.api_requests if (operation := operation_of(request))}

    def mismatches(self) -> list[str]:
        """One entry per distinct /v3 request that does not match the spec: its method, path and what is wrong,
        with how many times it was sent."""
        counted: dict[str, int] = {}
        for request in self.api_requests:
            problems = spec_mismatches(request)
            if len(problems) > PROBLEMS_SHOWN:  # an import of 500 rows can break the same rule 500 times
                problems = [*problems[:PROBLEMS_SHOWN], f"  … and {len(problems) - PROBLEMS_SHOWN} more"]
            if problems:
                entry = "\n".join([f"{request.method} {request.url.raw_path.decode('ascii')}", *problems])
                counted[entry] = counted.get(entry, 0) + 1
        return [entry if times == 1 else f"{entry}\n  (sent {times} times)" for entry, times in counted.items()]


def spec_mismatches(request: httpx.Request) -> list[str]:
    """What in the request breaks the spec, one line per problem (none when it matches)."""
    problems: list[str] = []
    try:
        validate_request(request)
    except AssertionError as error:
        problems += _without_spec_mistakes(operation_of(request), str(error).splitlines()[1:])  # [0]: method, path
    problems += [
        f"- query parameter {name!r} is not declared by the operation" for name in undeclared_query_parameters(request)
    ]
    return problems


def _without_spec_mistakes(operation: str | None, lines: list[str]) -> list[str]:
    mistake = SPEC_MISTAKES.get(operation or "")
    kept = [line for line in lines if mistake is None or not mistake.search(line)]
    # A headline ("- Request body validation error:") whose every detail was such a mistake goes too.
    return [
        line
        for number, line in enumerate(kept)
        if not (
            line.startswith("- ")
            and line.endswith(":")
            and (number + 1 == len(kept) or not kept[number + 1].startswith(" "))
        )
    ]


def _find(request: httpx.Request):
    # Checked as if sent to the spec's server, whatever host the test used (as openapi_contract does).
    return APICallPathFinder(load_spec().spec).find(request.method.lower(), SPEC_HOST + request.url.path)


def operation_of(request: httpx.Request) -> str | None:
    try:
        found = _find(request)
    except (PathNotFound, OperationNotFound):
        return None
    return f"{request.method} {found.path_result.pattern}"


def undeclared_query_parameters(request: httpx.Request) -> list[str]:
    try:
        found = _find(request)
    except (PathNotFound, OperationNotFound):
        return []  # validate_request reports the unknown operation
    parameters = found.operation / "parameters"
    declared = (
        {(parameter / "name").read_str() for parameter in parameters if (parameter / "in").read_str() == "query"}
        if parameters.exists()
        else set()
    )
    if (
        found.operation / "responses" / "200" / "content" / "application/json" / "schema" / "properties" / "_links"
    ).exists():
        declared.add(PAGING_PARAMETER)  # a paged listing: its next link carries the cursor
    return sorted(set(request.url.params.keys()) - declared)
