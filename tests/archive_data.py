"""A small issue and its render, with every per-recipient placeholder in the places an email puts them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from newsletter.issue import Issue, RepoDigest
from newsletter.models import (
    Analysis,
    AnalyzedCommit,
    ChangeType,
    Commit,
    FileChange,
    Importance,
    Person,
    Placeholder,
    RenderedIssue,
    Window,
)


def make_issue(day: date, *, list_id: str = "sglang-daily", language: str = "en", title: str = "SGLang daily") -> Issue:
    window = Window.for_day(day, "Asia/Shanghai")
    moment = window.start.replace(hour=12)
    commit = Commit(
        sha="a" * 40,
        url="https://github.com/sgl-project/sglang/commit/" + "a" * 40,
        title="Speed up the radix cache",
        message="Speed up the radix cache",
        author=Person(name="Ada", login="ada"),
        committed_at=moment,
        authored_at=moment,
        files=[FileChange(path="python/sglang/srt/mem_cache/radix_cache.py", status="modified", patch="@@ " * 5000)],
    )
    analysis = Analysis(change_type=ChangeType.PERF, importance=Importance.HIGH, headline="Faster prefix matching")
    repo = RepoDigest(
        repo="sgl-project/sglang",
        branch="main",
        window=window,
        commits=[AnalyzedCommit(commit=commit, analysis=analysis)],
    )
    return Issue(
        list_id=list_id,
        title=title,
        date=day,
        timezone="Asia/Shanghai",
        language=language,
        repos=[repo],
        generated_at=datetime(day.year, day.month, day.day, 23, 0, tzinfo=UTC),
    )


def make_rendered(issue: Issue, *, subject: str | None = None, view: str | None = None) -> RenderedIssue:
    """As the renderer makes it: the issue's page address (``view``, what the archive gives it) in the render,
    per-recipient placeholders for the rest."""
    view = view or f"https://digest.example.org/{issue.list_id}/{issue.date}.html"
    unsub = Placeholder.UNSUBSCRIBE_URL.value
    prefs, email = Placeholder.PREFERENCES_URL.value, Placeholder.EMAIL.value
    html = (
        "<!DOCTYPE html><html><head><title>x</title></head><body>"
        f'<a href="{view}">View in browser</a><p>Faster prefix matching</p>'
        f'<p>Sent to {email}. <a href="{unsub}">Unsubscribe</a> · <a href="{prefs}">Preferences</a>'
        "%%future_placeholder%%</p></body></html>"
    )
    text = (
        f"View in browser: {view}\nFaster prefix matching\n"
        f"Sent to {email}. Unsubscribe: {unsub}\nPreferences: {prefs}\n"
    )
    return RenderedIssue(
        subject=subject or f"SGLang daily — {issue.date.isoformat()}: 1 commit",
        preheader="Faster prefix matching",
        html=html,
        text=text,
        markdown=f"[View in browser]({view})\n\n# Faster prefix matching\n\n[Unsubscribe]({unsub})\n",
        html_bytes=len(html.encode()),
    )
