"""Every setting of the console in one place.

Order of precedence: environment variables, then `.streamlit/secrets.toml` (section `[ctct]`),
then the defaults below. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
SCOPES = "contact_data offline_access"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    role_addresses: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_ROLE_ADDRESSES))
    demo_mode: bool = False
    api_base: str = DEFAULT_API_BASE
    auth_base: str = DEFAULT_AUTH_BASE
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    rate_limit: float = 4.0
    daily_quota: int = 10_000
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: Path = DATA_DIR / "secret.key"
    mass_removal_percent: float = 20.0
    mass_removal_min_list: int = 10

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

        roles = value("CTCT_ROLE_ADDRESSES")
        return cls(
            database_url=value("CTCT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            role_addresses=(
                frozenset(part.strip().lower() for part in roles.split(",") if part.strip())
                if roles
                else frozenset(DEFAULT_ROLE_ADDRESSES)
            ),
            demo_mode=(value("CTCT_DEMO_MODE") or "").lower() in {"1", "true", "yes"},
            api_base=(value("CTCT_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
            auth_base=(value("CTCT_AUTH_BASE") or DEFAULT_AUTH_BASE).rstrip("/"),
            client_id=value("CTCT_CLIENT_ID") or "customer-focus-console",
            client_secret=value("CTCT_CLIENT_SECRET"),
            redirect_uri=value("CTCT_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
            rate_limit=float(value("CTCT_RATE_LIMIT") or 4),
            daily_quota=int(value("CTCT_DAILY_QUOTA") or 10_000),
            secret_key=value("CTCT_SECRET_KEY"),
            secret_key_file=Path(value("CTCT_SECRET_KEY_FILE") or DATA_DIR / "secret.key"),
            mass_removal_percent=float(value("CTCT_MASS_REMOVAL_PERCENT") or 20),
            mass_removal_min_list=int(value("CTCT_MASS_REMOVAL_MIN_LIST") or 10),
        )
