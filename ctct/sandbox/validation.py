"""Every /v3 request checked against CTCT's OpenAPI description before the sandbox acts on it.

The rules come from the reference description (`ctct-v3-openapi.yaml`): `derive_rules` keeps, for
each operation, its scopes, its parameters and its request body schema (references resolved,
prose dropped), and `spec_requests.json` beside this module is that result — the sandbox runs
without the reference file, and `tests/sandbox/test_validation.py` fails when the two drift apart.
Regenerate it with `python -m ctct.sandbox.validation PATH/TO/ctct-v3-openapi.yaml`; the paths the
reference leaves out and this project describes itself (`docs/reference/*.yaml`, e.g. contact
exports) are merged in first (`with_fragments`).

Each schema is compiled once into nested closures: a 40,000-row import is checked in about 20 ms,
where a general JSON Schema validator takes close to a second (see docs/sandbox.md, Capacity).
Only the keywords and formats the description uses are supported; deriving from a description
that uses another one fails loudly rather than skipping a rule.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("spec_requests.json")
# Descriptions of CTCT paths the reference lacks, written from CTCT's full official description.
FRAGMENTS = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "ctct-contact-exports.yaml",)
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# Keywords that constrain a value, and keywords that only describe it.
_CONSTRAINTS = frozenset(
    {
        "type",
        "enum",
        "format",
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "minimum",
        "maximum",
        "required",
        "properties",
        "items",
    }
)
# `readOnly` is dropped on purpose: the generated description marks the items of `list_memberships`
# and `taggings` read-only, yet CTCT's documentation has clients send `list_memberships` on
# POST/PUT /contacts, and read-only response fields a client echoes back are ignored by CTCT.
_PROSE = frozenset({"description", "example", "default", "readOnly", "title"})
# `csv` becomes a comma-separated list parameter (see `_parameter`).
_KNOWN_FORMATS = frozenset({"uuid", "date-time", "csv"})

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")
# A query parameter the description says takes a comma-separated list ("Use a comma to separate
# multiple sub-resources", "Accepts comma-separated status values"), whatever its schema says.
_COMMA_LIST = re.compile(r"\bcomma\b", re.IGNORECASE)


class Invalid(Exception):
    """A request the description refuses: `field` is where (`import_data[3].email`), `message` what."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.reason = message
        self.path: list[str | int] = list(path)

    @property
    def field(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text

    @property
    def message(self) -> str:
        return f"{self.field or 'The request body'} {self.reason}"


# Deriving the rules from the description


def with_fragments(spec: Mapping[str, Any], fragments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The reference description with the fragments' paths and schemas added; a fragment never
    replaces what the reference describes (a clash fails loudly)."""
    merged = dict(spec)
    paths = dict(spec["paths"])
    schemas = dict(spec["components"]["schemas"])
    for fragment in fragments:
        for name, target, extra in (
            ("path", paths, fragment["paths"]),
            ("schema", schemas, fragment["components"]["schemas"]),
        ):
            clash = sorted(set(target) & set(extra))
            if clash:
                raise ValueError(f"the fragment describes {name}(s) the reference has: {', '.join(clash)}")
            target.update(extra)
    merged["paths"] = paths
    merged["components"] = {**spec["components"], "schemas": schemas}
    return merged


def load_fragments() -> list[dict[str, Any]]:
    import yaml  # only needed to regenerate and in the tests

    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in FRAGMENTS]


def derive_rules(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the sandbox needs from the description, as plain JSON."""
    schemas = spec["components"]["schemas"]
    operations = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = [_parameter(raw, schemas) for raw in operation.get("parameters", [])]
            body = operation.get("requestBody")
            body_schema = None
            if body is not None:
                body_schema = _resolve(body["content"]["application/json"]["schema"], schemas, ())
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "scopes": sorted(
                        {tuple(sorted(scopes)) for entry in operation.get("security", []) for scopes in entry.values()}
                    ),
                    "parameters": parameters,
                    "body": body_schema,
                    "body_required": bool(body and body.get("required")),
                }
            )
    return {"description": spec["info"].get("description", ""), "operations": operations}


