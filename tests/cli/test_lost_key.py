"""SPEC §11 / issue 13: the key that sealed the stored tokens is lost or wrong. `status`, every
command and the console say so, naming the key actually used — no command makes a new key that
would hide the loss — and activating again mends it. Real processes against the sandbox server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from ctct.sandbox.process import running_sandbox

ROOT = Path(__file__).resolve().parents[2]
LOST = "the key that encrypted the stored tokens is missing or wrong: activate again"


def ctct(env, *args):
    done = subprocess.run(
        [sys.executable, "-m", "ctct", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def activated(sqlite_url, tmp_path):
    key_file = tmp_path / "keys" / "console.key"  # not data/secret.key: messages must name this one
    with running_sandbox() as url:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CTCT_")} | {
            "CTCT_DATABASE_URL": sqlite_url,
            "CTCT_API_BASE": f"{url}/v3",
            "CTCT_AUTH_BASE": f"{url}/oauth2/default/v1",
            "CTCT_REDIRECT_URI": "http://127.0.0.1:8501/",
            "CTCT_SECRET_KEY_FILE": str(key_file),
        }
        assert not key_file.exists()
        assert ctct(env, "status")[0] == 0 and not key_file.exists()  # nothing to seal yet, no key
        code, _, err = ctct(env, "activate", "--yes")
        assert code == 0, err
        assert key_file.exists()
        yield env, key_file


def test_a_lost_key_file_is_named_everywhere_and_never_silently_replaced(activated):
    env, key_file = activated
    key_file.unlink()
    code, out, _ = ctct(env, "status")
    assert code == 0
    assert (
        out.splitlines()[0]
        == f"Inactive: {LOST} (key file {key_file.resolve()} was not found) (python -m ctct activate)"
    )
    assert "data/secret.key" not in out
    status = json.loads(ctct(env, "status", "--json")[1])
    assert status["active"] is False and str(key_file.resolve()) in status["key_error"]
    for command in (["plan", "push"], ["sync", "pull", "--yes"]):
        code, out, err = ctct(env, *command)
        assert code == 1, (command, out, err)
        assert err.strip() == f"error: {LOST} (key file {key_file.resolve()} was not found)"
        assert not key_file.exists(), f"{command} made a new key"

    # The console says the same, in the sidebar, on Settings and on Synchronize.
    for name, value in env.items():
        os.environ[name] = value
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        app.run()
        assert any("cannot be opened" in block.value for block in app.sidebar.error)
        app.switch_page("views/settings_ctct.py").run()
        assert any(str(key_file.resolve()) in block.value.replace("\\", "") for block in app.main.error)
        # Activating again is offered — a button: viewing the page must not make a new key.
        assert app.button(key="settings_activate_again_button")
        assert not key_file.exists()
        app.button(key="settings_activate_again_button").click().run()
        assert any("Activate Constant Contact" in block.value for block in app.main.markdown)
        assert key_file.exists()  # asked for: the new sign-in is sealed with a new key
        key_file.unlink()  # back to the lost key, for the checks below
        app.switch_page("views/synchronize.py").run()
        assert any("activate again" in block.value for block in app.main.error)
        assert not key_file.exists()
    finally:
        for name in env:
            os.environ.pop(name, None)

    # Activating again makes a new key and mends the connection.
    code, _, err = ctct(env, "activate", "--yes")
    assert code == 0, err
    assert key_file.exists()
    code, out, _ = ctct(env, "status")
    assert out.startswith("Active: ")
    assert ctct(env, "sync", "pull", "--yes")[0] == 0


def test_a_wrong_key_is_named_and_deactivation_still_works(activated):
    env, key_file = activated
    key_file.write_bytes(Fernet.generate_key())
    code, out, _ = ctct(env, "status")
    assert f"{LOST} (key file {key_file.resolve()} does not open them)" in out
    code, _, err = ctct(env, "plan", "pull")
    assert code == 1 and "does not open them" in err
    # With CTCT_SECRET_KEY set, that is the key the message names.
    code, out, _ = ctct(env | {"CTCT_SECRET_KEY": Fernet.generate_key().decode()}, "status")
    assert f"{LOST} (CTCT_SECRET_KEY does not open them)" in out
    # Deactivating needs no key: the tokens are deleted here, and the lists with them.
    code, out, err = ctct(env, "deactivate", "--yes")
    assert code == 0, err
    assert ctct(env, "status")[1].startswith("Not connected")
    assert json.loads(ctct(env, "lists", "--json")[1]) == []
