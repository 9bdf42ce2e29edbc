"""`ctct.start_sandbox()`: the sandbox as a process started from Python, and its seeding helper."""

import math
import socket

import httpx
import pandas as pd
import pytest

import ctct
from ctct.sandbox.process import free_port


def test_a_started_sandbox_answers_takes_a_frame_as_seed_and_stops():
    sandbox = ctct.start_sandbox(activity_seconds=0.1)
    try:
        assert sandbox.running and sandbox.api_base == f"{sandbox.url}/v3"
        frame = pd.DataFrame(
            {
                "email": ["ann@acme.example", "bo@acme.example"],
                "first_name": ["Ann", math.nan],  # an empty cell read by pandas
                "lists": ["Newsletter; Spring Promo", ["Newsletter"]],
            }
        )
        assert sandbox.seed(frame) == {"account": "demo", "lists_created": 2, "contacts_created": 2}
        with pytest.raises(ValueError, match=r"refused /_sandbox/seed \(HTTP 400\): contacts\[0\].email .* already"):
            sandbox.seed([{"email": "ann@acme.example"}])
        with pytest.raises(ValueError, match="row 0, column 'first_name': 7 is not text"):
            sandbox.seed(pd.DataFrame({"email": ["cy@acme.example"], "first_name": [7]}))
        assert sandbox.stats()["requests_total"] == 0  # seeding is not an API request
    finally:
        sandbox.stop()
    assert not sandbox.running and "(stopped;" in repr(sandbox)


def test_a_busy_port_is_refused_rather_than_answered_by_someone_else():
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(RuntimeError, match=f"port {port} on 127.0.0.1 is in use"):
            ctct.start_sandbox(port=port)


def test_a_sandbox_that_cannot_start_says_why():
    with pytest.raises(RuntimeError, match=r"exited with code 2:\n(.|\n)*invalid int value: 'many'"):
        ctct.start_sandbox(daily_quota="many")  # type: ignore[arg-type]


def test_a_sandbox_restarts_on_the_port_it_just_left(tmp_path):
    state = tmp_path / "sandbox.json"
    first = ctct.start_sandbox(state_file=state)
    port = int(first.url.rsplit(":", 1)[1])
    with httpx.Client() as keep_alive:  # a connection the server closes first: its port lingers in TIME_WAIT
        keep_alive.get(first.url + "/_sandbox/stats")
        first.stop()
    with ctct.start_sandbox(port=port, state_file=state) as second:
        assert second.url == first.url and second.running
