"""Whether either side changed since the preview: the check before a commit may start.

It only reads — Customer Focus through its revision (one SELECT), CTCT through one listing of its
lists and one request for contacts updated since — and changes neither side. It is apart from the
commit's modules because its answer decides whether there is a commit at all: a stale plan is
refused before the journal records a run.
"""

from __future__ import annotations

import pandas as pd

from ctct.api.client import CtctClient
from ctct.db import Database
from ctct.errors import SyncRefused
from ctct.sync.local_read import crm_revision, local_snapshot
from ctct.sync.merge import MergePlan
from ctct.sync.plan import Plan
from ctct.sync.remote_full import ctct_lists
from ctct.sync.snapshot import REVISION_PREFIX, RemoteSnapshot, revision_fingerprint


def refuse_local_change(plan: Plan | MergePlan, database: Database, role_addresses: frozenset[str]) -> None:
    """Refuses the plan when Customer Focus changed since its snapshot: one SELECT of the CRM
    revision, which database triggers bump on every change; a plan whose snapshot had no
    revision is checked against a new snapshot's hash instead."""
    with database.session() as session:
        if plan.local_fingerprint.startswith(REVISION_PREFIX):
            revision = crm_revision(session)
            now = "" if revision is None else revision_fingerprint(revision)
        else:
            now = local_snapshot(session, role_addresses).content_fingerprint
    if now != plan.local_fingerprint:
        raise SyncRefused("Customer Focus changed since this preview: make a new preview")


def refuse_remote_change(plan: Plan | MergePlan, client: CtctClient) -> None:
    probe = RemoteSnapshot(ctct_lists(client), pd.DataFrame(), pd.DataFrame())
    if probe.lists_fingerprint != plan.remote_fingerprint or _contacts_changed(plan, client):
        raise SyncRefused("Constant Contact changed since this preview: make a new preview")


def _contacts_changed(plan: Plan | MergePlan, client: CtctClient) -> bool:
    """Whether a contact changed since the preview's read: one request as a rule. Contacts updated
    after the read's changes bound (or, without one, after the newest update the preview saw;
    when CTCT had no contacts then, anything at all) are fetched; any the preview did not hold
    with that very `updated_at` is a change. A bound before the read's newest stamp also catches
    a contact changed while the read was under way."""
    since = plan.remote.changes_after if plan.remote is not None else None
    if since is None:
        page = client.get("/contacts", status="all", updated_after=plan.remote_max_updated, limit=1)
        return bool(page.get("contacts"))
    seen: dict[str, str | None] | None = None
    for contact in client.contacts.iterate(status="all", updated_after=since, include=None):
        seen = _stamps_seen(plan.remote) if seen is None else seen  # only when CTCT names any
        if seen.get(contact["contact_id"]) != contact.get("updated_at"):
            return True
    return False


def _stamps_seen(remote: RemoteSnapshot | None) -> dict[str, str | None]:
    if remote is None or "updated_at" not in remote.contacts:
        return {}
    return dict(zip(remote.contacts["ctct_contact_id"], remote.contacts["updated_at"], strict=True))
