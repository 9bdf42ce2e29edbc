"""CRM load throughput: a 100,000-contact CSV import and 100,000 demo contacts, in rows/s.

Run: .venv/bin/python bench/bench_crm_load.py [--contacts 100000] [--database-url URL]
Prints JSON. Each figure comes with a plain baseline run in the same process (csv.reader plus
executemany of the same rows into a bare table), so the ratio says what the product's
validation, dedupe and ORM cost on top of moving the bytes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.crm import demo, importer
from ctct.db import Database

HEADER = ["Company", "Kind", "Company Email", "First Name", "Last Name", "Email", "Job Title", "Tags"]


def make_csv(contacts: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    companies = max(contacts // 4, 1)
    for index in range(contacts):
        company = index % companies
        writer.writerow(
            [
                f"Company {company:06d} Holdings",
                "customer" if company % 3 else "prospect",
                f"info@company{company:06d}.com" if company % 2 else "",
                rng.choice(["Ann", "Bo", "Cy", "Di", "Ed"]),
                rng.choice(["Lee", "Berg", "Dee", "Kim"]),
                f"person{index:07d}@company{company:06d}.com",
                rng.choice(["Owner", "Buyer", ""]),
                rng.choice(["", "VIP", "VIP;Newsletter", "Apparel Sports Wear"]),
            ]
        )
    return out.getvalue().encode("utf-8")


def baseline_rows_per_second(data: bytes) -> float:
    """csv.reader + executemany into a bare SQLite table: the floor to compare against."""
    started = time.perf_counter()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(Path(folder) / "baseline.db")
        connection.execute("CREATE TABLE t (a, b, c, d, e, f, g, h)")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        connection.commit()
        connection.close()
    return len(rows) / (time.perf_counter() - started)


def import_rows_per_second(data: bytes, database_url: str) -> tuple[float, dict[str, int]]:
    database = Database(database_url)
    started = time.perf_counter()
    frame, ignored = importer.read_import_file("bench.csv", data)
    with database.session() as session:
        plan = importer.plan_crm_import(session, frame, ignored_columns=ignored)
        summary = importer.commit_crm_import(session, plan)
    elapsed = time.perf_counter() - started
    database.dispose()
    return len(frame) / elapsed, summary.to_json()


def demo_rows_per_second(contacts: int, database_url: str) -> tuple[float, int]:
    database = Database(database_url)
    started = time.perf_counter()
    with database.session() as session:
        summary = demo.load_demo_data(session, companies=max(contacts // 3, 1), replace=True)
    elapsed = time.perf_counter() - started
    database.dispose()
    return summary.contacts / elapsed, summary.contacts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per measurement")
    args = parser.parse_args()
    data = make_csv(args.contacts)
    with tempfile.TemporaryDirectory() as folder:
        import_url = args.database_url or f"sqlite:///{Path(folder) / 'import.db'}"
        demo_url = args.database_url or f"sqlite:///{Path(folder) / 'demo.db'}"
        baseline = baseline_rows_per_second(data)
        import_rate, summary = import_rows_per_second(data, import_url)
        demo_rate, demo_contacts = demo_rows_per_second(args.contacts, demo_url)
    print(
        json.dumps(
            {
                "contacts": args.contacts,
                "database": (args.database_url or "sqlite").split(":")[0],
                "csv_import_rows_per_s": round(import_rate),
                "csv_import_result": summary,
                "demo_data_rows_per_s": round(demo_rate),
                "demo_data_contacts": demo_contacts,
                "plain_baseline_rows_per_s": round(baseline),
                "csv_import_vs_baseline": round(import_rate / baseline, 3),
                "demo_data_vs_baseline": round(demo_rate / baseline, 3),
                "target_rows_per_s": 20_000,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
