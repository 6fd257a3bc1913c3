"""Shared set-up for the delivery tests: a list, a rendered issue with placeholders, subscribers in a store."""

from __future__ import annotations

from datetime import date
from html import escape
from pathlib import Path

from newsletter.deliver.service import SendableIssue, issue_id
from newsletter.models import MailingList, Placeholder, RenderedIssue, RepoSpec
from newsletter.store.base import MemberStatus

SECRET = "deliver-Ub4Ne8Kq2Xw6Rt0Mz3Py7Lc1Vh5Gd9Ja"
DAY = date(2026, 1, 13)
SENDER = "Commit Digest <digest@example.com>"
# The issue's page on the archive: the same for every reader, in the render itself (escaped in the HTML).
VIEW_URL = "https://digest.example.com/digest/2026-01-13/?utm=a&b=c"

LIST_TOML = """\
id = "digest"
title = "sglang daily"
repos = ["sgl-project/sglang"]
timezone = "Asia/Shanghai"
sender = "Commit Digest <digest@example.com>"
reply_to = "editor@example.com"
postal_address = "1 Example Road, Springfield"
"""


def mailing_list() -> MailingList:
    return MailingList(
        id="digest",
        title="sglang daily",
        repos=[RepoSpec.parse("sgl-project/sglang")],
        timezone="Asia/Shanghai",
        sender=SENDER,
        reply_to="editor@example.com",
        postal_address="1 Example Road, Springfield",
    )


def rendered(subject: str = "sglang daily · 2026-01-13 · Faster MoE kernels on H200") -> RenderedIssue:
    html = (
        "<html><body><h1>sglang daily</h1><p>Für alle — 每日摘要</p>"
        f'<a href="{escape(VIEW_URL)}">view in browser</a> '
        f'<a href="{Placeholder.PREFERENCES_URL}">preferences</a> '
        f'<a href="{Placeholder.UNSUBSCRIBE_URL}">unsubscribe</a> '
        f"<p>sent to {Placeholder.EMAIL}</p>" + "<p>" + "commit detail " * 400 + "</p></body></html>"
    )
    text = (
        "sglang daily\n\nFür alle\n"
        f"View: {VIEW_URL}\nPreferences: {Placeholder.PREFERENCES_URL}\n"
        f"Unsubscribe: {Placeholder.UNSUBSCRIBE_URL}\nSent to {Placeholder.EMAIL}\n"
    )
    return RenderedIssue(
        subject=subject, preheader="3 high", html=html, text=text, markdown=text, html_bytes=len(html.encode())
    )


def sendable(view_url: str = VIEW_URL) -> SendableIssue:
    return SendableIssue(issue_id=issue_id("digest", DAY), rendered=rendered(), view_url=view_url)


def subscribers(n: int) -> list[str]:
    return [f"reader{i:04d}@example.org" for i in range(n)]


def seed(store: object, n: int, list_id: str = "digest") -> list[str]:
    emails = subscribers(n)
    store.add_members([(e, None) for e in emails], list_id, status=MemberStatus.ACTIVE, source="test")  # type: ignore[attr-defined]
    return emails


def write_list(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "digest.toml").write_text(LIST_TOML, encoding="utf-8")
    return folder
