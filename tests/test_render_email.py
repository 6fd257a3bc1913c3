"""The email render: size budget and shedding, untrusted text, placeholders, language, the text twin."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from newsletter.errors import InputError
from newsletter.issue import Issue, RepoDigest
from newsletter.models import (
    Analysis,
    AnalyzedCommit,
    ChangeType,
    Commit,
    Importance,
    Insights,
    Person,
    Placeholder,
    PullRequest,
    Window,
)
from newsletter.render.email import minify, render_issue
from newsletter.render.links import LOCAL_WEB_VERSION, safe_url
from newsletter.samples.synthetic import busy_issue

GMAIL_CLIP = 102_000


class _Links(HTMLParser):
    """Every href and src in a document, and every element name."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)
        self.hrefs.extend(v or "" for k, v in attrs if k in {"href", "src"})


def parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def commit_hrefs(issue: Issue) -> list[str]:
    return [f'href="{c.commit.url}"' for r in issue.repos for c in r.commits]


def footer(issue: Issue) -> list[str]:
    return [
        f'href="{Placeholder.UNSUBSCRIBE_URL.value}"',
        f'href="{Placeholder.PREFERENCES_URL.value}"',
        f'href="{issue.web_url or LOCAL_WEB_VERSION}"',  # the issue's page: the same for every reader
        issue.postal_address or "",
    ]


def test_a_ten_commit_day_sheds_nothing() -> None:
    issue = busy_issue(10)
    out = render_issue(issue)
    assert out.shed == []
    assert out.web_html == out.html
    assert out.html_bytes == len(out.html.encode("utf-8")) < 100_000
    for href in commit_hrefs(issue):
        assert out.html.count(href) >= 2  # its card or line, and its row in the commit table
    for c in issue.repos[0].commits:  # every analysis detail is there
        for line in c.analysis.summary + c.analysis.recommendations:
            assert line.split("`")[0] in out.html


def test_a_95_commit_day_fits_gmail_with_every_commit_link_and_the_footer() -> None:
    issue = busy_issue(95)
    out = render_issue(issue)
    assert out.html_bytes < GMAIL_CLIP
    assert out.html_bytes == len(out.html.encode("utf-8"))
    assert out.shed[0].startswith("low-lines:")  # this day is too big whole: items went, in order
    last_commit = max(out.html.rfind(href) for href in commit_hrefs(issue))
    for href in commit_hrefs(issue):
        assert href in out.html
    for piece in footer(issue):
        assert out.html.rfind(piece) > last_commit, f"footer piece {piece!r} missing or not at the end"
    # What was shed says so, with a link to its place in the web version, which has everything.
    assert "more are listed only in the commit table below" in out.html
    assert f'href="{issue.web_url}#r-example-org-inference-engine-low"' in out.html
    for href in commit_hrefs(issue):
        assert out.web_html.count(href) >= 2  # its card or line, and its row in the commit table


# ------------------------------------------------------------------------------------------- untrusted text

EVIL_TITLE = "<img src=x onerror=alert(1)>"
EVIL = '<script>alert("x")</script><a href="javascript:alert(1)">click</a>'


