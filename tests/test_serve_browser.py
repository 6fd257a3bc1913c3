"""A self-hosted list end to end, as a reader and a mail provider meet it: `newsletter serve` as a subprocess on
loopback, SMTP delivery to a local aiosmtpd server, GitHub faked, headless Chromium for the pages.

subscribe (form) → the confirmation mail arrives → its link confirms → `newsletter run` mails the issue → the
mail provider's RFC 8058 one-click POST to the message's List-Unsubscribe URL unsubscribes → the next run skips
that reader; the issue's "view in browser" page is served from the archive."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from newsletter.store.base import MemberStatus
from newsletter.store.sqlite import SqliteStore
from tests.aws_stack import LIST_TOML, SECRET
from tests.browser import Browser, needs_chromium
from tests.fakes.github import FakeGitHub
from tests.fakes.smtp_sink import SmtpSink
from tests.serve_support import Served, free_port, request, wait_for

pytestmark = needs_chromium()
GITHUB = Path(__file__).resolve().parent / "data" / "github" / "widgets-2026-03-08"
ADA, BOB = "ada@example.org", "bob@example.org"


def mails_to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [
        email.message_from_bytes(r.data, policy=email.policy.default)  # type: ignore[misc]
        for r in sink.received
        if r.rcpt_tos == [address]
    ]


def test_subscribe_confirm_receive_one_click_unsubscribe_and_the_archive(
    browser: Browser, tmp_path: Path, isolated_env: Path
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    lists = tmp_path / "subscribers"
    lists.mkdir()
    (lists / "widgets.toml").write_text(LIST_TOML, encoding="utf-8")
    public = f"http://127.0.0.1:{free_port()}"
    store = SqliteStore(isolated_env / "newsletter.db")
    store.add_members([(BOB, None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    with SmtpSink() as sink, FakeGitHub(GITHUB) as gh:
        env = {
            "NEWSLETTER_DATA_DIR": str(isolated_env),
            "NEWSLETTER_LISTS_DIR": str(lists),
            "NEWSLETTER_SECRET": SECRET,
            "NEWSLETTER_PUBLIC_URL": public,
            "NEWSLETTER_ARCHIVE_URL": public,  # serve publishes the archive at its root
            "NEWSLETTER_DELIVERY": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
            "GITHUB_API_URL": gh.api_url,
            "GITHUB_URL": gh.web_url,
        }

        def run(day: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "newsletter", "run", "--list", "widgets", "--date", day],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        with Served(env, "--port", public.rsplit(":", 1)[1]) as served:
            assert served.url == public

            # A reader subscribes through the form.
            browser.goto(f"{public}/subscribe?list=widgets")
            browser.screenshot(shots / "1-subscribe.png")
            browser.type("#email", ADA)
            browser.click("button[type=submit]")
            browser.screenshot(shots / "2-check-your-inbox.png")
            assert "inbox" in browser.eval("document.body.innerText")
            assert store.get_member(ADA, "widgets").status == MemberStatus.PENDING

            # The confirmation mail arrives over SMTP; its link confirms.
            wait_for(lambda: len(mails_to(sink, ADA)) == 1, 30, "the confirmation mail")
            text = mails_to(sink, ADA)[0].get_body(("plain",)).get_content()
            confirm = re.search(rf"{re.escape(public)}/confirm\?token=[\w.\-%]+", text)
            assert confirm, text
            browser.goto(confirm.group(0))
            browser.screenshot(shots / "3-confirmed.png")
            assert "Widgets daily" in browser.eval("document.body.innerText")
            assert store.get_member(ADA, "widgets").status == MemberStatus.ACTIVE

            # The daily run mails the issue to both readers.
            out = run("2026-03-08")
            assert "sent 2, skipped 0, failed 0" in out, out
            issue = mails_to(sink, ADA)[-1]
            assert issue["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            one_click = re.search(r"<(http[^>]+/unsubscribe\?token=[^>]+)>", issue["List-Unsubscribe"])
            assert one_click and one_click.group(1).startswith(f"{public}/unsubscribe?token=")

            # The mail provider's one-click: a POST with List-Unsubscribe=One-Click, no cookie, no page.
            answer = request(
                one_click.group(1),
                method="POST",
                body=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "GoogleOneClick/1.0"},
            )
            assert answer.status == 200
            assert store.get_member(ADA, "widgets").status == MemberStatus.UNSUBSCRIBED

            # The issue's page in the archive, where "view in browser" points.
            html = issue.get_body(("html",)).get_content()
            view = re.search(rf'href="({re.escape(public)}/widgets/2026-03-08\.html)"', html)
            assert view, "no view-in-browser link to the served archive"
            browser.goto(view.group(1))
            browser.screenshot(shots / "4-archive-issue.png")
            page = browser.eval("document.body.innerText")
            assert "Widgets daily" in page and ADA not in page
            browser.goto(f"{public}/widgets/")
            browser.screenshot(shots / "5-archive-list.png")
            assert "2026-03-08" in browser.eval("document.body.innerText")

            # The next run mails Bob only.
            before = len(mails_to(sink, ADA))
            out = run("2026-03-09")
            assert "sent 1, skipped 0, failed 0" in out, out
            assert len(mails_to(sink, ADA)) == before
            assert len(mails_to(sink, BOB)) == 2
        assert served.returncode == 0
    access = [line for line in served.lines if "newsletter.access" in line]
    assert any('"POST /unsubscribe" 200' in line for line in access)
    assert not any("token=" in line for line in served.lines)
