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


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    role_addresses: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_ROLE_ADDRESSES))
    demo_mode: bool = False

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
        )