def _parameter(raw: Mapping[str, Any], schemas: Mapping[str, Any]) -> dict[str, Any]:
    schema = _resolve(raw["schema"], schemas, ())
    # `format: csv` is Swagger 2's `collectionFormat: csv` left in a string schema: a list too.
    csv = schema.get("format") == "csv"
    if csv:
        del schema["format"]
    if raw["in"] == "query" and (csv or _COMMA_LIST.search(raw.get("description", ""))):
        # On these string parameters `maximum` is the most values the list takes ("up to 25 lists"):
        # a number bound means nothing on a string.
        most = schema.pop("maximum", None)
        schema = {"type": "array", "items": schema, **({"maxItems": most} if most is not None else {})}
    return {"name": raw["name"], "in": raw["in"], "required": bool(raw.get("required")), "schema": schema}


def _resolve(node: Mapping[str, Any], schemas: Mapping[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in seen:
            raise ValueError(f"schema {name} refers to itself: not supported")
        return _resolve(schemas[name], schemas, (*seen, name))
    resolved: dict[str, Any] = {}
    for key, value in node.items():
        if key in _PROSE or key.startswith("x-"):
            continue
        if key not in _CONSTRAINTS:
            raise ValueError(f"schema keyword {key!r} is not supported by the sandbox's validator")
        if key == "format" and value not in _KNOWN_FORMATS:
            raise ValueError(f"schema format {value!r} is not supported by the sandbox's validator")
        if key == "properties":
            resolved[key] = {name: _resolve(child, schemas, seen) for name, child in value.items()}
        elif key == "items":
            resolved[key] = _resolve(value, schemas, seen)
        else:
            resolved[key] = list(value) if isinstance(value, list) else value
    return resolved


# Compiling schemas into checks

Check = Callable[[Any], None]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "an array",
    "object": "an object",
}


# Exact types: bool is an int in Python, not in JSON.
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _is_type(kind: str) -> Callable[[Any], bool]:
    expected = _PYTHON_TYPES[kind]
    return lambda value: type(value) in expected


def is_uuid(text: str) -> bool:
    return _UUID.fullmatch(text) is not None


def is_date_time(text: str) -> bool:
    if _DATE_TIME.fullmatch(text) is None:
        return False
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


_FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "uuid": (is_uuid, "must be a UUID"),
    "date-time": (is_date_time, "must be an ISO-8601 date-time"),
}


def compile_schema(schema: Mapping[str, Any], *, lengths: bool = True) -> Check:
    """A check raising `Invalid` for a value the schema refuses. `lengths=False` leaves out string
    lengths (an import checks those per row, see `ImportRows`)."""
    kind = schema.get("type")
    if kind == "object" and "enum" not in schema:
        # One call per object, its type checked with its properties: an import has 40,000 rows.
        return _object_check(schema, lengths)
    steps = [*_type_steps(kind), *_enum_steps(schema)]
    kind_steps = _KIND_STEPS.get(kind) if kind is not None else None
    if kind_steps is not None:
        steps += kind_steps(schema, lengths)
    if len(steps) == 1:
        return steps[0]

    def check(value: Any) -> None:
        for step in steps:
            step(value)

    return check


def _type_steps(kind: str | None) -> list[Check]:
    if kind is None:
        return []
    matches, expected = _is_type(kind), _TYPE_NAMES[kind]

    def check_type(value: Any) -> None:
        if not matches(value):
            raise Invalid(f"must be {expected}")

    return [check_type]


def _enum_steps(schema: Mapping[str, Any]) -> list[Check]:
    if "enum" not in schema:
        return []
    allowed = frozenset(schema["enum"])
    shown = ", ".join(str(value) for value in schema["enum"])

    def check_enum(value: Any) -> None:
        if value not in allowed:
            raise Invalid(f"must be one of {shown}, not {value!r}")

    return [check_enum]


