"""The Python-session tests run as a consultant's machine would, minus its console settings:
no CTCT_* variable from the shell (a production redirect URI, say) reaches them."""

from __future__ import annotations

import os

import pytest

KEPT = {"CTCT_TEST_DATABASE_URL", "CTCT_SECRET_KEY_FILE"}


@pytest.fixture(autouse=True)
def no_console_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CTCT_") and name not in KEPT:
            monkeypatch.delenv(name)
