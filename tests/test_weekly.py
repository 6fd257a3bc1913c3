"""The weekly digest through the real CLI, on both stores: `newsletter run --date …` for seven days, then the
run whose issue goes out on the list's weekly day. Daily readers get each day's issue, weekly readers nothing
until the weekly day, then one message covering the seven days (each their own segment of it); a rerun sends
nothing twice. GitHub is faked on loopback (acme/widgets has commits on 8 and 9 March 2026, America/Los_Angeles),
the store is SQLite or DynamoDB (moto server), mail goes to the outbox."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app
from newsletter.errors import ConfigError
from newsletter.lists import parse_list
from newsletter.models import Cadence, ReaderPreferences, Weekday
from newsletter.store.base import LedgerState, MemberStatus
from newsletter.weekly import ends_week, parse_issue_id, week_id
from tests.fakes.github import FakeGitHub
from tests.widgets import WIDGETS_DAY, write_lists

FIRST = date(2026, 3, 8)  # a Sunday; the week runs Sunday to Saturday and goes out on Sunday 15 March
LAST = FIRST + timedelta(days=6)
LIST_TOML = """\
title = "Widgets daily"
repos = ["acme/widgets"]
timezone = "America/Los_Angeles"
sender = "Commit Digest <digest@example.com>"
postal_address = "Widgets Inc., 1 Example Road, Springfield"
skip_empty_days = true
analyzer = "heuristic"
weekly_day = "sunday"
"""
DAILY, WEEKLY, WEEKLY_LOADER = "ada@example.org", "bob@example.org", "cyd@example.org"
DAY8 = {"d3e673d", "41342ce", "7fa9ee2", "f74cb05", "03febc3", "e41fa56"}  # 8 March, local time (no bot)
DAY9 = {"3f69c7a", "d20625d", "d7b41d5"}


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_lists(tmp_path / "lists", monkeypatch, {"widgets": LIST_TOML})


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def outbox(data: Path) -> list[EmailMessage]:
    folder = data / "outbox"
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.is_dir() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]  # type: ignore[misc]


def shas(mail: EmailMessage) -> set[str]:
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return set(re.findall(r"\b([0-9a-f]{7})\b", text)) & (DAY8 | DAY9)


def test_weekly_readers_get_one_message_on_the_weekly_day_covering_seven_days(
    widgets_github: FakeGitHub,
    lists: Path,
    store_env: dict[str, Any],
    make_store: Callable[..., Any],
    isolated_env: Path,
) -> None:
    store = make_store()
    store.add_members(
        [(e, None) for e in (DAILY, WEEKLY, WEEKLY_LOADER)], "widgets", status=MemberStatus.ACTIVE, source="test"
    )
    assert store.set_preferences(WEEKLY, "widgets", ReaderPreferences(cadence=Cadence.WEEKLY), source="test")
    loader = ReaderPreferences(cadence=Cadence.WEEKLY, areas=("widgets/",))
    assert store.set_preferences(WEEKLY_LOADER, "widgets", loader, source="test")

    # Six days: the daily reader gets the two days with commits, the weekly readers nothing.
    for back in range(6):
        day = FIRST + timedelta(days=back)
        result = cli("run", "--list", "widgets", "--date", day.isoformat())
        assert result.exit_code == 0, result.output
        assert "widgets week" not in result.output
    mails = outbox(isolated_env)
    assert Counter(str(m["To"]) for m in mails) == {DAILY: 2}
    assert [shas(m) for m in mails] == [DAY8, DAY9]

    # The seventh day goes out on the weekly day: its daily issue (empty, skipped) and the week.
    result = cli("run", "--list", "widgets", "--date", LAST.isoformat())
    assert result.exit_code == 0, result.output
    assert f"widgets week {FIRST}–{LAST}: issue built and archived; sent 2, skipped 0, failed 0" in result.output
    weekly = outbox(isolated_env)[2:]
    assert sorted(str(m["To"]) for m in weekly) == [WEEKLY, WEEKLY_LOADER]
    mine = next(m for m in weekly if str(m["To"]) == WEEKLY)
    assert shas(mine) == DAY8 | DAY9  # both days of the week with commits, in one message
    assert str(mine["Subject"]).startswith("Widgets daily · week of Mar 8: ")
    text = mine.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "The week at a glance" in text and "Day by day:" in text
    assert "Sun 8 Mar: 6 commits (" in text and "Mon 9 Mar: 3 commits (" in text
    assert "Sat 14 Mar: 0 commits (0 high, 0 medium, 0 low)" in text
    page = isolated_env / "archive" / "widgets" / f"week-{LAST}.html"
    assert page.is_file() and f"week-{LAST}.html" in (isolated_env / "archive" / "widgets" / "index.html").read_text()
    assert f"week-{LAST}.html" in text  # view in browser: the week's own page
    # The reader of one area gets the week's changes there, with the week's statistics line.
    theirs = next(m for m in weekly if str(m["To"]) == WEEKLY_LOADER)
    assert {"7fa9ee2", "f74cb05", "41342ce"} <= shas(theirs) < DAY8 | DAY9
    assert not shas(theirs) & DAY9  # nothing under widgets/ on the 9th
    their_text = theirs.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert re.search(r"\b[34] of this week's 9 commits touch your areas \(widgets/\)\.", their_text), their_text
    assert "Mon 9 Mar: 0 commits (0 high, 0 medium, 0 low)" in their_text  # their days' statistics

    # One ledger per reader and week; the daily reader is not in it.
    ledger = {e.email: e.state for e in store.entries(week_id("widgets", LAST))}
    assert ledger == {WEEKLY: LedgerState.SENT, WEEKLY_LOADER: LedgerState.SENT}

    # A rerun of the weekly day, and of the days before, sends nothing twice.
    again = cli("run", "--list", "widgets", "--date", LAST.isoformat())
    assert again.exit_code == 0 and "already sent" in again.output, again.output
    assert cli("run", "--list", "widgets", "--date", (FIRST + timedelta(days=1)).isoformat()).exit_code == 0
    assert len(outbox(isolated_env)) == 4


def test_the_weekly_day_is_validated_and_the_week_ends_before_it() -> None:
    base = {"title": "T", "repos": ["a/b"], "sender": "D <d@example.com>", "postal_address": "1 Road"}
    assert parse_list(base, list_id="x", source="x.toml").weekly_day == Weekday.MONDAY
    listed = parse_list({**base, "weekly_day": "sunday"}, list_id="x", source="x.toml")
    assert ends_week(listed, LAST) and not ends_week(listed, FIRST)
    with pytest.raises(ConfigError, match=r"x\.toml: key 'weekly_day'"):
        parse_list({**base, "weekly_day": "someday"}, list_id="x", source="x.toml")
    assert parse_issue_id(week_id("x", LAST)) == ("x", LAST, True)
    assert parse_issue_id("x/2026-03-08") == ("x", FIRST, False)


def test_on_aws_the_ticks_queue_daily_readers_daily_and_weekly_readers_on_the_weekly_day(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployed path: the scheduled tick (EventBridge) queues recipient batches on SQS, sender Lambdas
    (send_batch) mail them through SES — moto for all of it, one tick a day for a week."""
    from newsletter.aws import handlers
    from tests.aws_stack import event, make_stack

    with FakeGitHub(WIDGETS_DAY) as gh:
        stack = make_stack(moto_endpoint, tmp_path, {"GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url})
        for name, value in stack.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NEWSLETTER_SEND_BATCH", "4")
        store = stack.store()
        daily = [f"daily{i}@{stack.domain}" for i in range(2)]
        weekly = [f"weekly{i}@{stack.domain}" for i in range(2)]
        tester = f"tests@{stack.domain}"
        store.add_members(
            [(e, None) for e in [*daily, *weekly, tester]], "widgets", status=MemberStatus.ACTIVE, source="t"
        )
        for address in weekly:
            store.set_preferences(address, "widgets", ReaderPreferences(cadence=Cadence.WEEKLY), source="test")
        tests_only = ReaderPreferences(cadence=Cadence.WEEKLY, areas=("tests/",))
        store.set_preferences(tester, "widgets", tests_only, source="test")

        # The list sends at 08:00 in Los Angeles (15:00 UTC after the DST change); its weekly day is Monday.
        monday = date(2026, 3, 16)
        ticks = []
        for back in range(6, -1, -1):
            scheduled = event("scheduler-event.json")
            scheduled["time"] = f"{monday - timedelta(days=back)}T15:00:00Z"
            ticks.append(handlers.scheduled(scheduled, None)["issues"])
            stack.drain(handlers.send_batch)
            if back:
                assert {str(m["To"]) for m in stack.mails()} == set(daily)  # weekly readers: nothing yet
        again = handlers.scheduled(scheduled, None)["issues"]
        stack.drain(handlers.send_batch)

    week = week_id("widgets", monday - timedelta(days=1))
    assert [t["issue"] for t in ticks[-1]] == ["widgets/2026-03-15", week]
    assert ticks[-1][1]["messages"] == 1  # three weekly readers, one batch of four
    assert all(len(t) == 1 for t in ticks[:-1]) and all(t["messages"] == 0 for t in again)
    mails = stack.mails()
    assert Counter(str(m["To"]) for m in mails) == {**{a: 7 for a in daily}, **{a: 1 for a in [*weekly, tester]}}
    for mail in mails:
        if str(mail["To"]) in daily:
            continue
        assert "week of Mar 9" in str(mail["Subject"])
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        if str(mail["To"]) == tester:
            assert shas(mail) >= {"3f69c7a"} and "d7b41d5" not in shas(mail)
            assert "of this week's 3 commits" in text
        else:
            assert shas(mail) == DAY9
    ledger = {e.email: e.state for e in store.entries(week)}
    assert ledger == {a: LedgerState.SENT for a in [*weekly, tester]}
    record = store.get_issue(week)
    assert record is not None and record.status == "sent"
