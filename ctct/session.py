"""`ctct.connect(…)`: the console's services as one Python object, for notebooks and scripts.

Everything here delegates to the services the pages and the CLI use (CRM import, list services,
activation, `SyncService`, history); this module only opens them together and reports progress.
Results display as compact HTML in Jupyter (`_repr_html_`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import pandas as pd
from sqlalchemy import make_url

from ctct import activation, display
from ctct import lists as list_services
from ctct.config import DEFAULT_REDIRECT_URI, Settings
from ctct.crm import demo, importer
from ctct.crm.export import companies_frame, export_data
from ctct.crm.services import list_tags
from ctct.db import Database
from ctct.db.stores import open_client
from ctct.errors import ConsoleError
from ctct.sandbox.demo_account import sign_in_to_sandbox
from ctct.sandbox.process import SandboxServer
from ctct.sync import history as run_history
from ctct.sync.apply import SyncResult, SyncService
from ctct.sync.merge import MergePlan
from ctct.sync.plan import IMPORT, PULL, PUSH, Plan

DIRECTIONS = (IMPORT, PUSH, PULL, "both")


class Link(str):
    """An address that shows as a link in Jupyter (and as itself everywhere else)."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return f'<a href="{display.escape(self)}" target="_blank" rel="noopener">{display.escape(self)}</a>'


def _contact_filter(contact_type: str, tags: Iterable[str], search: str) -> list_services.ContactFilter:
    try:
        kind = list_services.ContactType(contact_type)
    except ValueError:
        raise ConsoleError(f"contact_type must be all, customer or prospect, not {contact_type!r}") from None
    return list_services.ContactFilter(contact_type=kind, tags=tuple(tags), search=search)


class Crm:
    """The CRM side: import files, demo data, and the companies and contacts as frames."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings

    def plan_file(self, path: str | Path) -> importer.ImportPlan:
        """Reads a CSV or .xlsx export and plans its import row by row (a dry run: nothing changes)."""
        path = Path(path)
        if not path.is_file():
            raise ConsoleError(f"file not found: {path}")
        frame, ignored = importer.read_import_file(path)
        with self._database.session() as session:
            return importer.plan_crm_import(
                session, frame, source=path.name, ignored_columns=ignored, role_addresses=self._settings.role_addresses
            )

    def commit_file(self, plan: importer.ImportPlan, *, skip_invalid: bool = False) -> importer.ImportSummary:
        """Imports a planned file in one transaction; with rejected rows only when `skip_invalid`."""
        with display.NotebookProgress(f"Importing {plan.source}") as progress, self._database.session() as session:
            return importer.commit_crm_import(session, plan, skip_invalid=skip_invalid, progress=progress)

    def load_demo_data(
        self, companies: int = demo.DEFAULT_COMPANIES, seed: int = demo.DEFAULT_SEED, *, replace: bool = False
    ) -> demo.DemoSummary:
        with display.NotebookProgress("Demo data") as progress, self._database.session() as session:
            return demo.load_demo_data(session, companies, seed, replace=replace, progress=progress)

    def contacts(self, contact_type: str = "all", tags: Iterable[str] = (), search: str = "") -> pd.DataFrame:
        """Contacts matching the Email Lists page's filter, with tags and why any is ineligible."""
        with self._database.session() as session:
            return list_services.contacts_frame(
                session, _contact_filter(contact_type, tags, search), role_addresses=self._settings.role_addresses
            )

    def companies(self) -> pd.DataFrame:
        with self._database.session() as session:
            frame = companies_frame(session)
        frame["tags"] = frame["tags"].map(", ".join)
        return frame

    def tags(self) -> list[str]:
        with self._database.session() as session:
            return [tag.name for tag in list_tags(session)]

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """Companies, contacts and lists as plain data (the CLI's `export --json`)."""
        with self._database.session() as session:
            return export_data(session)