def _string_steps(schema: Mapping[str, Any], lengths: bool) -> list[Check]:
    steps: list[Check] = []
    longest, shortest = schema.get("maxLength"), schema.get("minLength")
    if lengths and longest is not None:

        def check_longest(value: str) -> None:
            if len(value) > longest:
                raise Invalid(f"must be at most {longest} characters long, not {len(value)}")

        steps.append(check_longest)
    if lengths and shortest is not None:

        def check_shortest(value: str) -> None:
            if len(value) < shortest:
                raise Invalid(f"must be at least {shortest} characters long")

        steps.append(check_shortest)
    if schema.get("format") in _FORMATS:
        valid, complaint = _FORMATS[schema["format"]]

        def check_format(value: str) -> None:
            if not valid(value):
                raise Invalid(f"{complaint}, not {value[:100]!r}")

        steps.append(check_format)
    return steps


def _number_steps(schema: Mapping[str, Any]) -> list[Check]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None and high is None:
        return []

    if low is not None and high is not None:
        expected = f"between {low} and {high}"
    else:
        expected = f"at least {low}" if low is not None else f"at most {high}"

    def check_range(value: float) -> None:
        if (low is not None and value < low) or (high is not None and value > high):
            raise Invalid(f"must be {expected}")

    return [check_range]


def _array_steps(schema: Mapping[str, Any], lengths: bool) -> list[Check]:
    steps: list[Check] = []
    most, fewest = schema.get("maxItems"), schema.get("minItems")
    if most is not None or fewest is not None:

        def check_count(value: list[Any]) -> None:
            if most is not None and len(value) > most:
                raise Invalid(f"accepts at most {most} items, not {len(value):,}")
            if fewest is not None and len(value) < fewest:
                raise Invalid(f"needs at least {fewest} item{'s' if fewest > 1 else ''}")

        steps.append(check_count)
    if "items" in schema:
        item_check = compile_schema(schema["items"], lengths=lengths)

        def check_items(value: list[Any]) -> None:
            for index, item in enumerate(value):
                try:
                    item_check(item)
                except Invalid as error:
                    error.path.insert(0, index)
                    raise

        steps.append(check_items)
    return steps


def _object_check(schema: Mapping[str, Any], lengths: bool) -> Check:
    # The `simple` properties are checked inline, without a call per value (see `_property_checks`).
    simple, nested = _property_checks(schema, lengths)
    required = tuple(schema.get("required", ()))
    properties = schema.get("properties", {})

    def check_object(value: Any) -> None:
        if type(value) is not dict:
            raise Invalid("must be an object")
        for name in required:
            if name not in value:
                raise Invalid("is required", name)
        for name, item in value.items():
            if item is None:
                # The description marks nothing nullable: null is a value of the wrong type, as
                # CTCT's validation has it (leave a field out to say "nothing here").
                raise Invalid("must not be null", name)
            expected = simple.get(name)
            if expected is None:
                check = nested.get(name)
                if check is not None:
                    check(item)
            elif type(item) not in expected:
                raise Invalid(f"must be {_TYPE_NAMES[properties[name]['type']]}", name)

    return check_object


def _property_checks(schema: Mapping[str, Any], lengths: bool) -> tuple[dict[str, tuple[type, ...]], dict[str, Check]]:
    """The Python types of the properties that want only a type, and the checks of the others.

    Most properties want only a type (all of an import row's, when lengths are checked per row):
    those are checked inline, without a call per value — 40,000 rows have 160,000 of them."""
    simple: dict[str, tuple[type, ...]] = {}
    nested: dict[str, Check] = {}
    for name, child in schema.get("properties", {}).items():
        constraints = set(child) - ({"type"} if lengths else {"type", "maxLength", "minLength"})
        if "type" in child and not constraints:
            simple[name] = _PYTHON_TYPES[child["type"]]
        else:
            nested[name] = _at_property(name, compile_schema(child, lengths=lengths))
    return simple, nested


def _at_property(name: str, check: Check) -> Check:
    """`check`, its refusals naming the property they are about."""

    def check_property(value: Any) -> None:
        try:
            check(value)
        except Invalid as error:
            error.path.insert(0, name)
            raise

    return check_property


