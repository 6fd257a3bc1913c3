"""One list's fault never stops the run of the others: `run_due` over two lists on their weekly day, where a fault
nobody foresaw (the store's disk failing) meets the first list, daily or weekly. The second list is still built
and mailed, daily and weekly, and each failure is one line in its own result. GitHub is faked on loopback, the
store is the real SQLite store (a subclass that fails where the test says), mail goes to the outbox."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.context import Context
from newsletter.models import Cadence, ReaderPreferences
from newsletter.pipeline import run_due
from newsletter.store.base import IssueRecord, MemberStatus
from newsletter.store.sqlite import SqliteStore
from newsletter.weekly import week_id
from tests.fakes.github import FakeGitHub
from tests.widgets import write_lists

DAY = date(2026, 3, 9)  # a Monday with commits; the lists' weekly day is Tuesday, so the week 3–9 March goes too
LIST_TOML = """\
title = "{title}"
repos = ["acme/widgets"]
timezone = "America/Los_Angeles"
sender = "Commit Digest <digest@example.com>"
postal_address = "Widgets Inc., 1 Example Road, Springfield"
analyzer = "heuristic"
weekly_day = "tuesday"
"""
FAULT = "unexpected error: OperationalError: disk I/O error"


class FailingStore(SqliteStore):
    """The real store, whose disk fails when the first list's readers' choices, or its week's issue record, are
    read (``where``)."""

    def __init__(self, path: Path, where: str) -> None:
        super().__init__(path)
        self.where = where

    def list_preferences(self, list_id: str) -> Iterator[tuple[str, ReaderPreferences]]:
        if self.where == "preferences" and list_id == "alpha":
            raise sqlite3.OperationalError("disk I/O error")
        yield from super().list_preferences(list_id)

    def get_issue(self, issue_id: str) -> IssueRecord | None:
        if self.where == "week" and issue_id == week_id("alpha", DAY):
            raise sqlite3.OperationalError("disk I/O error")
        return super().get_issue(issue_id)


@dataclass
class FailingContext(Context):
    where: str = ""

    @cached_property
    def store(self) -> FailingStore:  # type: ignore[override]
        return FailingStore(self.settings.data_dir / "newsletter.db", self.where)


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    files = {list_id: LIST_TOML.format(title=f"{list_id} daily") for list_id in ("alpha", "beta")}
    return write_lists(tmp_path / "lists", monkeypatch, files)


def recipients(data: Path) -> Counter[str]:
    folder = data / "outbox"
    return Counter(
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"])
        for p in (folder.glob("*.eml") if folder.is_dir() else [])
    )


@pytest.mark.parametrize(
    ("where", "alpha_daily"),
    [("preferences", "failed"), ("week", "delivered")],
    ids=["readers-choices", "week-record"],
)
def test_a_fault_in_one_lists_week_leaves_the_next_list_built_and_mailed(
    widgets_github: FakeGitHub, lists: Path, isolated_env: Path, where: str, alpha_daily: str
) -> None:
    setup = SqliteStore(isolated_env / "newsletter.db")
    for list_id in ("alpha", "beta"):
        daily, weekly = f"{list_id}-daily@example.org", f"{list_id}-weekly@example.org"
        setup.add_members([(daily, None), (weekly, None)], list_id, status=MemberStatus.ACTIVE, source="test")
        assert setup.set_preferences(weekly, list_id, ReaderPreferences(cadence=Cadence.WEEKLY), source="test")
    setup.close()

    ctx = FailingContext(settings=Settings.from_env(), where=where)
    try:
        runs = run_due(ctx, datetime(2026, 3, 10, 20, tzinfo=UTC), day=DAY)
    finally:
        ctx.close()

    assert [(r.list_id, r.weekly, r.outcome) for r in runs] == [
        ("alpha", False, alpha_daily),
        ("alpha", True, "failed"),
        ("beta", False, "delivered"),
        ("beta", True, "delivered"),
    ]
    assert [r.error for r in runs if r.outcome == "failed"] == [FAULT] * (2 if alpha_daily == "failed" else 1)
    assert all(r.ok for r in runs if r.list_id == "beta")
    mailed = recipients(isolated_env)
    assert mailed["beta-daily@example.org"] == 1 and mailed["beta-weekly@example.org"] == 1
    assert mailed["alpha-weekly@example.org"] == 0
    assert mailed["alpha-daily@example.org"] == (1 if alpha_daily == "delivered" else 0)
