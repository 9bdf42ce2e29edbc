"""Checks HTTP exchanges against the official Constant Contact v3 OpenAPI description (with openapi-core).

The description lives outside the repository (``<repo>/../shared/reference/ctct-v3-openapi.yaml``, or the file
named by ``CTCT_OPENAPI_FILE``). Requests may go to any host (``http://testserver/v3/…``, ``http://127.0.0.1:8765/v3/…``):
they are checked as if they had been sent to the spec's server, ``https://api.cc.email/v3``. The paths the
reference leaves out and this project describes (``docs/reference/*.yaml``) are merged in.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from jsonschema_path.handlers import FileHandler
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import InvalidData
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ctct.sandbox.validation import load_fragments, with_fragments

OPENAPI_FILE = Path(
    os.environ.get("CTCT_OPENAPI_FILE")
    or Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "ctct-v3-openapi.yaml"
)
SPEC_HOST = "https://api.cc.email"  # the spec's `servers` entry is https://api.cc.email/v3


@functools.cache
def load_spec() -> OpenAPI:
    """The OpenAPI description, loaded (and patched, see `_csv_parameters_as_arrays`) once per process."""
    with OPENAPI_FILE.open(encoding="utf-8") as stream:
        # openapi-core's own YAML loader: it keeps timestamps in examples as strings, as from_file_path would
        spec: dict[str, Any] = FileHandler()(stream)
    # The paths the reference leaves out that this project describes (contact exports).
    spec = with_fragments(spec, load_fragments())
    _csv_parameters_as_arrays(spec)
    # A contact export's file is text/csv: its bytes are checked as the string the description names.
    text = Config(extra_media_type_deserializers={"text/csv": _csv_text})
    return OpenAPI.from_dict(spec, base_uri=OPENAPI_FILE.as_uri(), config=text)


def _csv_text(data: bytes | str, **parameters: str) -> str:
    return data if isinstance(data, str) else data.decode(parameters.get("charset", "utf-8"))


def _csv_parameters_as_arrays(spec: dict[str, Any]) -> None:
    """Rewrites `type: string, format: csv` query parameters as comma-separated arrays.

    `format: csv` is a leftover of Swagger 2's `collectionFormat: csv`: the parameters (`include`, `status`,
    `sms_status` on /contacts, `extra_fields`) take a comma-separated list of enum values, as their descriptions
    and examples say (`include=custom_fields,list_memberships`). Read literally, the string must be ONE enum value,
    so the documented example itself would fail. OpenAPI 3 spells a comma-separated list as an array parameter
    with `style: form, explode: false`.
    """
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if schema.get("format") == "csv":
                    item = {key: value for key, value in schema.items() if key != "format"}
                    parameter.update(schema={"type": "array", "items": item}, style="form", explode=False)


@dataclass
class _SpecRequest:
    """An httpx request as sent to the spec's server (implements `openapi_core.protocols.Request`)."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)
    host_url: str = SPEC_HOST

    @classmethod
    def of(cls, request: httpx.Request) -> _SpecRequest:
        # `cursor` (in the emulator's `_links.next.href`, as in CTCT's) is not declared in the spec. It needs no
        # special case: openapi-core only checks declared parameters and ignores undeclared query parameters.
        return cls(
            method=request.method.lower(),
            path=request.url.path,
            body=request.read() or None,
            content_type=request.headers.get("content-type", "").lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(request.url.params.multi_items()),
                header=Headers(request.headers.multi_items()),
            ),
        )


@dataclass
class _SpecResponse:
    """An httpx response (implements `openapi_core.protocols.Response`)."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None

    @classmethod
    def of(cls, response: httpx.Response) -> _SpecResponse:
        return cls(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", "").lower(),
            headers=Headers(response.headers.multi_items()),
            data=response.read() or None,
        )


def validate_request(request: httpx.Request) -> None:
    """Asserts that the request's operation exists and its parameters and JSON body match the spec."""
    _assert_no_errors(request, None, load_spec().iter_request_errors(_SpecRequest.of(request)))


def validate_response(request: httpx.Request, response: httpx.Response) -> None:
    """Asserts that the response's status is documented for the request's operation and, when the spec describes
    content for that status, that the content type and JSON body match it.

    Most error statuses (400/401/403/404/409/415/429/500/503) are documented with a description only: any body
    (CTCT sends a JSON error array or object) is accepted for them, as openapi-core skips the body without `content`.
    The response body is read here, so with an async client `await response.aread()` first.
    """
    errors = list(load_spec().iter_response_errors(_SpecRequest.of(request), _SpecResponse.of(response)))
    if response.status_code == 204 and response.content:
        errors.append(AssertionError("a 204 response must not have a body (RFC 9110)"))
    _assert_no_errors(request, response, errors)


def _assert_no_errors(request: httpx.Request, response: httpx.Response | None, errors: Iterable[Exception]) -> None:
    lines = [line for error in errors for line in _explain(error)]
    if lines:
        target = request.url.raw_path.decode("ascii")
        outcome = "request" if response is None else f"-> {response.status_code}"
        header = f"{request.method} {target} {outcome} does not match {OPENAPI_FILE.name}:"
        raise AssertionError("\n".join([header, *lines]))


def _explain(error: Exception) -> list[str]:
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    if isinstance(error, ResponseNotFound):
        return [f"- {error}; documented: {', '.join(error.availableresponses)}"]
    if not schema_errors:
        detail = f": {cause}" if cause is not None and str(cause) not in str(error) else ""
        return [f"- {error}{detail}"]
    # str(error) embeds the whole offending value (maybe a full page of contacts): show each schema error instead
    headline = (
        "Invalid response body" if isinstance(error, InvalidData) else str(error).replace(str(cause), "").rstrip(": ")
    )
    return [f"- {headline}:", *_schema_lines(schema_errors, depth=1)]


def _schema_lines(schema_errors: Iterable[Any], depth: int) -> Iterator[str]:
    """One line per jsonschema error, then the errors nested in it (the branches of a failed oneOf/anyOf)."""
    for schema_error in schema_errors:
        where = "".join(f"/{part}" for part in schema_error.absolute_path) or "(root)"
        yield f"{'  ' * depth}- at {where}: {_clip(schema_error.message)}"
        yield from _schema_lines(schema_error.context or (), depth + 1)


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