class Lists:
    """Email lists: the same services as the Email Lists page and `python -m ctct list …`."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings

    def all(self) -> pd.DataFrame:
        with self._database.session() as session:
            rows = [
                (email_list.name, members, email_list.ctct_list_id)
                for email_list, members in list_services.all_lists(session)
            ]
        return pd.DataFrame(rows, columns=["name", "members", "ctct_list_id"])

    def create(self, name: str) -> None:
        with self._database.session() as session:
            list_services.create_list(session, name)

    def rename(self, old_name: str, new_name: str) -> None:
        with self._database.session() as session:
            list_services.rename_list(session, old_name, new_name)

    def delete(self, name: str) -> None:
        with self._database.session() as session:
            list_services.delete_list(session, name)

    def add(self, name: str, emails: Sequence[str]) -> list_services.ListChange:
        """Adds contacts by email; any unknown or ineligible one refuses them all, with reasons."""
        with self._database.session() as session:
            return list_services.add_members(session, name, emails, self._settings.role_addresses)

    def add_matching(
        self, name: str, *, contact_type: str = "all", tags: Iterable[str] = (), search: str = ""
    ) -> list_services.ListChange:
        """ "Select all": every eligible contact matching the filter; the rest counted by reason."""
        with self._database.session() as session:
            return list_services.add_matching(
                session, name, _contact_filter(contact_type, tags, search), self._settings.role_addresses
            )

    def remove(self, name: str, emails: Sequence[str]) -> list_services.ListChange:
        with self._database.session() as session:
            return list_services.remove_members(session, name, emails)

    def remove_matching(
        self, name: str, *, contact_type: str = "all", tags: Iterable[str] = (), search: str = ""
    ) -> list_services.ListChange:
        with self._database.session() as session:
            return list_services.remove_matching(session, name, _contact_filter(contact_type, tags, search))

    def members(self, name: str) -> pd.DataFrame:
        with self._database.session() as session:
            email_list = list_services.get_list(session, name)
            frame = list_services.contacts_frame(
                session, email_list=email_list, role_addresses=self._settings.role_addresses
            )
        return frame[frame["member"]].drop(columns="member").reset_index(drop=True)


class Console:
    """One customer's console: its database, its CTCT connection, and the services on both.

    Open it with `ctct.connect(…)`; `close()` (or a `with` block) releases the database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings.database_url)
        self.client = open_client(settings, self.database)
        self.sync = SyncService(self.database, self.client, settings)
        self.crm = Crm(self.database, settings)
        self.lists = Lists(self.database, settings)

    # Constant Contact connection

    def status(self) -> activation.ConnectionStatus:
        return activation.connection_status(self.client)

    def activate(self, username: str = "demo", password: str = "demo") -> activation.ConnectionStatus:
        """Connects the sandbox account by filling in its login form. Against Constant Contact
        itself a person must log in: use `activation_link()` and `finish_activation(…)`."""
        if self.settings.is_real_ctct:
            raise ConsoleError(
                "Constant Contact needs its account owner to log in: open console.activation_link() in a "
                "browser, allow access, then call console.finish_activation(<the address the browser ended on>)"
            )
        authorize_url = self.client.authorization.start()
        redirected = sign_in_to_sandbox(self.client.http, authorize_url, username, password)
        return activation.complete_activation(self.client, redirected)

    def activation_link(self) -> Link:
        """The Constant Contact login address for the account owner (valid for 10 minutes)."""
        return Link(self.client.authorization.start())

    def finish_activation(self, redirected_url: str) -> activation.ConnectionStatus:
        """Completes the login with the address Constant Contact sent the browser back to."""
        return activation.complete_activation(self.client, redirected_url)

    def deactivate(self) -> activation.DeactivationSummary:
        """Revokes the token and deletes every email list here; companies and contacts stay."""
        return activation.deactivate(self.client, self.database)

    # Plans and commits

    def plan(self, direction: str, *, resolutions: dict[str, str] | None = None) -> Plan | MergePlan:
        """Previews a sync row by row (import, push, pull or both); changes nothing. For `both`,
        `resolutions` resolve its conflicts otherwise than by their defaults ({id or kind: choice})."""
        if direction not in DIRECTIONS:
            raise ConsoleError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        with display.NotebookProgress(f"Planning the {direction}") as progress:
            plan = self.sync.plan(direction, progress=progress.note, resolutions=resolutions)
            progress.note(f"done — {sum(plan.counts().values()):,} row changes to review")
        return plan

    def plan_import(self) -> Plan:
        """The initial import of Constant Contact's lists and contacts into the CRM."""
        return self._one_way(IMPORT)

    def plan_push(self) -> Plan:
        return self._one_way(PUSH)

    def plan_pull(self) -> Plan:
        return self._one_way(PULL)

    def _one_way(self, direction: str) -> Plan:
        plan = self.plan(direction)
        assert isinstance(plan, Plan)
        return plan

    def plan_both(self, resolutions: dict[str, str] | None = None) -> MergePlan:
        """The three-way merge: each side's changes since the last sync go to the other."""
        plan = self.plan("both", resolutions=resolutions)
        assert isinstance(plan, MergePlan)
        return plan

    def commit(self, plan: Plan | MergePlan, *, allow_mass_removal: bool = False) -> SyncResult:
        """Commits a reviewed plan; refused (SyncRefused) when either side changed since it was
        made, when it removes en masse without `allow_mass_removal`, or over the day's budget."""
        with display.NotebookProgress(f"Committing the {plan.direction}") as progress:
            return self.sync.commit(plan, allow_mass_removal=allow_mass_removal, progress=progress, started_by="python")

    def resume(self, direction: str, *, allow_mass_removal: bool = False) -> SyncResult:
        """Finishes an interrupted sync without redoing what was done."""
        with display.NotebookProgress(f"Resuming the {direction}") as progress:
            return self.sync.resume(direction, allow_mass_removal=allow_mass_removal, progress=progress)

    # History

    def history(self, run_id: int | None = None) -> run_history.RunHistory | run_history.RunDetail:
        """Every import and sync (newest first), or one run with its row-level changes."""
        if run_id is None:
            return run_history.RunHistory(run_history.runs(self.database))
        return run_history.RunDetail(**run_history.run_detail(self.database, run_id))

    # Lifetime

    def close(self) -> None:
        self.client.http.close()
        self.database.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def describe(self) -> str:
        database = make_url(self.settings.database_url).render_as_string(hide_password=True)
        return f"Console on {database}, Constant Contact at {self.settings.api_base}"

    def __repr__(self) -> str:
        return f"<{self.describe()}>"

    def _repr_html_(self) -> str:
        return display.card(display.heading(self.describe()), display.paragraph(self.status().describe()))


def connect(
    database_url: str | None = None,
    *,
    sandbox: SandboxServer | None = None,
    **settings: Any,
) -> Console:
    """Opens a console: settings from the environment and `.streamlit/secrets.toml` (as the app
    and the CLI read them), then `database_url`, the `sandbox`'s addresses, and any other
    `Settings` field given by name (`api_base=`, `client_id=`, `rate_limit=`, `role_addresses=`…;
    an unknown name is a TypeError). The database schema is brought up to date on opening.

    With a `sandbox`, the database must be named, so a rehearsal never writes into the console's
    own database, and the OAuth redirect is a loopback address (all the sandbox accepts) unless
    given."""
    if database_url is not None:
        settings["database_url"] = database_url
    if sandbox is not None:
        if database_url is None:
            raise ConsoleError(
                "a rehearsal against the sandbox needs its own database: ctct.connect(database_url=…, sandbox=…)"
            )
        settings.setdefault("api_base", sandbox.api_base)
        settings.setdefault("auth_base", sandbox.auth_base)
        settings.setdefault("redirect_uri", DEFAULT_REDIRECT_URI)
    return Console(Settings.load().with_overrides(**settings))
