"""A stateful emulator of the Constant Contact v3 API and its OAuth server (SPEC §9)."""

from ctct.sandbox.app import create_app
from ctct.sandbox.config import DEMO_ACCOUNT, SandboxAccount, SandboxConfig

__all__ = ["DEMO_ACCOUNT", "SandboxAccount", "SandboxConfig", "create_app"]
