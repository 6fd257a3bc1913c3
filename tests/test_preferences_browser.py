"""The preferences page driven in headless Chromium (the ``http`` handler behind the local adapter, SQLite store,
file outbox): a reader checks an area and a threshold, and the next issue follows them."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from newsletter.config import Settings
from newsletter.context import Context
from newsletter.models import Cadence, Importance, ReaderPreferences, zone
from newsletter.pipeline import run_list
from newsletter.store.base import MemberStatus
from newsletter.subscriptions import Tokens
from tests.browser import Browser, endpoints_site, needs_chromium
from tests.day import day_of_commits

pytestmark = needs_chromium()
SECRET = "browser-Hx5Nq1Wz8Kc3Rv6Lp0Tb4Jm7Fy2Ds9Ga"
ADDRESS = "ada@example.org"
LIST_TOML = """\
title = "SGLang daily"
repos = ["sgl-project/sglang"]
timezone = "Asia/Shanghai"
languages = ["en", "zh-CN"]
sender = "Commit Digest <digest@example.com>"
postal_address = "1 Example Road, Springfield"
analyzer = "heuristic"
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from endpoints_site(tmp_path, monkeypatch, "sglang.toml", LIST_TOML, SECRET)


def _texts(settings: Settings, day: object) -> list[str]:
    folder = settings.outbox_dir or settings.data_dir / "outbox"
    found = []
    for path in sorted(folder.glob("**/*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        if str(day) in str(message["Subject"]) or str(day) in text:
            found.append(text)
    return found


def test_the_preferences_page_changes_areas_and_threshold_and_the_next_issue_follows(
    site: str, browser: Browser, tmp_path: Path
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    settings = Settings.from_env()
    ctx = Context(settings=settings)
    store = ctx.store
    mailing_list = ctx.mailing_list("sglang")
    store.add_members([(ADDRESS, "Ada")], "sglang", status=MemberStatus.ACTIVE, source="test")
    today = datetime.now(UTC).astimezone(zone(mailing_list.timezone)).date()
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    first = run_list(mailing_list, before, ctx, repos=[day_of_commits(40)])
    assert first.ok and first.campaign is not None and first.campaign.sent == 1

    token = Tokens(SECRET).make("preferences", ADDRESS, "sglang")
    browser.goto(f"{site}/preferences?token={quote(token, safe='')}")
    browser.screenshot(shots / "1-preferences.png")
    offered = browser.eval("[...document.querySelectorAll('input[name=areas]')].map(e => e.value)")
    assert {"sgl-model-gateway/", "sgl-kernel/", "python/", "docs/"} <= set(offered)  # the day's top-level folders
    assert browser.eval("document.querySelector('#importance-low').checked")  # the list's default
    browser.eval("document.querySelector('input[name=areas][value=\"sgl-model-gateway/\"]').click()")
    browser.eval("document.querySelector('#importance-high').click()")
    browser.screenshot(shots / "2-chosen.png")
    browser.eval("document.querySelector('button[type=submit]').scrollIntoView()")
    browser.click("button[type=submit]")
    browser.screenshot(shots / "3-saved.png")
    assert store.preferences(ADDRESS, "sglang") == ReaderPreferences(
        min_importance=Importance.HIGH, areas=("sgl-model-gateway/",), language="en", cadence=Cadence.DAILY
    )
    assert store.get_member(ADDRESS, "sglang").status == MemberStatus.ACTIVE  # still on the list

    # The next issue follows them: only the high-importance gateway changes, with the reader's statistics line.
    nxt = run_list(mailing_list, yesterday, ctx, repos=[day_of_commits(40)])
    assert nxt.ok and nxt.campaign is not None and nxt.campaign.sent == 1 and nxt.campaign.rendered == 1
    (text,) = _texts(settings, yesterday)
    assert "11 of today's 40 commits touch your areas (sgl-model-gateway/)" in text
    assert "Low-importance" not in text and "Medium-importance" not in text

    # The page shows what was chosen.
    browser.goto(f"{site}/preferences?token={quote(token, safe='')}")
    browser.screenshot(shots / "4-again.png")
    assert browser.eval("document.querySelector('#importance-high').checked")
    checked = browser.eval("[...document.querySelectorAll('input[name=areas]:checked')].map(e => e.value)")
    assert checked == ["sgl-model-gateway/"]
    ctx.close()


def test_a_reader_chooses_the_weekly_cadence_on_the_page_and_the_daily_issues_stop(
    site: str, browser: Browser, tmp_path: Path
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    chinese = LIST_TOML.replace('languages = ["en", "zh-CN"]', 'languages = ["zh-CN", "en"]').replace(
        "SGLang daily", "SGLang 每日简报"
    )
    (tmp_path / "subscribers" / "sglang-zh.toml").write_text(chinese, encoding="utf-8")
    settings = Settings.from_env()
    ctx = Context(settings=settings)
    store = ctx.store
    for list_id in ("sglang", "sglang-zh"):
        store.add_members([(ADDRESS, "Ada")], list_id, status=MemberStatus.ACTIVE, source="test")

    token = Tokens(SECRET).make("preferences", ADDRESS, "sglang")
    browser.goto(f"{site}/preferences?token={quote(token, safe='')}")
    assert browser.eval("document.querySelector('#cadence-daily').checked")  # every reader starts daily
    label = browser.eval("document.querySelector('label[for=cadence-weekly]').textContent")
    assert label == "Once a week, on Monday"  # the list's weekly_day (the default)
    browser.eval("document.querySelector('#cadence-weekly').click()")
    browser.eval("document.querySelector('#cadence-weekly').scrollIntoView()")
    browser.screenshot(shots / "5-weekly-en.png")
    browser.eval("document.querySelector('button[type=submit]').scrollIntoView()")
    browser.click("button[type=submit]")
    assert store.preferences(ADDRESS, "sglang").cadence == Cadence.WEEKLY
    assert store.preferences(ADDRESS, "sglang-zh").cadence is None  # the other list: unchanged

    # The daily issues stop for them (the week comes on the weekly day: tests/test_weekly.py).
    mailing_list = ctx.mailing_list("sglang")
    yesterday = datetime.now(UTC).astimezone(zone(mailing_list.timezone)).date() - timedelta(days=1)
    run = run_list(mailing_list, yesterday, ctx, repos=[day_of_commits(40)])
    assert run.ok and run.campaign is not None and (run.campaign.sent, run.campaign.empty) == (0, 0)
    assert _texts(settings, yesterday) == []
    browser.goto(f"{site}/preferences?token={quote(token, safe='')}")
    assert browser.eval("document.querySelector('#cadence-weekly').checked")

    # The same choice in Chinese, on the list whose language is zh-CN.
    token_zh = Tokens(SECRET).make("preferences", ADDRESS, "sglang-zh")
    browser.goto(f"{site}/preferences?token={quote(token_zh, safe='')}")
    legends = browser.eval("[...document.querySelectorAll('legend')].map(e => e.textContent)")
    assert "接收频率" in legends
    assert browser.eval("document.querySelector('label[for=cadence-weekly]').textContent") == "每周一期（星期一）"
    browser.eval("document.querySelector('#cadence-weekly').scrollIntoView()")
    browser.screenshot(shots / "6-weekly-zh.png")
    ctx.close()