def _evil_issue(language: str = "en") -> Issue:
    when = datetime(2026, 1, 13, 9, 30, tzinfo=UTC)
    commits = []
    for n, (url, pr_url) in enumerate(
        [
            ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>"),
            ('https://github.com/o/r/commit/abc" onmouseover="alert(1)', "vbscript:msgbox(1)"),
            (" JaVaScRiPt:alert(1)", "https://github.com/o/r/pull/7"),
            ("https://github.com/o/r/commit/" + "f" * 40, "java\nscript:alert(1)"),
        ]
    ):
        commit = Commit(
            sha=f"{n}" * 40,
            url=url,
            title=EVIL_TITLE,
            message=EVIL_TITLE + "\n\n" + EVIL,
            author=Person(name=EVIL, login=None),
            committed_at=when,
            authored_at=when,
            pr=PullRequest(number=7, title=EVIL, body=EVIL + "<iframe src=//evil>", url=pr_url),
        )
        analysis = Analysis(
            change_type=ChangeType.FEATURE,
            importance=[Importance.HIGH, Importance.MEDIUM, Importance.LOW, Importance.HIGH][n],
            headline=EVIL,
            summary=[EVIL, "`</code><script>alert(2)</script>`"],
            impact=EVIL,
            insights=Insights(architecture=EVIL, performance=EVIL_TITLE, security="<style>*{display:none}</style>"),
            risks=[EVIL],
            recommendations=["]]><!-- " + EVIL, "</mj-text></mj-column><mj-raw><script>alert(3)</script></mj-raw>"],
            message_matches_diff=False,
            mismatch_note=EVIL,
        )
        commits.append(AnalyzedCommit(commit=commit, analysis=analysis))
    window = Window.for_day(date(2026, 1, 13), "UTC")
    return Issue(
        title="List " + EVIL_TITLE,
        date=date(2026, 1, 13),
        timezone="UTC",
        language=language,
        repos=[RepoDigest(repo="o/r", branch=EVIL, window=window, overview=EVIL, commits=commits, warnings=[EVIL])],
        generated_at=when,
        web_url="javascript:alert(1)",
        postal_address=EVIL,
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_injection_in_titles_pr_bodies_and_model_output_renders_as_text(language: str) -> None:
    out = render_issue(_evil_issue(language))
    doc = parse(out.html)
    assert not {"script", "img", "iframe"} & doc.tags
    assert "<mj-" not in out.html and "</mj-" not in out.html  # no MJML tag leaked through unparsed
    assert not [k for k, _ in doc.attrs if k.startswith("on")]
    for href in doc.hrefs:
        # (no safe page address: "view in browser" leads to the web version written beside the preview)
        assert href.startswith(("https://", "http://", "#", LOCAL_WEB_VERSION)) or href in set(Placeholder), href
    assert f'href="{LOCAL_WEB_VERSION}"' in out.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.html
    assert "&lt;script&gt;" in out.html
    # Inside a tag (text may say href="javascript:…" verbatim: the inliner's serializer leaves quotes in text).
    assert not re.search(r"(?i)<[^<>]*\b(href|src)\s*=\s*[\"']?\s*(javascript|data|vbscript):", out.html)
    # The text twin is never interpreted, so its texts stay verbatim; its numbered links are http(s) only.
    refs = re.findall(r"^\[\d+\] (\S+)$", out.text, flags=re.M)
    assert "https://github.com/o/r/commit/" + "f" * 40 in refs
    assert all(r.startswith("https://") for r in refs)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://github.com/o/r/commit/abc", True),
        ("http://example.com/x?a=1&b=2", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("vbscript:msgbox", False),
        ("//evil.example/x", False),
        ("https://", False),
        ("https://ok.example/a b", False),
        ('https://ok.example/"onclick=x', False),
        ("https://ok.example/\u0000", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url(url: str | None, ok: bool) -> None:
    assert safe_url(url) == (url if ok else None)


# ------------------------------------------------------------------------------------------- document


def test_placeholders_language_and_dark_mode() -> None:
    out = render_issue(busy_issue(5, language="zh-CN"))
    assert re.search(r'<html lang="zh-CN"', out.html)
    assert '<meta name="color-scheme" content="light dark"' in out.html
    assert "@media (prefers-color-scheme: dark)" in out.html
    assert "今日概览" in out.html and "退订" in out.html
    assert "The day at a glance" not in out.html
    for p in Placeholder:
        if p is not Placeholder.EMAIL:
            assert f'href="{p.value}"' in out.html
            assert p.value in out.text
    assert out.subject.startswith("Inference engine daily · 1月13日：")
    assert out.preheader in out.html  # the hidden preview line


def test_english_issue_has_english_strings() -> None:
    out = render_issue(busy_issue(5))
    assert '<html lang="en"' in out.html
    assert "The day at a glance" in out.html and "Unsubscribe" in out.html
    # List title, date and the top change, cut at a word to fit a phone.
    assert out.subject == "Inference engine daily · Jan 13: Reworks the scheduler engine so that case 0…"


def _top_titled(title: str, headline: str = "", list_title: str = "SGLang daily", language: str = "en") -> str:
    issue = busy_issue(3, language=language)
    issue.title = list_title
    top = issue.repos[0].commits[0]
    top.commit.title, top.analysis.headline = title, headline
    return render_issue(issue).subject


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize(
    ("title", "headline", "list_title"),
    [
        ("[CI/NPU] Fix ascend CI issue (#16953)", "", "SGLang daily"),
        ("feat(router): add cache-aware load balancing across " + "many " * 20 + "workers", "", "SGLang daily"),
        ("Fix a bug", "Stops the scheduler from leaking KV cache pages under long contexts " * 3, "A" * 200),
        (
            "修复调度器在长上下文下的内存泄漏问题" * 4,
            "",
            "SGLang 每日提交简报，覆盖 sglang、SpecForge 与 sglang-jax 三个仓库",
        ),
    ],
)
def test_a_subject_fits_a_phone_and_keeps_title_date_and_scope(
    language: str, title: str, headline: str, list_title: str
) -> None:
    from newsletter.render.subject import SUBJECT_MAX, columns

    subject = _top_titled(title, headline, list_title, language)
    assert columns(subject) <= SUBJECT_MAX
    assert ("Jan 13" if language == "en" else "1月13日") in subject
    assert subject.startswith(list_title[:10])
    if title.startswith("[CI/NPU]"):
        assert "CI/NPU" in subject and "Fix ascend CI issue" in subject
    if title.startswith("feat(router)"):
        assert "router" in subject


def test_a_subject_cannot_carry_a_header_or_markup() -> None:
    subject = _top_titled("fix\r\nBcc: victim@example.com\r\n\r\n<script>x</script>", "", "List\nX-Evil: 1")
    assert "\r" not in subject and "\n" not in subject
    assert "Bcc: victim@example.com" in subject  # kept as text on the one line, never a header
    assert columns_ok(subject)


def columns_ok(subject: str) -> bool:
    from newsletter.render.subject import SUBJECT_MAX, columns

    return columns(subject) <= SUBJECT_MAX


def test_unknown_language_is_an_input_error() -> None:
    issue = busy_issue(2).model_copy(update={"language": "fr"})
    with pytest.raises(InputError, match="fr"):
        render_issue(issue)


def test_an_empty_day_renders_with_its_footer() -> None:
    issue = busy_issue(0)
    out = render_issue(issue)
    assert "No commits in this window." in out.html
    assert out.subject.endswith("no commits")
    for piece in footer(issue):
        assert piece in out.html


def test_minify_keeps_spaces_between_words_and_drops_them_between_blocks() -> None:
    html = "<div>\n  <p>a <b>bold</b>  <i>word</i>\n</p>\n  <table> <tr>\n<td> x </td></tr></table>\u00a0\u3000</div>"
    assert minify(html) == "<div><p>a <b>bold</b> <i>word</i></p><table><tr><td>x</td></tr></table>\u00a0\u3000</div>"


# ------------------------------------------------------------------------------------------- text twin


def _columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_text_twin_is_wrapped_and_lists_its_links_at_the_end(language: str) -> None:
    issue = busy_issue(12, language=language)
    text = render_issue(issue).text
    body, _, links = text.rpartition("\n\n" + ("Links" if language == "en" else "链接") + "\n")
    assert links, "no link list at the end"
    urls = [line.split(" ", 1)[1] for line in links.strip().splitlines()]
    for n, line in enumerate(links.strip().splitlines(), 1):
        assert line.startswith(f"[{n}] https://")
    for c in issue.repos[0].commits:
        assert c.commit.url in urls
        assert f"{c.commit.short_sha} [{urls.index(c.commit.url) + 1}]" in body
    long = [line for line in body.splitlines() if _columns(line) > 76 and "%%" not in line]
    assert long == []
    assert "<" not in body  # no markup in the plain text


def test_text_twin_wraps_chinese_without_spaces() -> None:
    from newsletter.render.text import wrap

    wrapped = wrap("这是一个没有空格的很长的中文句子" * 8, indent="  ")
    assert all(_columns(line) <= 76 for line in wrapped.splitlines())
    assert len(wrapped.splitlines()) > 2


@pytest.mark.parametrize("width", [76, 30, 12])
def test_text_twin_wraps_greedily_at_word_boundaries(width: int) -> None:
    from newsletter.render.text import wrap

    rng = random.Random(width)
    words = ["a", "to", "the", "kernel", "per_token_quant", "x" * 40, "·", "—", "+1,234", "(#16953)"]
    for _ in range(3_000):
        text = rng.choice(["", " ", "\n"]).join(rng.choice(words) for _ in range(rng.randrange(0, 30)))
        text = rng.choice(["", "  ", "\t"]) + text + rng.choice(["", " ", "\n"])
        first, indent = rng.choice([("", ""), ("* ", "  "), ("  1. ", "     "), ("   - ", "     ")])
        lines = wrap(text, indent, first, width).split("\n")
        assert lines[0].startswith(first.rstrip()) and all(line.startswith(indent) for line in lines[1:])
        rows = [lines[0][len(first) :].split()] + [line[len(indent) :].split() for line in lines[1:]]
        assert [w for row in rows for w in row] == text.split()  # every word, in order, none broken
        for line, row in zip(lines, rows, strict=True):
            assert line == line.rstrip() and (_columns(line) <= width or len(row) == 1), (text, line)
        for before, row in zip(lines, rows[1:], strict=False):  # a line ends only when the next word won't fit
            assert _columns(before) + 1 + _columns(row[0]) > width, (text, lines)


def test_text_twin_commit_rows_start_at_the_margin_and_continue_under_the_title() -> None:
    text = render_issue(busy_issue(12)).text
    rows = text.split("All commits (12)\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    starts = [line for line in rows if re.match(r"^\d\d:\d\d [0-9a-f]{7} ", line)]
    assert len(starts) == 12
    for line in rows:  # a continuation lines up under the title: "HH:MM abcdef1 " is 14 columns
        assert line in starts or (line.startswith(" " * 14) and not line.startswith(" " * 15)), line


def test_text_twin_in_chinese_uses_measure_words_and_full_width_colons() -> None:
    text = render_issue(busy_issue(12, language="zh-CN")).text
    assert re.search(r"12 个提交 · \d+ 位作者 · \d+ 个文件", text)
    body = text.split("\n链接\n")[0]
    # Every label colon is full-width; an ASCII ": " is left only inside English model text and URLs.
    for label in ("影响范围", "在浏览器中查看", "退订", "管理订阅设置", "架构", "性能"):
        assert f"{label}：" in body and f"{label}: " not in body


@pytest.mark.parametrize(
    "url", ["https://digest.example.com/busy/2026-01-13.html", "file:///srv/newsletter/archive/busy/2026-01-13.html"]
)
def test_view_in_browser_is_the_issues_page_in_the_render(url: str) -> None:
    """The issue's page is the same for every reader: it is in the render (email and text twin), not a
    placeholder filled per recipient. A local archive's file:// page counts (the embedded defaults)."""
    out = render_issue(busy_issue(3).model_copy(update={"web_url": url}))
    assert f'href="{url}"' in out.html
    assert f"View in browser: {url}" in out.text
    assert "view_url" not in out.html + out.text
