"""The deterministic demo data set: companies, contacts and marketing tags.

The same `companies` and `seed` always give the same rows. A few contacts are there to make the
eligibility rules visible in the grid: role addresses, one email shared by two people, and
unsubscribed contacts.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ctct import display
from ctct.config import DATA_DIR
from ctct.crm.normalize import company_name_key, email_key, name_key
from ctct.db.bulk import crm_revision_bumped_once
from ctct.db.models import (
    Company,
    Contact,
    EmailList,
    ListMembership,
    MarketingTag,
    company_tags,
    utcnow,
)
from ctct.errors import ConsoleError

DEMO_DEFINITION = DATA_DIR / "demo-data.json"
DEFAULT_COMPANIES = 40
DEFAULT_SEED = 7
APPAREL_TAG = "Apparel Sports Wear"
# Per block of 40 companies: which company gets which special contact.
ROLE_ADDRESS_COMPANIES = (3, 17, 29)
SHARED_EMAIL_COMPANY = 8
UNSUBSCRIBED_COMPANIES = (12, 33)
APPAREL_COMPANIES = (1, 6, 14, 22)


@dataclass
class DemoSummary:
    companies: int
    contacts: int
    tags: int

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return (
            f"<Demo CRM loaded: {self.companies:,} companies, {self.contacts:,} contacts, {self.tags} marketing tags>"
        )

    def _repr_html_(self) -> str:
        return display.card(
            display.heading(
                f"Demo CRM loaded: {self.companies:,} companies, {self.contacts:,} contacts, {self.tags} marketing tags"
            )
        )


def _definition() -> dict[str, Any]:
    with DEMO_DEFINITION.open(encoding="utf-8") as handle:
        return json.load(handle)


def _company_names(words: dict[str, Any], count: int, rng: random.Random) -> list[str]:
    """`count` company names with distinct dedupe keys; plain names first, then city branches."""
    base = [
        " ".join(part for part in (prefix, trade, qualifier) if part)
        for prefix, trade, qualifier in itertools.product(
            words["company_prefixes"],
            words["company_trades"],
            dict.fromkeys(words["company_qualifiers"]),
        )
    ]
    rng.shuffle(base)
    names: list[str] = []
    seen: set[str] = set()
    city_names = (f"{name} of {city}" for city in words["cities"] for name in base)
    for name in itertools.chain(base, city_names):
        if len(names) == count:
            break
        key = company_name_key(name)
        if key not in seen:
            seen.add(key)
            suffix = rng.choice(words["company_suffixes"])
            names.append(f"{name} {suffix}".strip())
    if len(names) < count:
        raise ConsoleError(f"the demo word pools make at most {len(names):,} companies")
    return names


def _domain(name: str, taken: set[str]) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", company_name_key(name)).strip("-")
    domain = f"{stem}.com"
    counter = 2
    while domain in taken:
        domain = f"{stem}-{counter}.com"
        counter += 1
    taken.add(domain)
    return domain


def _email_stem(first: str, last: str) -> str:
    return re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())


def crm_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Company))


def clear_crm(session: Session) -> None:
    """Deletes every list, company, contact and tag (the demo's "reset")."""
    session.execute(delete(company_tags))
    # Children first. Plain bulk deletes, as SQL would run them: no loaded object needs syncing.
    for model in (ListMembership, EmailList, Contact, Company, MarketingTag):
        session.execute(delete(model), execution_options={"synchronize_session": False})


def load_demo_data(
    session: Session,
    companies: int = DEFAULT_COMPANIES,
    seed: int = DEFAULT_SEED,
    *,
    replace: bool = False,
    progress: Callable[[float, str], None] | None = None,
) -> DemoSummary:
    if companies < 1:
        raise ConsoleError("--companies must be at least 1")
    with crm_revision_bumped_once(session.connection()):
        return _replace_with_demo_rows(session, companies, seed, replace, progress)


def _replace_with_demo_rows(
    session: Session,
    companies: int,
    seed: int,
    replace: bool,
    progress: Callable[[float, str], None] | None,
) -> DemoSummary:
    if not crm_is_empty(session):
        if not replace:
            held = session.scalar(select(func.count()).select_from(Company))
            raise ConsoleError(
                f"the database already holds {held:,} companies; use --replace to delete the CRM data first"
            )
        clear_crm(session)
    report = progress or (lambda _fraction, _message: None)
    words = _definition()
    rng = random.Random(seed)
    now = utcnow()

    tag_rows = [{"name": tag, "name_key": name_key(tag), "created_at": now} for tag in words["tags"]]
    connection = session.connection()
    # Plain executemany, then one read of the ids: far faster than RETURNING per row batch, and
    # the keys are distinct in an empty CRM.
    connection.execute(insert(MarketingTag), tag_rows)
    id_of_tag = dict(connection.execute(select(MarketingTag.name_key, MarketingTag.id)).all())
    tag_ids = [id_of_tag[row["name_key"]] for row in tag_rows]
    apparel_id = tag_ids[words["tags"].index(APPAREL_TAG)]
    other_tag_ids = [tag_id for tag_id in tag_ids if tag_id != apparel_id]

    names = _company_names(words, companies, rng)
    domains: set[str] = set()
    company_rows: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        domain = _domain(name, domains)
        general_email = f"info@{domain}" if index % 2 == 0 else None
        company_rows.append(
            {
                "name": name,
                "name_key": company_name_key(name),
                "kind": "customer" if rng.random() < 0.6 else "prospect",
                "email": general_email,
                "email_key": email_key(general_email),
                "phone": f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                "website": f"https://www.{domain}",
                "created_at": now,
                "updated_at": now,
            }
        )
    connection.execute(insert(Company), company_rows)
    id_of_company = dict(connection.execute(select(Company.name_key, Company.id)).all())
    company_ids = [id_of_company[row["name_key"]] for row in company_rows]
    report(0.3, f"{len(company_ids):,} companies")

    tag_pairs = []
    for index, company_id in enumerate(company_ids):
        chosen = set(rng.sample(other_tag_ids, rng.choice((0, 0, 1, 1, 2))))
        if index % 40 in APPAREL_COMPANIES:
            chosen.add(apparel_id)
        tag_pairs += [{"company_id": company_id, "tag_id": tag_id} for tag_id in sorted(chosen)]
    if tag_pairs:
        session.connection().execute(insert(company_tags), tag_pairs)

    contact_rows = _contact_rows(words, company_rows, company_ids, rng, now)
    batch = 20_000
    for start in range(0, len(contact_rows), batch):
        session.connection().execute(insert(Contact), contact_rows[start : start + batch])
        done = min(start + batch, len(contact_rows))
        report(
            0.3 + 0.7 * done / len(contact_rows),
            f"{done:,} of {len(contact_rows):,} contacts",
        )
    return DemoSummary(companies=len(company_ids), contacts=len(contact_rows), tags=len(tag_ids))


def _contact_rows(
    words: dict[str, Any],
    company_rows: list[dict[str, Any]],
    company_ids: list[int],
    rng: random.Random,
    now: Any,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for index, (company, company_id) in enumerate(zip(company_rows, company_ids, strict=True)):
        domain = company["website"].removeprefix("https://www.")
        used: set[str] = set()
        people = []
        for _ in range(rng.choice((2, 3, 3, 4))):
            first, last = (
                rng.choice(words["first_names"]),
                rng.choice(words["last_names"]),
            )
            stem = _email_stem(first, last)
            email, counter = f"{stem}@{domain}", 2
            while email in used:
                email, counter = f"{stem}{counter}@{domain}", counter + 1
            used.add(email)
            people.append([first, last, email, rng.choice(words["job_titles"])])
        block_position = index % 40
        if block_position in ROLE_ADDRESS_COMPANIES:
            role = words["role_local_parts"][(index // 40 + ROLE_ADDRESS_COMPANIES.index(block_position)) % 5]
            people[0] = [role.title(), "Team", f"{role}@{domain}", None]
        if block_position == SHARED_EMAIL_COMPANY:
            people[1][2] = people[0][2]  # two people behind one mailbox: a conflict to resolve
        unsubscribed = block_position in UNSUBSCRIBED_COMPANIES
        for position, (first, last, email, title) in enumerate(people):
            gone = unsubscribed and position == len(people) - 1
            rows.append(
                {
                    "company_id": company_id,
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                    "email_key": email_key(email),
                    "job_title": title,
                    "email_status": "unsubscribed" if gone else "active",
                    "unsubscribed_at": now if gone else None,
                    "unsubscribe_source": "Contact" if gone else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows
