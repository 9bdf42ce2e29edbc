"""Schemathesis's own CLI (`st run`) against a sandbox process over HTTP, and its NDJSON report read back as one
record per failed check, with the request that reproduces it.

The run is bounded and repeatable: a fixed seed, a fixed number of examples per operation, one worker (requests in
a fixed order) and no example database carried over from an earlier run. The sandbox first gets a few lists and
contacts (`/_sandbox/seed`), and schemathesis is told their ids: the spec's examples name CTCT's own demo ids, which
no sandbox account has, so without them nearly every import, membership change and sign-up would stop at "list not
found" and their success responses would never be checked against the spec.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

SEED = 20261201
KEPT_LISTS = [f"Contract fixture list {number}" for number in range(1, 13)]
# Lists and contacts only the deleting operations get: deleted, they are not missed by the other operations.
DOOMED_LISTS = [f"Contract fixture list to delete {number}" for number in range(1, 13)]
KEPT_CONTACTS = [f"contract.fixture{number}@example.com" for number in range(1, 21)]
DOOMED_CONTACTS = [f"contract.fixture.to.delete{number}@example.com" for number in range(1, 11)]
DELETING_OPERATIONS = frozenset(
    {
        "DELETE /contact_lists/{list_id}",
        "POST /activities/list_delete",
        "DELETE /contacts/{contact_id}",
        "POST /activities/contact_delete",
    }
)
# How often a generated id is swapped for a seeded one: often enough to reach the success paths, not so often that
# unknown ids (the 404 answers) go untested.
SEEDED_ID_PROBABILITY = 0.6
# Request fields, by name, that hold list ids or contact ids (in paths, bodies and the spec's examples).
LIST_ID_FIELDS = frozenset({"list_id", "list_ids", "list_memberships"})
CONTACT_ID_FIELDS = frozenset({"contact_id", "contact_ids"})
ANSWER_LIMIT = 300  # characters of a response body kept with its failure
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Where in a request schemathesis may put a seeded id (its `[parameters]` binding keys), and of which kind.
BINDINGS = {
    "path.list_id": "list",
    "body.list_ids[*]": "list",
    "body.list_memberships[*]": "list",
    "body.source.list_ids[*]": "list",
    "path.contact_id": "contact",
    "body.contact_ids[*]": "contact",
    "body.source.contact_ids[*]": "contact",
    "body.exclude.contact_ids[*]": "contact",
}


@dataclass(frozen=True)
class SeededIds:
    kept: dict[str, list[str]]  # "list" / "contact" -> ids
    doomed: dict[str, list[str]]


def seed_sandbox(base_url: str, token: str) -> SeededIds:
    """Puts the fixture lists and contacts into the demo account; returns the ids the sandbox gave them."""
    contacts = [
        {"email": email, "first_name": "Casey", "last_name": f"Fixture {number}", "lists": KEPT_LISTS[: 1 + number % 3]}
        for number, email in enumerate(KEPT_CONTACTS)
    ] + [{"email": email, "first_name": "Dana", "last_name": "Doomed"} for email in DOOMED_CONTACTS]
    body = {"lists": KEPT_LISTS + DOOMED_LISTS, "contacts": contacts}
    httpx.post(f"{base_url}/_sandbox/seed", json=body, timeout=30).raise_for_status()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base_url}/v3", headers=headers, timeout=30) as api:
        lists = api.get("/contact_lists", params={"limit": 100}).raise_for_status().json()["lists"]
        people = api.get("/contacts", params={"limit": 100}).raise_for_status().json()["contacts"]
    list_ids = {item["name"]: item["list_id"] for item in lists}
    contact_ids = {item["email_address"]["address"]: item["contact_id"] for item in people}
    return SeededIds(
        kept={"list": [list_ids[n] for n in KEPT_LISTS], "contact": [contact_ids[e] for e in KEPT_CONTACTS]},
        doomed={"list": [list_ids[n] for n in DOOMED_LISTS], "contact": [contact_ids[e] for e in DOOMED_CONTACTS]},
    )


def spec_with_seeded_examples(spec_file: Path, ids: SeededIds, target: Path) -> Path:
    """The spec, unchanged but for its example ids of lists and contacts, which become ids the sandbox holds.

    Only `example` values are touched — they are illustrations, not part of the contract: every schema, parameter
    and response stays as CTCT publishes it. Each operation gets seeded ids of its own, the deleting operations from
    their own pool, so an example that deletes does not take away what the other examples use.
    """
    with spec_file.open(encoding="utf-8") as stream:
        spec = yaml.safe_load(stream)
    # A request body's schema is a component: its examples belong to the operation that sends it.
    body_owners: dict[str, str] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                reference = media.get("schema", {}).get("$ref", "")
                body_owners[reference.rsplit("/", 1)[-1]] = f"{method.upper()} {path}"
    replacements: dict[tuple[str | None, str, str], str] = {}
    cycles = {
        (side, kind): itertools.cycle(values)
        for side, pools in (("kept", ids.kept), ("doomed", ids.doomed))
        for kind, values in pools.items()
    }

    def seeded(owner: str | None, kind: str, example_id: str) -> str:
        side = "doomed" if owner in DELETING_OPERATIONS else "kept"
        if (owner, kind, example_id) not in replacements:
            replacements[owner, kind, example_id] = next(cycles[side, kind])
        return replacements[owner, kind, example_id]

    def swap(example: Any, owner: str | None, name: str | None) -> Any:
        kind = "list" if name in LIST_ID_FIELDS else "contact" if name in CONTACT_ID_FIELDS else None
        if isinstance(example, str) and kind and UUID.fullmatch(example):
            return seeded(owner, kind, example)
        if isinstance(example, list):
            return [swap(item, owner, name) for item in example]
        if isinstance(example, dict):
            return {key: swap(value, owner, key) for key, value in example.items()}
        return example

    def walk(node: Any, owner: str | None, name: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, owner, name)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("name"), str) and "in" in node:  # a parameter: its name labels its example
            name = node["name"]
        for key, value in node.items():
            if key == "example":
                node[key] = swap(value, owner, name)
            elif key == "properties" and isinstance(value, dict):
                for property_name, schema in value.items():
                    walk(schema, owner, property_name)
            else:
                walk(value, owner, name)

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            walk(operation, f"{method.upper()} {path}", None)
    for schema_name, schema in spec.get("components", {}).get("schemas", {}).items():
        walk(schema, body_owners.get(schema_name), None)
    target.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def write_config(target: Path, token: str, ids: SeededIds) -> Path:
    """A schemathesis.toml: the bearer token (kept off the command line) and where seeded ids may be used — the
    deleting operations drawing from their own pool."""

    def bindings(side: str) -> list[str]:
        return [
            f'"{key}" = {{ dictionary = "{side}_{kind}_ids", probability = {SEEDED_ID_PROBABILITY} }}'
            for key, kind in BINDINGS.items()
        ]

    lines = ["[headers]", f"Authorization = {json.dumps('Bearer ' + token)}", ""]
    for side, pools in (("kept", ids.kept), ("doomed", ids.doomed)):
        for kind, values in pools.items():
            lines += [f"[dictionaries.{side}_{kind}_ids]", f"values = {json.dumps(values)}", ""]
    lines += ["[parameters]", *bindings("kept"), ""]
    lines += ["[[operations]]", f"include-name = {json.dumps(sorted(DELETING_OPERATIONS))}", ""]
    lines += ["[operations.parameters]", *bindings("doomed"), ""]
    # Schemathesis also reuses ids seen in responses (every list appears in GET /contact_lists): not for deleting.
    for phase in ("examples", "coverage", "fuzzing"):
        lines += [f"[operations.phases.{phase}.extra-data-sources]", "responses = false", ""]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    uri: str
    content_type: str | None
    body: str | None

    def as_curl(self) -> str:
        # The token stays a shell variable: the report shows no secret, and a reader pastes in a fresh one.
        parts = [f"curl -X {self.method}", '-H "Authorization: Bearer $TOKEN"']
        if self.content_type:
            parts.append(f"-H {shlex.quote('Content-Type: ' + self.content_type)}")
        if self.body is not None:
            parts.append(f"--data-raw {shlex.quote(self.body)}")
        parts.append(shlex.quote(self.uri))
        return " ".join(parts)


@dataclass(frozen=True)
class CheckFailure:
    """One failed check on one request: which check, on which operation of the spec, what the sandbox answered."""

    check: str
    code: str
    title: str
    message: str
    operation: str
    status: int | None
    phase: str
    request: RecordedRequest
    answer: str  # the start of the response body: the sandbox's own reason, often

    @property
    def kind(self) -> tuple[str, str, int | None]:
        return self.check, self.operation, self.status


@dataclass
class SchemathesisRun:
    command: list[str]
    exit_code: int | None  # None: killed at the time limit
    seconds: float
    output: str
    report: dict[str, Any]
    failures: list[CheckFailure] = field(default_factory=list)
    # Per operation of the spec (`GET /contacts`), how many answers had each status.
    statuses: dict[str, collections.Counter[int | None]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Per phase, in the order they ran: where the time went (shown when a run is slow or killed).
    phases: dict[str, PhaseTime] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return int(self.report.get("test_cases", {}).get("generated", 0))

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    def phase_times(self) -> str:
        return ", ".join(f"{name} {times.describe()}" for name, times in self.phases.items()) or "no phase started"


@dataclass
class PhaseTime:
    started: float
    finished: float | None = None
    scenarios: int = 0

    def describe(self) -> str:
        if self.finished is None:
            return f"unfinished after {self.scenarios} scenarios"
        return f"{self.finished - self.started:.0f} s ({self.scenarios} scenarios)"


def run_schemathesis(
    spec_file: Path, api_base: str, config_file: Path, report_dir: Path, *, max_examples: int, timeout: float
) -> SchemathesisRun:
    """`st run` in a subprocess with every check and every phase on; its reports go to `report_dir`."""
    ndjson, summary = report_dir / "events.ndjson", report_dir / "summary.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        str(spec_file),
        "--url",
        api_base,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--mode",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        # Every failure of an operation, not only its first: a listed difference found first must not hide another.
        "--continue-on-failure",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--report",
        "ndjson,json",
        "--report-ndjson-path",
        str(ndjson),
        "--report-json-path",
        str(summary),
        "--no-color",
    ]
    # Hypothesis changes its defaults when it sees CI set (derandomized, for one): the run must not depend on it.
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    started = time.monotonic()
    try:
        finished = subprocess.run(
            command, cwd=report_dir, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        exit_code, output = finished.returncode, finished.stdout + finished.stderr
    except subprocess.TimeoutExpired as expired:  # the child is killed by then; what it reported so far is kept
        exit_code, output = None, _text(expired.stdout) + _text(expired.stderr)
    seconds = time.monotonic() - started
    # A killed run leaves its summary empty (schemathesis writes it at the end).
    report = json.loads(summary.read_text(encoding="utf-8")) if exit_code is not None and summary.is_file() else {}
    run = SchemathesisRun(command, exit_code, seconds, output, report)
    if ndjson.is_file():
        _read_events(ndjson, run)
    run.errors += [f"{error['title']} (x{error['count']})" for error in report.get("errors", [])]
    return run


def _read_events(path: Path, run: SchemathesisRun) -> None:
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:  # the last line of a run killed while writing it
                break
            if "PhaseStarted" in event:
                phase = event["PhaseStarted"]["phase"]["name"]
                run.phases[phase] = PhaseTime(started=event["PhaseStarted"]["timestamp"])
            elif "PhaseFinished" in event:
                phase = event["PhaseFinished"]["phase"]["name"]
                if phase in run.phases:
                    run.phases[phase].finished = event["PhaseFinished"]["timestamp"]
            elif "ScenarioFinished" in event:
                if run.phases:
                    run.phases[next(reversed(run.phases))].scenarios += 1
                _read_scenario(event["ScenarioFinished"], run)
            elif "NonFatalError" in event:
                error = event["NonFatalError"]
                run.errors.append(f"{error.get('label', '?')}: {json.dumps(error.get('value'))[:500]}")


def _read_scenario(scenario: dict[str, Any], run: SchemathesisRun) -> None:
    recorder = scenario["recorder"]
    interactions = recorder.get("interactions", {})
    for case_id, interaction in interactions.items():
        case = recorder["cases"][case_id]["value"]
        operation = f"{case['method']} {case['path']}"
        status = (interaction.get("response") or {}).get("status_code")
        run.statuses.setdefault(operation, collections.Counter())[status] += 1
    for case_id, checks in recorder.get("checks", {}).items():
        interaction = interactions.get(case_id, {})
        for check in checks:
            if check["status"] != "failure":
                continue
            failure = check["failure_info"]["failure"]
            run.failures.append(
                CheckFailure(
                    check=check["name"],
                    code=failure.get("code", ""),
                    title=failure.get("title", ""),
                    message=failure.get("message", ""),
                    operation=failure.get("operation") or recorder.get("label", "?"),
                    status=(interaction.get("response") or {}).get("status_code"),
                    phase=scenario.get("phase", "?"),
                    request=_recorded_request(interaction.get("request") or {}),
                    answer=_text((interaction.get("response") or {}).get("content"))[:ANSWER_LIMIT],
                )
            )


def _recorded_request(request: dict[str, Any]) -> RecordedRequest:
    headers = {name.lower(): values for name, values in (request.get("headers") or {}).items()}
    content_type = headers.get("content-type")
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else None
    body = request.get("body")
    text = None if body is None else _text(body)
    return RecordedRequest(request.get("method", "?"), request.get("uri", "?"), content_type, text)


def _text(content: Any) -> str:
    """A body as the NDJSON report holds it (text, or bytes as `{"$base64": …}`), or a killed child's
    output as `subprocess` hands it over (bytes, whatever `text=True` asked for), as text."""
    if isinstance(content, dict) and "$base64" in content:
        content = base64.b64decode(content["$base64"])
    if isinstance(content, bytes):
        return content.decode("utf-8", errors="backslashreplace")
    return "" if content is None else str(content)


def grouped(failures: list[CheckFailure]) -> Iterator[tuple[tuple[str, str, int | None], list[CheckFailure]]]:
    """Failures by kind (check, operation, status), each group's shortest reproducing request first."""
    groups: dict[tuple[str, str, int | None], list[CheckFailure]] = {}
    for failure in failures:
        groups.setdefault(failure.kind, []).append(failure)
    for kind in sorted(groups, key=lambda kind: (kind[0], kind[1], kind[2] or 0)):
        yield kind, sorted(groups[kind], key=lambda failure: len(failure.request.as_curl()))
