"""`sync push` as its own process, stopped by SIGTERM and by SIGINT while CTCT processes its
activities: one line, exit 130, the run marked interrupted, the lock released — and `--resume`
finishes it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ctct import lists
from ctct.crm import services
from ctct.db import Database
from ctct.db.models import SyncRun
from ctct.sandbox.process import running_sandbox
from ctct.sync import journal

ROOT = Path(__file__).resolve().parents[2]


def cli(url, env, *args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "ctct", "--db", url, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def activated_with_a_list(database_url: str, sandbox_url: str) -> tuple[dict[str, str], Database]:
    """The environment of a console activated against the sandbox, and its database, which holds
    a list News of three contacts to sync."""
    env = os.environ | {
        "CTCT_API_BASE": f"{sandbox_url}/v3",
        "CTCT_AUTH_BASE": f"{sandbox_url}/oauth2/default/v1",
        "CTCT_REDIRECT_URI": "http://127.0.0.1:8501/",
        "CTCT_SECRET_KEY": Fernet.generate_key().decode(),
    }
    assert cli(database_url, env, "activate").wait(timeout=60) == 0
    database = Database(database_url)
    with database.session() as session:
        company = services.create_company(session, "Acme")
        for number in range(3):
            services.create_contact(session, company.id, email=f"p{number}@acme.com", first_name="P")
        lists.create_list(session, "News")
        lists.add_members(session, "News", [f"p{number}@acme.com" for number in range(3)])
    return env, database


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.timeout(120)
def test_a_stopped_push_says_so_in_one_line_and_can_be_resumed(stop, sqlite_url):
    with running_sandbox("--activity-seconds", "8") as url:
        env, database = activated_with_a_list(sqlite_url, url)
        push = cli(sqlite_url, env, "sync", "push", "--yes")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the push waits on its 8-second activity
            with database.session() as session:
                run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
                if run is not None and run.status == "running" and journal.current_lock(database) is not None:
                    break
            time.sleep(0.2)
        time.sleep(1.0)
        push.send_signal(stop)
        out, err = push.communicate(timeout=30)
        assert push.returncode == 130, (out, err)
        # Above the message, only the progress lines the push printed while it ran.
        message = err.strip().splitlines()[-1]
        assert "Traceback" not in err and all(line.startswith("sync: ") for line in err.strip().splitlines()[:-1]), err
        assert message.startswith(f"interrupted{' (SIGTERM)' if stop == signal.SIGTERM else ''}: nothing")
        assert "`python -m ctct sync push --resume`" in message
        with database.session() as session:
            run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
            assert run.status == "interrupted"
        assert journal.current_lock(database) is None
        resume = cli(sqlite_url, env, "sync", "push", "--resume", "--yes", "--json")
        out, err = resume.communicate(timeout=90)
        assert resume.returncode == 0, err
        with database.session() as session:
            statuses = session.scalars(select(SyncRun.status).order_by(SyncRun.id)).all()
        assert statuses[-2:] == ["resumed", "completed"]
        database.dispose()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.timeout(120)
def test_a_stopped_worker_interrupts_the_run_it_commits(stop, sqlite_url):
    """The worker commits in its main thread: a stop signal reaches the commit, which is marked
    interrupted with its lock released, and the worker says it stopped in one line."""
    with running_sandbox("--activity-seconds", "8") as url:
        env, database = activated_with_a_list(sqlite_url, url)
        queued = cli(sqlite_url, env, "sync", "both", "--yes", "--background")
        assert queued.wait(timeout=60) == 0, queued.communicate()
        worker = cli(sqlite_url, env, "worker")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the commit waits on its 8-second activity
            with database.session() as session:
                run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
                if run.status == "running" and journal.current_lock(database) is not None:
                    break
            time.sleep(0.2)
        time.sleep(1.0)
        worker.send_signal(stop)
        out, err = worker.communicate(timeout=30)
        assert worker.returncode == 130, (out, err)
        assert "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("worker stopped")
        with database.session() as session:
            run = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
            assert (run.direction, run.status) == ("both", "interrupted")
        assert journal.current_lock(database) is None
        database.dispose()
