"""The `openapi_spec` fixture: the CTCT v3 OpenAPI description, or a skip when the file is not there."""

from __future__ import annotations

import pytest
from openapi_core import OpenAPI

from tests.sandbox.openapi_contract import OPENAPI_FILE, load_spec

OPENAPI_SKIP = "OpenAPI contract tests skipped: ../shared/reference/ctct-v3-openapi.yaml not found"


@pytest.fixture(scope="session")
def openapi_spec() -> OpenAPI:
    if not OPENAPI_FILE.is_file():
        pytest.skip(OPENAPI_SKIP)
    return load_spec()
