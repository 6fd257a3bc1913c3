"""The email's size budget on busy days, measured on the message as a recipient gets it; the web version that
is never shed; and the sentences that count what the email left out."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.message import Message

import pytest

from newsletter.backends import open_store
from newsletter.config import Settings
from newsletter.deliver.message import MessageFactory
from newsletter.issue import Issue
from newsletter.models import MailingList, RenderedIssue, RepoCommits, RepoSpec
from newsletter.pipeline import build_issue
from newsletter.render.email import render_issue
from newsletter.samples.synthetic import busy_issue
from newsletter.subscriptions import Tokens
from tests.day import day_of_commits, real_history_day

GMAIL_CLIP = 102_000
# The longest links a deployment makes: API Gateway and CloudFront domains, a long address and list id.
PUBLIC_URL = "https://a1b2c3d4e5.execute-api.ap-southeast-1.amazonaws.com"
LONG_ADDRESS = "firstname.middlename.lastname@engineering.subsidiary.example-company.com"


def sent_html(rendered: RenderedIssue, list_id: str = "inference-engine-daily-digest") -> str:
    """The HTML part of the message one recipient gets, decoded, from the delivery stage's own factory."""
    mailing_list = MailingList(
        id=list_id,
        title="Inference engine daily",
        repos=[RepoSpec.parse("example-org/inference-engine")],
        sender="Commit Digest <digest@example.com>",
        postal_address="Example Org, 1 Market Street, Springfield",
    )
    view_url = f"https://d1a2b3c4d5e6f7.cloudfront.net/{list_id}/2026-01-13.html"
    factory = MessageFactory(
        rendered,
        mailing_list,
        tokens=Tokens("budget-Pz4Kw8Nq2Xv6Rt1Lm9Hc3Jb7Fs5Dy0Ga"),
        public_url=PUBLIC_URL,
        view_url=view_url,
    )
    message = email.message_from_bytes(factory.build(LONG_ADDRESS))
    parts: list[Message] = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return parts[0].get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]


def heuristic_day(commits: int | RepoCommits) -> Issue:
    """A day through the heuristic analyzer and compose, as `newsletter run` builds it without a key: the
    commits given, or that many shaped like a real day's (sglang and SpecForge titles, paths and sizes)."""
    day = day_of_commits(commits) if isinstance(commits, int) else commits
    settings = Settings.from_env()
    store = open_store(settings)
    try:
        return build_issue([day], language="en", settings=settings, store=store, analyzer_choice="heuristic")
    finally:
        store.close()


@pytest.fixture(scope="module")
def days() -> Iterator[dict[str, tuple[Issue, RenderedIssue]]]:
    made = {}
    for name, issue in (
        ("real-311", heuristic_day(real_history_day(311))),
        ("busy-300", busy_issue(300)),
        ("busy-1000", busy_issue(1000)),
    ):
        made[name] = (issue, render_issue(issue))
    yield made


def _ids(html: str) -> list[str]:
    return re.findall(r'\bid="(c-[0-9a-z-]+)"', html)


@pytest.mark.parametrize("name", ["real-311", "busy-300", "busy-1000"])
def test_a_busy_day_as_sent_stays_inside_gmails_clip_with_its_footer(
    days: dict[str, tuple[Issue, RenderedIssue]], name: str
) -> None:
    issue, out = days[name]
    html = sent_html(out)
    assert len(html.encode()) <= GMAIL_CLIP
    assert out.shed, "this day does not fit whole: something must have been shed"
    footer = html.rfind("/unsubscribe?token=")
    assert footer > html.rfind("github.com/"), "the unsubscribe link is not after the last commit"
    assert "/preferences?token=" in html[html.rfind("</table", 0, footer) :]
    assert issue.postal_address is None or issue.postal_address in html
    assert html.rstrip().endswith("</html>")


@pytest.mark.parametrize("name", ["real-311", "busy-300", "busy-1000"])
def test_every_commit_is_one_click_away(days: dict[str, tuple[Issue, RenderedIssue]], name: str) -> None:
    """In the email itself, or through the email's link to the web version's commit table, where it has
    its anchor and its link."""
    issue, out = days[name]
    web_ids = set(_ids(out.web_html))
    for digest in issue.repos:
        anchor = "r-" + digest.repo.replace("/", "-").lower()
        to_table = re.search(rf'href="[^"]*#{anchor}-commits"', out.html) is not None
        for item in digest.commits:
            href = f'href="{item.commit.url}"'
            assert href in out.web_html
            assert "c-" + item.commit.sha[:12] in web_ids
            assert href in out.html or to_table, item.commit.sha


def test_the_web_version_is_whole_on_any_day(days: dict[str, tuple[Issue, RenderedIssue]]) -> None:
    issue, out = days["busy-300"]
    for item in issue.repos[0].commits:
        a = item.analysis
        for line in [*a.summary, *a.risks, *a.recommendations, a.insights.architecture or ""]:
            assert line.split("`")[0].strip() in out.web_html
    assert "web version" not in out.web_html  # nothing is said to be elsewhere: it is all here
    assert len(_ids(out.web_html)) == 300


# One item of a group: a card or a line (the inliner may put class first), with its own anchor.
_ITEM = re.compile(r'<(?:table|div) [^>]*?\bclass="(?:card [^"]*|ln)"[^>]*? id="c-')
_NOTE = re.compile(
    r'<h3[^>]* id="(?P<group>r-[a-z0-9-]+-(?:high|medium|low))"[^>]*>[^<]*\((?P<total>\d+)\)</h3>'
    r"(?P<body>.*?)(?=<h3[^>]*\bid=\")",
    re.S,
)