# The steps of each kind of schema besides its type and its enum.
_KIND_STEPS: dict[str, Callable[[Mapping[str, Any], bool], list[Check]]] = {
    "string": _string_steps,
    "integer": lambda schema, _lengths: _number_steps(schema),
    "number": lambda schema, _lengths: _number_steps(schema),
    "array": _array_steps,
    "object": lambda schema, lengths: [_object_check(schema, lengths)],
}


# Query and path parameters arrive as text


def _parse_query_value(schema: Mapping[str, Any], raw: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d+", raw.strip()):
            raise Invalid("must be an integer")
        return int(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise Invalid("must be a number") from None
    if kind == "boolean":
        if raw.lower() not in {"true", "false"}:
            raise Invalid("must be true or false")
        return raw.lower() == "true"
    return raw


def _compile_parameter(schema: Mapping[str, Any]) -> Callable[[str], None]:
    if schema.get("type") == "array":
        item_schema = schema["items"]
        check_list = compile_schema({key: value for key, value in schema.items() if key != "items"})
        check_item = compile_schema(item_schema)

        def check_comma_list(raw: str) -> None:
            # Nothing after `=` is the empty list, unless the values come from an enum (the
            # description's string with `format: csv`: "" is none of its values); an empty value
            # between commas is no value at all.
            values = [part.strip() for part in raw.split(",")] if raw.strip() or "enum" in item_schema else []
            if any(not value for value in values):
                raise Invalid("must not hold an empty value")
            check_list(values)
            for value in values:
                check_item(_parse_query_value(item_schema, value))

        return check_comma_list
    check_value = compile_schema(schema)

    def check_single(raw: str) -> None:
        check_value(_parse_query_value(schema, raw))

    return check_single


@dataclass(frozen=True)
class Operation:
    """One operation of the description, compiled."""

    method: str
    path: str
    # Alternatives, each a set of scopes that together suffice (the description's `security`).
    scopes: tuple[frozenset[str], ...]
    path_parameters: Mapping[str, Callable[[str], None]]
    query_parameters: Mapping[str, Callable[[str], None]]
    required_query: tuple[str, ...]
    body: Check | None
    body_required: bool

    @property
    def resource(self) -> str:
        """`contacts`, `contact_lists`, `activities`, `account`: the prefix of CTCT's error keys."""
        return self.path.strip("/").split("/")[0]

    def missing_scope(self, granted: Iterable[str]) -> str | None:
        """The scope(s) the token lacks for this operation, or None when it may call it."""
        have = set(granted)
        if not self.scopes or any(alternative <= have for alternative in self.scopes):
            return None
        return " ".join(sorted(self.scopes[0] - have))

    def check_path(self, values: Mapping[str, str]) -> None:
        for name, check in self.path_parameters.items():
            _check_text(check, name, values.get(name, ""))

    def check_query(self, query: Mapping[str, str]) -> None:
        for name in self.required_query:
            if name not in query:
                raise Invalid("is required", name)
        for name, raw in query.items():
            check = self.query_parameters.get(name)
            # Undeclared parameters (`cursor`, the sandbox's paging token as CTCT's) are not checked.
            if check is not None:
                _check_text(check, name, raw)

    def check_body(self, body: Any) -> None:
        if body is None:
            if self.body_required:
                raise Invalid("is required: send a JSON object")
            return
        if self.body is not None:
            self.body(body)


def _check_text(check: Callable[[str], None], name: str, raw: str) -> None:
    try:
        check(raw)
    except Invalid as error:
        error.path.insert(0, name)
        raise


def compile_operation(rules: Mapping[str, Any]) -> Operation:
    parameters = rules["parameters"]
    return Operation(
        method=rules["method"],
        path=rules["path"],
        scopes=tuple(frozenset(alternative) for alternative in rules["scopes"]),
        path_parameters={p["name"]: _compile_parameter(p["schema"]) for p in parameters if p["in"] == "path"},
        query_parameters={p["name"]: _compile_parameter(p["schema"]) for p in parameters if p["in"] == "query"},
        required_query=tuple(p["name"] for p in parameters if p["in"] == "query" and p["required"]),
        body=compile_schema(rules["body"], lengths=not _checks_rows(rules)) if rules["body"] else None,
        body_required=rules["body_required"],
    )


def _checks_rows(rules: Mapping[str, Any]) -> bool:
    # An import is the one body whose string lengths are checked row by row (bad rows are reported
    # in the activity, CTCT's way), not for the request as a whole.
    return rules["method"] == "POST" and rules["path"] == IMPORT_PATH


@functools.cache
def _rules() -> dict[tuple[str, str], dict[str, Any]]:
    rules = json.loads(RULES_FILE.read_text(encoding="utf-8"))
    return {(raw["method"], raw["path"]): raw for raw in rules["operations"]}


@functools.cache
def operations() -> dict[tuple[str, str], Operation]:
    """The description's operations by (method, path template), compiled once per process."""
    return {key: compile_operation(raw) for key, raw in _rules().items()}


# Import rows, checked as POST /contacts checks a contact, with the import's own limits

IMPORT_PATH = "/activities/contacts_json_import"
CUSTOM_FIELD_PREFIX = "cf:"
MAX_CUSTOM_FIELDS = 25


# One "@", no spaces, and a domain of dot-separated labels with at least one dot.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def is_email(address: str) -> bool:
    """The sandbox's address syntax, the same for every endpoint (each has its own length limit)."""
    return _EMAIL.fullmatch(address) is not None


@dataclass(frozen=True)
class RowProblem:
    """Why one import row is not imported. `correctable` follows the description: an invalid email
    address format is a correctable error (`correctable_count`), anything else is not (`error_count`)."""

    message: str
    correctable: bool = False


class ImportRows:
    """Checks import rows with the limits of `import_data[]` in the description."""

    def __init__(self, row_schema: Mapping[str, Any]) -> None:
        properties = row_schema.get("properties", {})
        self.max_lengths: dict[str, int] = {
            name: child["maxLength"] for name, child in properties.items() if "maxLength" in child
        }
        # The description names the custom-field column `cf:custom_field_name`: it stands for every `cf:*` key.
        placeholder = next((name for name in properties if name.startswith(CUSTOM_FIELD_PREFIX)), None)
        self.custom_field_length = self.max_lengths.pop(placeholder, 255) if placeholder else 255

    def problem(self, row: Mapping[str, Any]) -> RowProblem | None:
        """None for a row the import takes; otherwise what is wrong, naming the field."""
        custom = 0
        lengths = self.max_lengths
        for name, value in row.items():
            limit = lengths.get(name)
            if limit is None and name.startswith(CUSTOM_FIELD_PREFIX):
                custom += 1
                if value is not None and type(value) is not str:
                    return RowProblem(f"{name} must be a string")
                limit = self.custom_field_length
            if limit is not None and type(value) is str and len(value) > limit:
                return RowProblem(f"{name} must be at most {limit} characters long, not {len(value)}")
        if custom > MAX_CUSTOM_FIELDS:
            return RowProblem(f"a contact has at most {MAX_CUSTOM_FIELDS} custom fields, not {custom}")
        email = row.get("email")
        if isinstance(email, str) and email.strip():
            if not is_email(email.strip()):
                return RowProblem(f"email {email[:100]!r} is not a valid email address", correctable=True)
            return None
        if row.get("sms_number"):
            return RowProblem("a contact with an sms_number and no email is not emulated by the sandbox (no SMS)")
        return RowProblem("needs an email or an sms_number", correctable=True)


@functools.cache
def import_rows() -> ImportRows:
    return ImportRows(_rules()[("POST", IMPORT_PATH)]["body"]["properties"]["import_data"]["items"])


def main(argv: list[str]) -> int:
    """Writes `spec_requests.json` from the reference description named on the command line."""
    import yaml  # only needed to regenerate

    if len(argv) != 1:
        print("usage: python -m ctct.sandbox.validation PATH/TO/ctct-v3-openapi.yaml", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as stream:
        spec = with_fragments(yaml.safe_load(stream), load_fragments())
    RULES_FILE.write_text(json.dumps(derive_rules(spec), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {RULES_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
