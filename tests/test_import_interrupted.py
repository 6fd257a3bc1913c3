"""An import killed between batches: what it wrote is whole and consistent, and running it again finishes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from newsletter.roster import IMPORT_BATCH
from newsletter.store.base import MemberStatus
from newsletter.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]


def _import(file: Path) -> list[str]:
    return [sys.executable, "-m", "newsletter", "subscribers", "import", str(file), "--list", "sglang", "--confirmed"]


def _counts(path: Path) -> tuple[int, int, int]:
    """Profiles, memberships, and `imported` events in the consent log, read straight from the file."""
    with sqlite3.connect(path) as db:
        profiles = db.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        members = db.execute("SELECT count(*) FROM members WHERE list_id = 'sglang'").fetchone()[0]
        events = db.execute("SELECT count(*) FROM consent_log WHERE action = 'imported'").fetchone()[0]
    return profiles, members, events


def test_an_import_killed_midway_keeps_whole_batches_and_finishes_when_run_again(tmp_path: Path) -> None:
    rows = 2 * IMPORT_BATCH + IMPORT_BATCH // 4
    file = tmp_path / "people.csv"
    emails = [f"reader{i}@mail{i % 7}.example.com" for i in range(rows)]
    body = "".join(f"{e},Reader {i}\r\n" for i, e in enumerate(emails))
    file.write_text(f"email,name\r\n{body}", encoding="utf-8")
    path = tmp_path / "store.db"
    env = {**os.environ, "NEWSLETTER_STORE": f"sqlite:///{path}"}
    store = SqliteStore(path)

    child = subprocess.Popen(_import(file), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while store.count_members("sglang")[MemberStatus.ACTIVE] == 0 and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)  # as the power going: nothing gets to clean up
    child.wait(10)
    child.stderr.close()  # type: ignore[union-attr]

    # The first batch is in, whole: every member with a profile and one consent event; nothing of the next.
    assert _counts(path) == (IMPORT_BATCH, IMPORT_BATCH, IMPORT_BATCH)

    again = subprocess.run(_import(file), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    done = f"{rows:,} rows: {rows - IMPORT_BATCH:,} added as active, {IMPORT_BATCH:,} already present, 0 invalid"
    assert done in again.stdout
    assert _counts(path) == (rows, rows, rows)
    assert [m.email for m in store.members("sglang")] == sorted(emails)
