"""CRM load throughput: a 100,000-contact CSV import and 100,000 demo contacts, in rows/s.

Run: .venv/bin/python bench/bench_crm_load.py [--contacts 100000] [--database-url URL]
Prints JSON. Each figure comes with a plain baseline run in the same process against the same
database, so the ratio says what the product's validation, dedupe and bookkeeping cost on top of
moving the bytes:

- SQLite (the default): csv.reader plus one sqlite3 `executemany` of the same rows into a bare
  table of a fresh SQLite file, committed.
- PostgreSQL (`--database-url postgresql+psycopg://…`): csv.reader plus one psycopg 3
  `executemany` (which pipelines the statements) into a bare table in a fresh schema of that
  database, committed. A COPY of the same rows is timed too and reported beside it, as the
  fastest plain way in; the goal is stated against the executemany baseline.

Every measurement starts from an empty database (a fresh SQLite file, or a fresh PostgreSQL schema
dropped afterwards) and comes after a small warm-up run of the same code. The load average is
printed before and after. On SQLite all the work is this process's, so the CPU seconds of the
import and of the baseline are printed too: on a loaded machine their ratio is the steadier one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctct.crm import demo, importer
from ctct.db import Database

HEADER = ["Company", "Kind", "Company Email", "First Name", "Last Name", "Email", "Job Title", "Tags"]
GOAL_RATIO = 0.3
WARM_UP_CONTACTS = 2_000


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


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]


BARE_TABLE = "CREATE TABLE t (a text, b text, c text, d text, e text, f text, g text, h text)"


class Timed:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Timed:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def sqlite_baseline_seconds(data: bytes) -> Timed:
    """csv.reader + executemany into a bare table of a fresh SQLite file, committed."""
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(Path(folder) / "baseline.db")
        connection.execute(BARE_TABLE)
        connection.commit()
        with Timed() as timed:
            rows = _rows(data)
            connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            connection.commit()
        connection.close()
        return timed


def _libpq_url(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_schema(database_url: str) -> Iterator[str]:
    """A fresh, empty schema in the database: the URL that works in it, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def postgres_baseline_seconds(data: bytes, database_url: str, *, copy: bool = False) -> Timed:
    """csv.reader + psycopg executemany (or COPY) into a bare table of a fresh schema, committed."""
    with postgres_schema(database_url) as url, psycopg.connect(_libpq_url(url)) as connection:
        connection.execute(BARE_TABLE)
        connection.commit()
        with Timed() as timed:
            rows = _rows(data)
            with connection.cursor() as cursor:
                if copy:
                    with cursor.copy("COPY t FROM STDIN") as stream:
                        for row in rows:
                            stream.write_row(row)
                else:
                    cursor.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
            connection.commit()
        return timed


@contextlib.contextmanager
def empty_database(database_url: str | None) -> Iterator[str]:
    if database_url:
        with postgres_schema(database_url) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'console.db'}"


def import_seconds(data: bytes, database_url: str | None) -> tuple[Timed, dict[str, int]]:
    """The whole import a user waits for: read the file, plan it, commit it (migrations excluded)."""
    with empty_database(database_url) as url:
        database = Database(url)
        with Timed() as timed:
            frame, ignored = importer.read_import_file("bench.csv", data)
            with database.session() as session:
                plan = importer.plan_crm_import(session, frame, ignored_columns=ignored)
                summary = importer.commit_crm_import(session, plan)
        database.dispose()
    return timed, summary.to_json()


def demo_seconds(contacts: int, database_url: str | None) -> tuple[float, int]:
    with empty_database(database_url) as url:
        database = Database(url)
        started = time.perf_counter()
        with database.session() as session:
            summary = demo.load_demo_data(session, companies=max(contacts // 3, 1), replace=True)
        elapsed = time.perf_counter() - started
        database.dispose()
    return elapsed, summary.contacts


def best_of(runs: int, measure: Callable[[], Timed]) -> Timed:
    return min((measure() for _ in range(runs)), key=lambda timed: timed.wall)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL URL; default: a fresh SQLite file per measurement")
    parser.add_argument("--runs", type=int, default=1, help="each figure is the best of this many runs")
    args = parser.parse_args()
    postgres = bool(args.database_url)
    data = make_csv(args.contacts)

    def baseline(sample: bytes, copy: bool = False) -> Timed:
        if postgres:
            return postgres_baseline_seconds(sample, args.database_url, copy=copy)
        return sqlite_baseline_seconds(sample)

    load_before = os.getloadavg()
    warm_up = make_csv(WARM_UP_CONTACTS)
    baseline(warm_up)
    import_seconds(warm_up, args.database_url)
    demo_seconds(WARM_UP_CONTACTS, args.database_url)

    baseline_timed = best_of(args.runs, lambda: baseline(data))
    copy_s = best_of(args.runs, lambda: baseline(data, copy=True)).wall if postgres else None
    import_runs = [import_seconds(data, args.database_url) for _ in range(args.runs)]
    import_timed, summary = min(import_runs, key=lambda run: run[0].wall)
    baseline_s, import_s = baseline_timed.wall, import_timed.wall
    demo_runs = [demo_seconds(args.contacts, args.database_url) for _ in range(args.runs)]
    demo_s, demo_contacts = min(demo_runs, key=lambda run: run[0])

    def rate(rows: int, seconds: float) -> int:
        return round(rows / seconds)

    baseline_rate = args.contacts / baseline_s
    import_rate = args.contacts / import_s
    demo_rate = demo_contacts / demo_s
    figures: dict[str, object] = {
        "contacts": args.contacts,
        "database": "postgresql" if postgres else "sqlite",
        "baseline": (
            "csv.reader + psycopg executemany into a bare table in the same PostgreSQL"
            if postgres
            else "csv.reader + sqlite3 executemany into a bare table of a SQLite file"
        ),
        "csv_import_seconds": round(import_s, 3),
        "csv_import_rows_per_s": rate(args.contacts, import_s),
        "csv_import_result": summary,
        "demo_data_rows_per_s": round(demo_rate),
        "demo_data_contacts": demo_contacts,
        "plain_baseline_seconds": round(baseline_s, 3),
        "plain_baseline_rows_per_s": round(baseline_rate),
        "csv_import_vs_baseline": round(import_rate / baseline_rate, 3),
        "demo_data_vs_baseline": round(demo_rate / baseline_rate, 3),
        "goal_csv_import_vs_baseline": GOAL_RATIO,
        "target_rows_per_s": 20_000,
    }
    if not postgres:
        figures["csv_import_cpu_seconds"] = round(import_timed.cpu, 3)
        figures["plain_baseline_cpu_seconds"] = round(baseline_timed.cpu, 3)
        figures["csv_import_vs_baseline_cpu"] = round(baseline_timed.cpu / import_timed.cpu, 3)
    if copy_s is not None:
        figures["copy_baseline_rows_per_s"] = rate(args.contacts, copy_s)
        figures["csv_import_vs_copy_baseline"] = round(import_rate / (args.contacts / copy_s), 3)
    figures["load_average_before"] = [round(load, 2) for load in load_before]
    figures["load_average_after"] = [round(load, 2) for load in os.getloadavg()]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
