"""subscribe → confirm → unsubscribe clicked through in headless Chromium, against the ``http`` Lambda handler
behind the local adapter (SQLite store, file outbox): the links come from the emails actually sent."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.backends import make_sender, open_store
from newsletter.config import Settings
from newsletter.deliver.service import SendableIssue, deliver
from newsletter.lists import load_list
from newsletter.store.base import MemberStatus
from newsletter.subscriptions import Tokens
from tests.aws_stack import LIST_TOML, SECRET
from tests.browser import Browser, endpoints_site, needs_chromium
from tests.deliver_support import rendered

pytestmark = needs_chromium()
ADDRESS = "ada@example.org"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from endpoints_site(tmp_path, monkeypatch, "widgets.toml", LIST_TOML, SECRET)


def outbox(settings: Settings) -> list[email.message.EmailMessage]:
    folder = settings.outbox_dir or settings.data_dir / "outbox"
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(folder.glob("**/*.eml"))
    ]


def link(message: email.message.EmailMessage, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"http://127\.0\.0\.1:\d+{path}\?token=[\w.\-%]+", text).group(0)


def test_subscribe_confirm_unsubscribe_in_a_browser(site: str, browser: Browser, tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    settings = Settings.from_env()
    store = open_store(settings)

    browser.goto(f"{site}/subscribe?list=widgets")
    browser.screenshot(shots / "1-subscribe.png")
    browser.type("#email", ADDRESS)
    browser.click("button[type=submit]")
    assert "inbox" in browser.eval("document.body.innerText")
    assert store.get_member(ADDRESS, "widgets").status == MemberStatus.PENDING

    (confirmation,) = outbox(settings)
    browser.goto(link(confirmation, "/confirm"))
    browser.screenshot(shots / "2-confirmed.png")
    assert "Widgets daily" in browser.eval("document.body.innerText")
    assert store.get_member(ADDRESS, "widgets").status == MemberStatus.ACTIVE

    # An issue goes out through the campaign; its unsubscribe link is the reader's way out.
    mailing_list = load_list(settings.lists_dir, "widgets")
    issue = SendableIssue(issue_id="widgets/2026-03-08", rendered=rendered(), view_url=f"{site}/view")
    result = deliver(
        mailing_list, issue, settings=settings, store=store, sender=make_sender(settings), tokens=Tokens(SECRET)
    )
    assert result.sent == 1
    issue_mail = next(m for m in outbox(settings) if "Unsubscribe:" in m.get_body(("plain",)).get_content())
    browser.goto(link(issue_mail, "/unsubscribe"))
    assert store.get_member(ADDRESS, "widgets").status == MemberStatus.ACTIVE  # opening the link only asks
    browser.click("form button")  # "Unsubscribe"
    browser.screenshot(shots / "3-unsubscribed.png")
    assert store.get_member(ADDRESS, "widgets").status == MemberStatus.UNSUBSCRIBED

    browser.click("form button")  # "Subscribe again": the undo
    browser.screenshot(shots / "4-resubscribed.png")
    assert store.get_member(ADDRESS, "widgets").status == MemberStatus.ACTIVE
    store.close()
