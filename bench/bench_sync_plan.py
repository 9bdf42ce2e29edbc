"""Planning time and peak memory of the pure planner at 100,000 and 1,000,000 contacts.

Run: .venv/bin/python bench/bench_sync_plan.py [--sizes 100000 1000000]
Both sides hold the same contacts on 50 lists (two lists each); then 1 % of the contacts change:
new local memberships, memberships removed in CTCT, edited names, new contacts, two lists renamed.
Each size runs in a fresh process so its peak resident memory is its own. Prints JSON, with a
plain baseline: one pandas merge of the two membership frames, timed in the same process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.sync.plan import plan_pull, plan_push
from ctct.sync.snapshot import Baseline, LocalSnapshot, RemoteSnapshot

LISTS = 50


def build(size: int, seed: int = 5) -> tuple[LocalSnapshot, RemoteSnapshot, Baseline]:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, size + 1)
    emails = pd.Series([f"person{n}@company{n // 4}.com" for n in ids])
    remote_ids = pd.Series([f"c-{n:08d}" for n in ids])
    list_ids = np.arange(1, LISTS + 1)
    ctct_list_ids = [f"l-{n:03d}" for n in list_ids]
    names = [f"List {n}" for n in list_ids]
    first_list = rng.integers(0, LISTS, size)
    second_list = (first_list + 1 + rng.integers(0, LISTS - 1, size)) % LISTS
    members = pd.DataFrame(
        {"list_id": np.concatenate([first_list, second_list]) + 1, "contact_id": np.concatenate([ids, ids])}
    )
    contacts = pd.DataFrame(
        {
            "contact_id": ids,
            "company_id": ids // 4,
            "company": [f"Company {n // 4}" for n in ids],
            "first_name": "Pat",
            "last_name": "Lee",
            "email": emails,
            "job_title": "Buyer",
            "unsubscribed": False,
            "unsubscribe_source": None,
            "ctct_contact_id": remote_ids,
            "email_key": emails,
            "reason": None,
        }
    )
    local = LocalSnapshot(
        lists=pd.DataFrame(
            {"list_id": list_ids, "name": names, "ctct_list_id": ctct_list_ids, "name_key": [n.lower() for n in names]}
        ),
        contacts=contacts,
        members=members,
        companies=pd.DataFrame(
            {
                "company_id": ids // 4,
                "name": [f"Company {n // 4}" for n in ids],
                "name_key": [f"company {n // 4}" for n in ids],
            }
        ).drop_duplicates("company_id"),
    )
    remote_members = pd.DataFrame(
        {
            "ctct_list_id": [ctct_list_ids[i - 1] for i in members["list_id"]],
            "ctct_contact_id": remote_ids.iloc[members["contact_id"] - 1].to_numpy(),
        }
    )
    remote_contacts = pd.DataFrame(
        {
            "ctct_contact_id": remote_ids,
            "email": emails,
            "first_name": "Pat",
            "last_name": "Lee",
            "job_title": "Buyer",
            "company_name": contacts["company"],
            "permission": "implicit",
            "opt_out_source": None,
            "deleted": False,
            "updated_at": "2026-11-29T12:00:00.000Z",
            "email_key": emails,
        }
    )
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
        members=remote_members,
        taken_at="2026-11-29T12:00:00Z",
    )
    baseline = Baseline(
        lists=pd.DataFrame({"ctct_list_id": ctct_list_ids, "name": names}),
        members=pd.DataFrame(
            {
                "ctct_list_id": remote_members["ctct_list_id"],
                "email_key": emails.iloc[members["contact_id"] - 1].to_numpy(),
            }
        ),
        contacts=pd.DataFrame(
            {
                "email_key": emails,
                "first_name": "Pat",
                "last_name": "Lee",
                "company_name": contacts["company"],
                "job_title": "Buyer",
            }
        ),
    )
    # 1 % changes on each side.
    changed = rng.choice(size, size // 100, replace=False)
    local.members = pd.concat(
        [local.members, pd.DataFrame({"list_id": (first_list[changed] + 2) % LISTS + 1, "contact_id": ids[changed]})]
    ).drop_duplicates()
    local.contacts.loc[changed[: size // 200], "job_title"] = "Owner"
    drop = rng.choice(len(remote.members), size // 100, replace=False)
    remote.members = remote.members.drop(remote.members.index[drop])
    remote.lists.loc[0, "name"] = "Renamed in CTCT"
    local.lists.loc[1, "name"] = "Renamed here"
    extra = pd.DataFrame({"contact_id": np.arange(size + 1, size + size // 100 + 1)})
    extra_rows = pd.DataFrame(
        {
            "contact_id": extra["contact_id"],
            "company_id": 1,
            "company": "Company 1",
            "first_name": "New",
            "last_name": "Person",
            "email": [f"new{n}@x.com" for n in extra["contact_id"]],
            "job_title": None,
            "unsubscribed": False,
            "unsubscribe_source": None,
            "ctct_contact_id": None,
            "reason": None,
        }
    )
    extra_rows["email_key"] = extra_rows["email"]
    local.contacts = pd.concat([local.contacts, extra_rows], ignore_index=True)
    local.members = pd.concat([local.members, pd.DataFrame({"list_id": 3, "contact_id": extra["contact_id"]})])
    return local, remote, baseline


def measure(size: int) -> dict[str, object]:
    local, remote, baseline = build(size)
    started = time.perf_counter()
    local.members.merge(local.contacts[["contact_id", "email"]], on="contact_id")
    baseline_seconds = time.perf_counter() - started
    started = time.perf_counter()
    push = plan_push(local, remote, baseline)
    push_seconds = time.perf_counter() - started
    started = time.perf_counter()
    pull = plan_pull(local, remote, baseline)
    pull_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "contacts": size,
        "lists": LISTS,
        "memberships": len(local.members),
        "push_plan_seconds": round(push_seconds, 2),
        "pull_plan_seconds": round(pull_seconds, 2),
        "push_changes": {k: v for k, v in push.counts().items() if v},
        "pull_changes": {k: v for k, v in pull.counts().items() if v},
        "baseline_merge_seconds": round(baseline_seconds, 3),
        "push_vs_baseline": round(push_seconds / baseline_seconds, 1),
        "peak_rss_mb": round(peak_mb),
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
    print(json.dumps({"targets": {"100000": "<= 2 s", "1000000": "<= 20 s, peak <= 2 GB"}, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