@pytest.mark.parametrize("name", ["real-311", "busy-300", "busy-1000"])
def test_every_sentence_that_counts_is_true(days: dict[str, tuple[Issue, RenderedIssue]], name: str) -> None:
    issue, out = days[name]
    groups = list(_NOTE.finditer(out.html))
    assert groups
    for g in groups:
        body, total = g["body"], int(g["total"])
        # Items (cards and lines); a thread's commits inside its card have anchors too, but are one item.
        shown = len(_ITEM.findall(body))
        hidden = re.search(r"(\d+) more are listed only in the (commit table below|web version)", body)
        shortened = re.search(r"(\d+) of them are shortened here", body)
        assert shown + (int(hidden[1]) if hidden else 0) == total, g["group"]
        lines = len(re.findall(r'class="ln"', body))
        if g["group"].endswith("-medium"):  # a medium item is a whole card or one line
            assert (int(shortened[1]) if shortened else 0) == lines, g["group"]
        elif g["group"].endswith("-high"):
            assert (int(shortened[1]) if shortened else 0) >= lines, g["group"]
        else:
            assert not shortened
        if hidden and hidden[2] == "commit table below":
            assert 'id="r-' in out.html and "All commits (" in out.html
    # The table's own count, or the sentence that replaced it.
    total = len(issue.repos[0].commits)
    assert f"All commits ({total:,})" in out.html
    if f"All {total:,} commits, each with its analysis, are in the web version" not in out.html:
        assert out.html.count('<tr valign="top">') == total


def test_the_text_part_follows_the_html_item_for_item(days: dict[str, tuple[Issue, RenderedIssue]]) -> None:
    issue, out = days["busy-1000"]
    shown = set(_ids(out.html))
    flat = " ".join(out.text.split())
    for item in issue.repos[0].commits:
        in_html = "c-" + item.commit.sha[:12] in shown
        assert (item.analysis.headline in flat) == (in_html and item.analysis.importance.value != "low")
        assert (f"{item.commit.short_sha} [" in flat) == in_html  # the table is gone: only shown items
    sentences = re.findall(r"\d+ more are listed only in the (?:commit table below|web version)", out.html)
    for sentence in sentences:
        assert sentence in flat
    assert len(out.text.encode()) < 3 * len(out.html.encode())


def test_shedding_keeps_its_order_as_the_budget_shrinks() -> None:
    issue = busy_issue(60)
    order = ["low-lines", "medium-cards", "medium-lines", "high-detail", "high-analysis", "high-lines"]
    previous: list[str] = []
    sizes = []
    for limit in (400_000, 110_000, 80_000, 60_000, 45_000, 30_000):
        out = render_issue(issue, budget_bytes=limit)
        sizes.append(out.html_bytes)
        names = [s.split(":")[0] for s in out.shed if not s.startswith("commit-table")]
        assert names == sorted(names, key=order.index)
        assert names[: len(previous) - 1] == previous[:-1] if previous else True
        previous = names
        assert len(sent_html(out, "busy").encode()) <= limit
    assert sizes == sorted(sizes, reverse=True)


def _detail(html: str) -> dict[str, bool]:
    """Each card's anchor → whether it shows any detail (insights, risks, recommendations)."""
    cards = {}
    for part in html.split('<table class="card ')[1:]:
        anchor = re.search(r'id="(c-[0-9a-z-]+)"', part)
        assert anchor
        cards[anchor[1]] = any(f">{label}<" in part for label in ("Insights", "Risks", "Recommendations"))
    return cards


def test_the_high_items_analysis_outlasts_the_commit_table(days: dict[str, tuple[Issue, RenderedIssue]]) -> None:
    """On the real 311-commit day the commit table gives way to a link before any high item loses its
    analysis (the email used to keep the 311-row table and none of the day's 18 high items)."""
    _, out = days["real-311"]
    names = [s.split(":")[0] for s in out.shed]
    assert "commit-table" in names
    assert "high-analysis" not in names and "high-lines" not in names
    high = next(g for g in _NOTE.finditer(out.html) if g["group"].endswith("-high"))
    assert len(_ITEM.findall(high["body"])) == int(high["total"])
    assert len(re.findall(r'<table class="card ', high["body"])) == int(high["total"])
    # "N of them are shortened here" counts the cards that lost something the web version has (a card with
    # no detail to lose was counted too).
    email, web = _detail(high["body"]), _detail(out.web_html)
    lost = sum(web[anchor] and not kept for anchor, kept in email.items())
    shortened = re.search(r"(\d+) of them are shortened here", high["body"])
    assert 0 < lost < len(email) and (int(shortened[1]) if shortened else 0) == lost
    for limit in (90_000, 70_000, 50_000, 30_000):
        names = [s.split(":")[0] for s in render_issue(busy_issue(60), budget_bytes=limit).shed]
        if "high-analysis" in names or "high-lines" in names:
            assert "commit-table" in names, limit


def test_a_budget_too_small_for_anything_says_so_and_keeps_the_footer() -> None:
    out = render_issue(busy_issue(30), budget_bytes=5_000)
    assert out.shed[-1] == "over-budget"
    assert "%%unsubscribe_url%%" in out.html and "%%preferences_url%%" in out.html
