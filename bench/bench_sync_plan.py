"""Planning time and peak memory of the pure planner at 100,000 and 1,000,000 contacts.

Run: .venv/bin/python bench/bench_sync_plan.py [--sizes 100000 1000000]
Both sides hold the same contacts on 50 lists (two lists each), with realistic names: a few
thousand first and last names (some unicode), ~300,000 companies at 1M, unique emails (some in
mixed case), typed as the snapshot readers type them. Then about 1 % changes on each side: new
local memberships, memberships removed in CTCT, edited job titles, names missing here, new
contacts here and sign-ups in CTCT, unsubscribes and deletions in CTCT, two lists renamed.
Each size runs in a fresh process; a small plan warms up first. Memory: the snapshot frames' own
size; the process's resident memory once they are built (the building's leftovers returned to the
system); and the whole process's peak while it plans a push, and again a pull (Linux's VmHWM,
reset before each) — the peak of a process that holds the snapshots, as a sync's does. The
lifetime peak, building included, is printed too. Prints JSON with a plain baseline
timed in the same process (pandas merges of both sides' members with their contacts' emails),
each plan's ratio to it, and the load average it ran under: read the ratios on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.crm.normalize import company_name_key, email_keys
from ctct.sync.plan import Plan, plan_pull, plan_push
from ctct.sync.snapshot import TEXT, Baseline, LocalSnapshot, RemoteSnapshot

Snapshot = TypeVar("Snapshot", LocalSnapshot, RemoteSnapshot, Baseline)

LISTS = 50

# Realistic names: a few thousand first and last names (stems with common endings), some unicode.


def _words(text: str) -> list[str]:
    return text.split()


FIRST_STEMS = _words(
    "Ann Anna Bo Carl Cara Dan Dana Eli Ella Finn Gus Hana Ian Ida Jon Joan Kai Kim Lea Leo Max Mia Ned "
    "Nina Olga Omar Pat Pia Raj Rosa Sam Sara Tom Tina Uma Vik Wes Yara Zoë José Søren Łukasz Chloé Åsa "
    "Jürgen Mehmet Aiko Chen Priya Nuno Ines Björn Maël Thảo Dmitri Kateřina Ngozi Sven Aurélie Zeynep "
    "Ólafur"
)
LAST_STEMS = _words(
    "Lee Smith Brown Jones Miller Davis Garcia Wilson Moore Taylor Clark Lewis Walker Young King Wright "
    "Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Torres "
    "Parker Collins Müller Schäfer Nowak Kowalski Østergaard Dubois Lefèvre Rossi Bianchi Novák Yılmaz "
    "Nguyễn Tanaka Sato Kim Park Singh Patel Okafor Silva Santos Ferreira Ivanova Andersson Virtanen "
    "O'Brien McCarthy García"
)
ENDINGS = [
    "",
    *_words(
        "a e o i y ie an en in on el et ey is us as ia ina son sen ez es ini ova er ley ton berg ard ski ić ö ø man"
    ),
]
COMPANY_WORDS = _words(
    "Acme Summit Harbor Pine Cedar River Granite Atlas Nova Orbit Beacon Maple Falcon Crescent Vertex "
    "Willow Iron Silver Golden Blue Red North South East West Alpine Coastal Prairie Metro Union Liberty "
    "Pioneer"
)
COMPANY_KINDS = ["Bakery", "Logistics", "Dental", "Consulting", "Labs", "Foods", "Motors", "Studio", "Farms", "Tech"]
SUFFIXES = ["", " Inc", " LLC", " Ltd", " GmbH", " & Co", " S.A.", " Group"]
JOB_TITLES = [None, "Buyer", "Owner", "CEO", "Office Manager", "Head of Purchasing", "Chef", "Directrice", "CTO"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "icloud.com"]


def _pool(stems: list[str], rng: np.random.Generator) -> np.ndarray:
    """Every stem with every ending, shuffled: a few thousand distinct, name-like values."""
    values = sorted({stem + ending for stem in stems for ending in ENDINGS})
    return rng.permutation(np.array(values, dtype=object))


def _companies(count: int, rng: np.random.Generator) -> pd.Series:
    words = pd.Series(rng.choice(COMPANY_WORDS, count), dtype="str")
    kinds = pd.Series(rng.choice(COMPANY_KINDS, count), dtype="str")
    suffixes = pd.Series(rng.choice(SUFFIXES, count), dtype="str")
    # The number keeps ~300,000 names at 1M distinct; a real CRM's names are as varied.
    return words + " " + kinds + " " + _numbers(count) + suffixes


def _numbers(count: int) -> pd.Series:
    return pd.Series(np.arange(count)).astype("str")


def _text(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def people(size: int, rng: np.random.Generator) -> pd.DataFrame:
    """`size` contacts: varied first and last names, unique emails (some in mixed case, most at
    their company's domain), ~0.3 contacts' worth of companies each, varied job titles. Built as
    text columns (never a Python string per row), so a million of them fit in little memory."""
    first = _text(rng.choice(_pool(FIRST_STEMS, rng), size))
    last = _text(rng.choice(_pool(LAST_STEMS, rng), size))
    company_count = max(1, size * 3 // 10)
    company_of = rng.integers(0, company_count, size)
    company_names = _companies(company_count, rng)
    plain = (first + last).str.normalize("NFKD").str.replace(r"[^A-Za-z0-9]", "", regex=True).str.lower()
    at_company = "co" + pd.Series(company_of).astype("str") + ".example.com"
    domains = at_company.where(rng.random(size) >= 0.3, _text(rng.choice(DOMAINS, size)))
    emails = plain + _numbers(size) + "@" + domains
    mixed = rng.random(size) < 0.05
    emails[mixed] = emails[mixed].str.capitalize()
    return pd.DataFrame(
        {
            "first_name": first,
            "last_name": last,
            "email": emails,
            "company_id": company_of + 1,
            "company": company_names.take(company_of).reset_index(drop=True),
            "job_title": _text(rng.choice(np.array(JOB_TITLES, dtype=object), size)),
        }
    )


def build(size: int, seed: int = 5) -> tuple[LocalSnapshot, RemoteSnapshot, Baseline]:
    """Both sides in sync on 50 lists (two each), then about 1 % changed on each side: members
    added here and removed in CTCT, edited job titles, new contacts here, unsubscribes and
    deletions in CTCT, names missing here, contacts matched by email only, two lists renamed."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, size + 1)
    who = people(size, rng)
    emails = who["email"]
    email_key = email_keys(emails)
    remote_ids = "c-" + pd.Series(ids).astype("str").str.zfill(8)
    list_ids = np.arange(1, LISTS + 1)
    ctct_list_ids = [f"l-{n:03d}" for n in list_ids]
    names = [f"List {n}" for n in list_ids]
    first_list = rng.integers(0, LISTS, size)
    second_list = (first_list + 1 + rng.integers(0, LISTS - 1, size)) % LISTS
    members = pd.DataFrame(
        {"list_id": np.concatenate([first_list, second_list]) + 1, "contact_id": np.concatenate([ids, ids])}
    )
    unlinked = rng.random(size) < 0.01  # matched by email, not yet linked here
    contacts = pd.DataFrame(
        {
            "contact_id": ids,
            "company_id": who["company_id"],
            "company": who["company"],
            "first_name": who["first_name"],
            "last_name": who["last_name"],
            "email": emails,
            "job_title": who["job_title"],
            "unsubscribed": False,
            "unsubscribe_source": None,
            "ctct_contact_id": remote_ids.where(~unlinked, None),
            "email_key": email_key,
            "reason": None,
        }
    )
    companies = (
        contacts[["company_id", "company"]]
        .drop_duplicates("company_id")
        .rename(columns={"company": "name"})
        .sort_values("company_id")
    )
    companies["name_key"] = companies["name"].map(company_name_key)
    local = LocalSnapshot(
        lists=pd.DataFrame(
            {"list_id": list_ids, "name": names, "ctct_list_id": ctct_list_ids, "name_key": [n.lower() for n in names]}
        ),
        contacts=contacts,
        members=members,
        companies=companies.reset_index(drop=True),
    )
    remote_members = pd.DataFrame(
        {
            "ctct_list_id": _text(np.array(ctct_list_ids))
            .take(members["list_id"].to_numpy() - 1)
            .reset_index(drop=True),
            "ctct_contact_id": remote_ids.iloc[members["contact_id"] - 1].to_numpy(),
        }
    )
    remote_contacts = pd.DataFrame(
        {
            "ctct_contact_id": remote_ids,
            "email": emails,
            "first_name": who["first_name"],
            "last_name": who["last_name"],
            "job_title": who["job_title"],
            "company_name": contacts["company"],
            "permission": "implicit",
            "opt_out_source": None,
            "deleted": False,
            "updated_at": "2026-11-29T12:00:00.000Z",
            "email_key": email_key,
        }
    )
    baseline = Baseline(
        lists=pd.DataFrame({"ctct_list_id": ctct_list_ids, "name": names}),
        members=pd.DataFrame(
            {
                "ctct_list_id": remote_members["ctct_list_id"],
                "email_key": email_key.iloc[members["contact_id"] - 1].to_numpy(),
            }
        ),
        contacts=pd.DataFrame(
            {
                "email_key": email_key,
                "first_name": who["first_name"],
                "last_name": who["last_name"],
                "company_name": contacts["company"],
                "job_title": who["job_title"],
            }
        ),
    )
    # About 1 % changes on each side.
    changed = rng.choice(size, max(1, size // 100), replace=False)
    local.members = pd.concat(
        [local.members, pd.DataFrame({"list_id": (first_list[changed] + 2) % LISTS + 1, "contact_id": ids[changed]})]
    ).drop_duplicates()
    local.contacts.loc[changed[: size // 200], "job_title"] = "Owner"
    local.contacts.loc[changed[size // 200 : size // 100], "first_name"] = None
    drop = rng.choice(len(remote_members), max(1, size // 100), replace=False)
    remote_members = remote_members.drop(remote_members.index[drop])
    gone = rng.choice(size, max(1, size // 1000), replace=False)
    quitting, deleted = gone[: len(gone) // 2], gone[len(gone) // 2 :]
    remote_contacts.loc[quitting, ["permission", "opt_out_source"]] = ["unsubscribed", "Contact"]
    remote_contacts.loc[deleted, "deleted"] = True
    # CTCT holds no unsubscribed or deleted contact on a list.
    remote_members = remote_members[~remote_members["ctct_contact_id"].isin(remote_ids.iloc[gone])]
    counts = remote_members.groupby("ctct_list_id").size()
    remote = RemoteSnapshot(
        lists=pd.DataFrame(
            {
                "ctct_list_id": ctct_list_ids,
                "name": names,
                "name_key": [n.lower() for n in names],
                "membership_count": [int(counts.get(c, 0)) for c in ctct_list_ids],
            }
        ),
        contacts=remote_contacts,
        members=remote_members.reset_index(drop=True),
        taken_at="2026-11-29T12:00:00Z",
    )
    remote.lists.loc[0, "name"] = "Renamed in CTCT"
    local.lists.loc[1, "name"] = "Renamed here"
    local.lists.loc[1, "name_key"] = "renamed here"
    extra_ids = np.arange(size + 1, size + max(1, size // 100) + 1)
    extra = people(len(extra_ids), rng)
    extra_rows = pd.DataFrame(
        {
            "contact_id": extra_ids,
            "company_id": 1,
            "company": contacts["company"].iloc[0],
            "first_name": extra["first_name"],
            "last_name": extra["last_name"],
            "email": "new." + extra["email"],
            "job_title": None,
            "unsubscribed": False,
            "unsubscribe_source": None,
            "ctct_contact_id": None,
            "reason": None,
        }
    )
    extra_rows["email_key"] = email_keys(extra_rows["email"])
    local.contacts = pd.concat([local.contacts, extra_rows], ignore_index=True)
    local.members = pd.concat([local.members, pd.DataFrame({"list_id": 3, "contact_id": extra_ids})])
    # Contacts new in CTCT (a sign-up form), on a list: a pull brings them over.
    signups = people(max(1, size // 200), rng)
    signup_ids = "s-" + _numbers(len(signups)).str.zfill(8)
    signup_rows = pd.DataFrame(
        {
            "ctct_contact_id": signup_ids,
            "email": "form." + signups["email"],
            "first_name": signups["first_name"],
            "last_name": signups["last_name"],
            "job_title": signups["job_title"],
            # Most type a company the CRM has; a few none (filed under their domain or name).
            "company_name": contacts["company"]
            .sample(len(signups), random_state=seed)
            .reset_index(drop=True)
            .where(rng.random(len(signups)) < 0.95),
            "permission": "explicit",
            "opt_out_source": None,
            "deleted": False,
            "updated_at": "2026-11-30T09:00:00.000Z",
        }
    )
    signup_rows["email_key"] = email_keys(signup_rows["email"])
    remote.contacts = pd.concat([remote.contacts, signup_rows], ignore_index=True)
    remote.members = pd.concat(
        [remote.members, pd.DataFrame({"ctct_list_id": ctct_list_ids[4], "ctct_contact_id": signup_ids})],
        ignore_index=True,
    )
    return _typed(local), _typed(remote), _typed(baseline)


def _typed(snapshot: Snapshot) -> Snapshot:
    """Text columns as the snapshot readers type them (pandas' `str`, a missing value NaN); the
    CRM's revision set, as ctct/sync/local_read.py reads it."""
    for name in ("lists", "contacts", "members", "companies"):
        frame = getattr(snapshot, name, None)
        if frame is None:
            continue
        text = [c for c in frame.columns if frame[c].dtype == object and c != "reason"]
        setattr(snapshot, name, frame.astype(dict.fromkeys(text, TEXT)))
    if isinstance(snapshot, LocalSnapshot):
        snapshot.revision = 1
    return snapshot


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _status_mb(field: str) -> float:
    """A figure of this process's /proc/self/status (VmRSS: resident now; VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _fresh_peak() -> float:
    """Returns the memory building the snapshots freed to the system and starts the process's peak
    afresh (Linux: 5 into clear_refs resets VmHWM), so that what follows is measured on its own:
    the peak of a process that holds the snapshots — as a sync's process does — while it plans.
    Returns the resident memory from which it starts."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def _frames_mb(*snapshots: LocalSnapshot | RemoteSnapshot | Baseline) -> float:
    frames = [
        getattr(s, name)
        for s in snapshots
        for name in ("lists", "contacts", "members", "companies")
        if hasattr(s, name)
    ]
    return sum(float(frame.memory_usage(deep=True).sum()) for frame in frames) / 2**20


def measure(size: int) -> dict[str, object]:
    """One size in this process: a warm-up plan of a small world, then the plain baseline, the
    push and the pull of `size` contacts, each timed once, and the process's peak memory."""
    small = build(2_000, seed=1)
    plan_push(*small)
    plan_pull(*small)
    load_before = os.getloadavg()
    local, remote, baseline = build(size)
    built_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    push: list[Plan] = []
    pull: list[Plan] = []
    held_mb = _fresh_peak()
    cpu = time.process_time()
    push_seconds = _timed(lambda: push.append(plan_push(local, remote, baseline)))
    push_cpu = time.process_time() - cpu
    push_peak_mb = _status_mb("VmHWM")
    _fresh_peak()
    cpu = time.process_time()
    pull_seconds = _timed(lambda: pull.append(plan_pull(local, remote, baseline)))
    pull_cpu = time.process_time() - cpu
    pull_peak_mb = _status_mb("VmHWM")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The plain baseline: one merge of the two key columns a plan joins most (members and their
    # contacts' emails, on both sides), in pandas, timed in this process under the same load (after
    # the plans: what it leaves allocated is not the planner's).
    baseline_seconds = _timed(
        lambda: (
            local.members.merge(local.contacts[["contact_id", "email"]], on="contact_id"),
            remote.members.merge(remote.contacts[["ctct_contact_id", "email"]], on="ctct_contact_id"),
        )
    )
    return {
        "contacts": size,
        "lists": LISTS,
        "memberships": len(local.members),
        "companies": len(local.companies),
        "distinct_first_names": int(local.contacts["first_name"].nunique()),
        "distinct_last_names": int(local.contacts["last_name"].nunique()),
        "push_plan_seconds": round(push_seconds, 2),
        "pull_plan_seconds": round(pull_seconds, 2),
        "push_plan_cpu_seconds": round(push_cpu, 2),
        "pull_plan_cpu_seconds": round(pull_cpu, 2),
        "baseline_merge_seconds": round(baseline_seconds, 3),
        "push_vs_baseline": round(push_seconds / baseline_seconds, 1),
        "pull_vs_baseline": round(pull_seconds / baseline_seconds, 1),
        "push_changes": {k: v for k, v in push[0].counts().items() if v},
        "pull_changes": {k: v for k, v in pull[0].counts().items() if v},
        "push_warnings": len(push[0].warnings),
        "pull_warnings": len(pull[0].warnings),
        "snapshot_frames_mb": round(_frames_mb(local, remote, baseline)),
        "resident_holding_snapshots_mb": round(held_mb),
        "push_process_peak_mb": round(push_peak_mb),
        "pull_process_peak_mb": round(pull_peak_mb),
        "snapshots_built_peak_rss_mb": round(built_mb),
        "lifetime_peak_rss_mb": round(peak_mb),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    results = [
        json.loads(
            subprocess.run(
                [sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True
            ).stdout
        )
        for size in args.sizes
    ]
    targets = {
        "1000000": "push and pull <= 4 s each on this machine (CPU seconds; and as a ratio to the baseline), "
        "the process's peak while planning <= 1,200 MiB"
    }
    print(json.dumps({"targets": targets, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
