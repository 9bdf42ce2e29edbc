"""Every setting of the console in one place.

Order of precedence: environment variables, then `.streamlit/secrets.toml` (section `[ctct]`),
then the defaults below. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'console.db'}"

# Local parts CTCT's sending layer never mails (see SPEC §3 and the CTCT role-address notes).
DEFAULT_ROLE_ADDRESSES: tuple[str, ...] = (
    "abuse",
    "admin",
    "administrator",
    "all",
    "billing",
    "contact",
    "contactus",
    "donotreply",
    "enquiries",
    "enquiry",
    "everyone",
    "ftp",
    "help",
    "helpdesk",
    "hostmaster",
    "info",
    "inquiries",
    "inquiry",
    "investorrelations",
    "jobs",
    "marketing",
    "media",
    "noc",
    "noreply",
    "office",
    "postmaster",
    "privacy",
    "remove",
    "request",
    "root",
    "sales",
    "security",
    "spam",
    "subscribe",
    "support",
    "usenet",
    "users",
    "uucp",
    "webmaster",
    "www",
)


def _secrets_file_settings(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        secrets = tomllib.load(handle)
    section = secrets.get("ctct", {})
    return {str(key).upper(): str(value) for key, value in section.items()}


DEFAULT_API_BASE = "https://api.cc.email/v3"
DEFAULT_AUTH_BASE = "https://authz.constantcontact.com/oauth2/default/v1"
DEFAULT_REDIRECT_URI = "http://localhost:8501/"
# SPEC §5: the account summary needs account_read, everything else contact_data, refresh offline_access.
SCOPES = "account_read contact_data offline_access"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    role_addresses: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_ROLE_ADDRESSES))
    demo_mode: bool = False
    api_base: str = DEFAULT_API_BASE
    auth_base: str = DEFAULT_AUTH_BASE
    client_id: str = "customer-focus-console"
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    rate_limit: float = 4.0
    daily_quota: int = 10_000
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: Path = DATA_DIR / "secret.key"
    mass_removal_percent: float = 20.0
    mass_removal_min_list: int = 10
    # Rows the Email Lists grid holds at a time; filters, Select all and counts cover every row.
    grid_page_rows: int = 500
    # Hours a preview may read CTCT incrementally before a full read verifies the mirror again.
    full_read_hours: float = 24.0

    @property
    def is_real_ctct(self) -> bool:
        """True when OAuth points at Constant Contact itself rather than a sandbox."""
        return self.auth_base.rstrip("/") == DEFAULT_AUTH_BASE

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        file_values = _secrets_file_settings(secrets_path or PROJECT_ROOT / ".streamlit" / "secrets.toml")

        def value(name: str) -> str | None:
            return env.get(name) or file_values.get(name.removeprefix("CTCT_")) or file_values.get(name)

        given = {field.name: value(f"CTCT_{field.name.upper()}") for field in fields(cls)}
        return cls().with_overrides(**{name: text for name, text in given.items() if text})

    def with_overrides(self, **values: object) -> Settings:
        """These settings with some replaced by field name; text is parsed as in the environment
        (`role_addresses="info,sales"`, `rate_limit="4"`). An unknown name is a TypeError."""
        known = {field.name for field in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        parsed: dict[str, Any] = {name: _parsed(name, value) for name, value in values.items()}
        return replace(self, **parsed)


def _parsed(name: str, value: Any) -> object:
    if name == "role_addresses":
        parts = value.split(",") if isinstance(value, str) else value
        return frozenset(str(part).strip().lower() for part in parts if str(part).strip())
    if name == "demo_mode":
        return value.strip().lower() in {"1", "true", "yes"} if isinstance(value, str) else bool(value)
    if name in {"api_base", "auth_base"}:
        return str(value).rstrip("/")
    if name in {"rate_limit", "mass_removal_percent", "full_read_hours"}:
        return float(value)
    if name in {"daily_quota", "mass_removal_min_list", "grid_page_rows"}:
        return int(value)
    if name == "secret_key_file":
        return Path(value)
    return value
