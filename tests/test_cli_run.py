"""`newsletter run` through the real CLI: GitHub faked on loopback, a list file in a tmp folder, the SQLite store
and the outbox in the test's data folder. Each (list, day) is built once and mailed once; empty days follow
skip_empty_days; `run --sample` works on an empty data folder with no secret, no key and no list file."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app
from newsletter.store.base import MemberStatus
from newsletter.store.sqlite import SqliteStore
from tests.fakes.github import FakeGitHub
from tests.widgets import write_lists

DAY, QUIET_DAY = "2026-03-08", "2026-03-02"  # the fixture's day of commits; a day without any
POSTAL = "Widgets Inc., 1 Example Road, Springfield"
LIST_TOML = f"""\
title = "Widgets daily"
repos = ["acme/widgets"]
timezone = "America/Los_Angeles"
sender = "Commit Digest <digest@example.com>"
postal_address = "{POSTAL}"
skip_empty_days = true
analyzer = "heuristic"
"""
ACTIVE = ["ada@example.org", "bob@example.org", "cyd@example.org"]


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_lists(tmp_path / "lists", monkeypatch, {"widgets": LIST_TOML})


@pytest.fixture
def store(isolated_env: Path) -> Iterator[SqliteStore]:
    """The CLI's default store (SQLite in the data folder), with three active readers, one pending, one gone."""
    db = SqliteStore(isolated_env / "newsletter.db")
    db.add_members([(e, None) for e in ACTIVE], "widgets", status=MemberStatus.ACTIVE, source="test")
    db.add_members([("pending@example.org", None)], "widgets", status=MemberStatus.PENDING, source="test")
    db.add_members([("gone@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    db.transition(
        "gone@example.org",
        "widgets",
        MemberStatus.UNSUBSCRIBED,
        allowed_from=frozenset({MemberStatus.ACTIVE}),
        action="unsubscribed",
        source="test",
    )
    yield db
    db.close()


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def outbox(data: Path) -> list[EmailMessage]:
    folder = data / "outbox"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]  # type: ignore[misc]


def test_run_builds_archives_and_mails_every_active_reader_once(
    widgets_github: FakeGitHub, lists: Path, store: SqliteStore, isolated_env: Path
) -> None:
    first = cli("run", "--list", "widgets", "--date", DAY)
    assert first.exit_code == 0, first.output
    assert f"widgets {DAY}: issue built and archived; sent 3, skipped 0, failed 0" in first.stdout
    mails = outbox(isolated_env)
    assert sorted(str(m["To"]) for m in mails) == ACTIVE
    assert all("List-Unsubscribe=One-Click" in str(m["List-Unsubscribe-Post"]) for m in mails)
    text = mails[0].get_body(("plain",)).get_content()
    html = mails[0].get_body(("html",)).get_content()
    assert POSTAL in text and POSTAL in html  # the list's postal address reaches the footer
    page = isolated_env / "archive" / "widgets" / f"{DAY}.html"
    assert page.is_file() and "acme/widgets" in page.read_text(encoding="utf-8")
    assert f"archived page: {page.as_uri()}" in first.stdout
    assert f"messages: outbox {isolated_env / 'outbox'}" in first.stdout
    record = store.get_issue(f"widgets/{DAY}")
    assert record is not None and record.status == "sent" and record.stats["sent"] == 3
    fetched = len(widgets_github.requests)

    again = cli("run", "--list", "widgets", "--date", DAY)
    assert again.exit_code == 0, again.output
    assert "issue reused" in again.stdout and "nothing sent this time" in again.stdout
    assert len(outbox(isolated_env)) == 3
    assert len(widgets_github.requests) == fetched  # the stored issue is reused: GitHub is not asked again

    # `send` runs the campaign regardless; the ledger lets nobody through twice.
    resend = cli("send", "widgets", "--date", DAY)
    assert resend.exit_code == 0, resend.output
    assert len(outbox(isolated_env)) == 3
    assert any(line.split() == ["0", "3", "0", "0", "0"] for line in _rows(resend.stdout))


def _rows(table: str) -> list[str]:
    """The cells of a Rich table's rows (sent, skipped, failed, deferred, ambiguous …), without borders."""
    return [" ".join(c.strip() for c in line.split("│")[1:6]) for line in table.splitlines() if line.count("│") > 5]


def test_an_empty_day_that_the_list_skips_sends_nothing_and_says_so(
    widgets_github: FakeGitHub, lists: Path, store: SqliteStore, isolated_env: Path
) -> None:
    result = cli("run", "--list", "widgets", "--date", QUIET_DAY)
    assert result.exit_code == 0, result.output
    assert f"widgets {QUIET_DAY}: no commits that day; nothing sent" in result.stdout
    assert outbox(isolated_env) == []
    assert not (isolated_env / "archive" / "widgets" / f"{QUIET_DAY}.html").exists()
    record = store.get_issue(f"widgets/{QUIET_DAY}")
    assert record is not None and record.status == "skipped"
    asked = len(widgets_github.requests)
    again = cli("run", "--date", QUIET_DAY)  # every list, that day
    assert again.exit_code == 0 and "nothing sent" in again.stdout
    assert len(widgets_github.requests) == asked  # decided once: the day is not collected again


def test_run_without_a_list_takes_the_lists_whose_send_time_has_come(
    widgets_github: FakeGitHub, lists: Path, store: SqliteStore, isolated_env: Path
) -> None:
    now = datetime.now(UTC)
    due = LIST_TOML.replace(
        'timezone = "America/Los_Angeles"', f'timezone = "UTC"\nsend_at = {now - timedelta(minutes=1):%H:%M:%S}'
    )
    later = due.replace(f"{now - timedelta(minutes=1):%H:%M:%S}", f"{now + timedelta(hours=2):%H:%M:%S}")
    (lists / "widgets.toml").write_text(due, encoding="utf-8")
    (lists / "later.toml").write_text(later, encoding="utf-8")
    result = cli("run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("widgets ") and "later" not in result.stdout  # yesterday: no commits
    (lists / "widgets.toml").unlink()
    nothing = cli("run")
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert "no list is due" in nothing.stderr


def test_send_builds_the_issue_when_no_run_has_and_run_then_sends_nothing(
    widgets_github: FakeGitHub, lists: Path, store: SqliteStore, isolated_env: Path
) -> None:
    sent = cli("send", "widgets", "--date", DAY)
    assert sent.exit_code == 0, sent.output
    assert len(outbox(isolated_env)) == 3
    again = cli("run", "--date", DAY)
    assert again.exit_code == 0, again.output
    assert "already sent to every recipient" in again.stdout
    assert len(outbox(isolated_env)) == 3


def test_real_lists_still_need_the_secret(
    widgets_github: FakeGitHub, lists: Path, store: SqliteStore, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET")
    result = cli("run", "--list", "widgets", "--date", DAY)
    assert result.exit_code == 1
    assert "NEWSLETTER_SECRET is not set" in result.stdout
    assert outbox(isolated_env) == []
    assert widgets_github.requests == [] and not (isolated_env / "archive").exists()  # stopped before any work
    assert not (isolated_env / "sample-secret").exists()


def test_run_sample_on_an_empty_data_folder_then_again(
    isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET")
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(tmp_path / "no-lists-here"))
    monkeypatch.setenv("NEWSLETTER_DELIVERY", "smtp")  # the sample never leaves through a real provider
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # nor asks GitHub: nothing listens there
    assert not isolated_env.exists()

    first = cli("run", "--sample")
    assert first.exit_code == 0, first.output
    mails = outbox(isolated_env)
    assert [str(m["To"]) for m in mails] == ["Sample Reader <reader@example.com>"]
    eml = next((isolated_env / "outbox").glob("*.eml"))
    assert f"message to reader@example.com: {eml}" in first.stdout
    page = isolated_env / "archive" / "sample" / "2026-01-13.html"
    assert page.is_file() and f"archived page: {page.as_uri()}" in first.stdout
    assert "Commit Digest, 1 Example Road" in mails[0].get_body(("plain",)).get_content()
    secret = isolated_env / "sample-secret"
    assert secret.is_file() and secret.stat().st_mode & 0o077 == 0
    kept = secret.read_text()

    again = cli("run", "--sample")
    assert again.exit_code == 0, again.output
    assert "Nothing sent this time" in again.stdout
    assert len(outbox(isolated_env)) == 1
    assert secret.read_text() == kept


def test_run_sample_takes_no_list_or_date(isolated_env: Path) -> None:
    result = cli("run", "--sample", "--list", "widgets")
    assert result.exit_code != 0 and result.stderr.startswith("error: --sample")
