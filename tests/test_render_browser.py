"""The rendered email in a real browser (headless Chromium): phone and desktop widths, light and dark.

Screenshots land in the test's tmp folder (pytest prints it with -s; look at them after a template change).
Skipped only when Chromium is not installed; CI (.ci/run) installs it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.backends import open_store
from newsletter.config import Settings
from newsletter.issue import Issue
from newsletter.pipeline import build_issue
from newsletter.render.email import render_issue
from newsletter.samples import sample_day
from newsletter.samples.synthetic import busy_issue
from tests.browser import Browser, chromium_path, needs_chromium
from tests.test_render_email import EVIL_TITLE, _evil_issue

WIDTHS = (375, 1200)
SCHEMES = [(False, "en"), (True, "en"), (True, "zh-CN")]

pytestmark = needs_chromium()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    path = chromium_path()
    assert path
    b = Browser(path, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


def sample_issue(language: str = "en") -> Issue:
    """The sample day through the heuristic analyzer and compose, as `newsletter preview --sample` renders it."""
    repos, _, _ = sample_day()
    settings = Settings.from_env()
    store = open_store(settings)
    try:
        return build_issue(repos, language=language, settings=settings, store=store, analyzer_choice="heuristic")
    finally:
        store.close()


def _write(tmp_path: Path, issue: Issue, name: str = "issue.html") -> Path:
    page = tmp_path / name
    page.write_text(render_issue(issue).html, encoding="utf-8")
    return page


MEASURE = """({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  hrefs: Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href')),
  background: getComputedStyle(document.body).backgroundColor,
  footer: getComputedStyle(document.querySelector('.outer table')).backgroundColor,
  text: getComputedStyle(document.querySelector('h1')).color,
  widest: Array.from(document.querySelectorAll('table, div, p, td'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5).length,
})"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("dark", "language"), SCHEMES, ids=["light", "dark", "zh-dark"])
def test_sample_issue_fits_the_screen_with_every_commit_link(
    browser: Browser, tmp_path: Path, width: int, dark: bool, language: str
) -> None:
    issue = sample_issue(language)
    page = _write(tmp_path, issue)
    browser.open(page, width=width, dark=dark)
    seen = browser.eval(MEASURE)
    browser.screenshot(tmp_path / f"sample-{language}-{width}-{'dark' if dark else 'light'}.png")
    assert seen["innerWidth"] == width
    assert seen["scrollWidth"] <= seen["innerWidth"], f"horizontal overflow at {width}px"
    assert seen["widest"] == 0
    for digest in issue.repos:
        for item in digest.commits:
            assert item.commit.url in seen["hrefs"]
    # The scheme really switched: a dark page behind light text, and the reverse.
    if dark:
        assert seen["background"] == seen["footer"] == "rgb(13, 17, 23)"
        assert seen["text"] == "rgb(230, 237, 243)"
    else:
        assert seen["background"] == seen["footer"] == "rgb(243, 244, 246)"
        assert seen["text"] == "rgb(31, 35, 40)"


def test_long_unbroken_words_wrap_on_a_phone(browser: Browser, tmp_path: Path) -> None:
    issue = busy_issue(6)
    first = issue.repos[0].commits[0]
    first.commit.title = "refactor:" + "a" * 180
    first.analysis.summary = ["python/" + "/".join(["very_long_directory_name"] * 12) + "/module.py"]
    first.analysis.impact = "https://example.com/" + "x" * 300
    issue.repos[0].branch = "feature/" + "b" * 120
    page = _write(tmp_path, issue)
    browser.open(page, width=375)
    seen = browser.eval(MEASURE)
    browser.screenshot(tmp_path / "long-375.png")
    assert seen["scrollWidth"] <= seen["innerWidth"]


def test_injected_markup_stays_text_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    page = _write(tmp_path, _evil_issue())
    browser.open(page, width=375)
    found = browser.eval(
        """({
      active: document.querySelectorAll('img, script, iframe, object, embed, [onerror], [onmouseover]').length,
      text: document.body.innerText,
      bad: Array.from(document.querySelectorAll('a[href]'), a => a.protocol)
        .filter(p => !['http:', 'https:', 'file:'].includes(p)),
    })"""
    )
    browser.screenshot(tmp_path / "evil-375.png")
    assert found["active"] == 0
    assert EVIL_TITLE in found["text"]
    assert found["bad"] == []


STRIPPED = """(() => {
  const style = (sel, props) => {
    const e = document.querySelector(sel);
    if (!e) return null;
    const s = getComputedStyle(e);
    return Object.fromEntries(props.map(p => [p, s.getPropertyValue(p)]));
  };
  return {
    styles: document.querySelectorAll('style').length,
    high: style('.card.ch', ['border-left-color', 'border-left-width', 'border-top-color', 'border-top-width',
                             'border-top-style']),
    medium: style('.card.cm', ['border-left-color', 'border-left-width']),
    badgeHigh: style('.tag.ih', ['color', 'border-top-color', 'border-top-style']),
    badgeMedium: style('.tag.im', ['color', 'border-top-color']),
    badgeType: style('.tag:not(.ih):not(.im):not(.il)', ['color', 'border-top-color']),
    lowDot: style('.ln .dl', ['color']),
    lowLine: style('.ln', ['border-top-color', 'border-top-width']),
    muted: style('.card .mu', ['color']),
    scrollWidth: document.documentElement.scrollWidth,
  };
})()"""


@pytest.mark.parametrize("width", WIDTHS)
def test_importance_signals_survive_a_client_that_drops_style(browser: Browser, tmp_path: Path, width: int) -> None:
    """Gmail with other accounts, several Android and webmail clients remove <style>: the inlined light styles
    must still tell a high change from a medium or low one."""
    html = render_issue(busy_issue(12)).html
    stripped = re.sub(r"(?is)<style\b[^>]*>.*?</style>", "", html)
    assert stripped != html
    page = tmp_path / "stripped.html"
    page.write_text(stripped, encoding="utf-8")
    browser.open(page, width=width)
    seen = browser.eval(STRIPPED)
    browser.screenshot(tmp_path / f"stripped-{width}.png")
    red, amber, green, grey, muted = (
        "rgb(207, 34, 46)",
        "rgb(154, 103, 0)",
        "rgb(26, 127, 55)",
        "rgb(208, 215, 222)",
        "rgb(87, 96, 106)",
    )
    assert seen["styles"] == 0
    assert seen["high"] == {
        "border-left-color": red,
        "border-left-width": "4px",
        "border-top-color": grey,
        "border-top-width": "1px",
        "border-top-style": "solid",
    }
    assert seen["medium"] == {"border-left-color": amber, "border-left-width": "4px"}
    assert seen["badgeHigh"] == {"color": red, "border-top-color": red, "border-top-style": "solid"}
    assert seen["badgeMedium"] == {"color": amber, "border-top-color": amber}
    assert seen["badgeType"] == {"color": muted, "border-top-color": grey}
    assert seen["lowDot"] == {"color": green}
    assert seen["lowLine"] == {"border-top-color": grey, "border-top-width": "1px"}
    assert seen["muted"] == {"color": muted}
    assert seen["scrollWidth"] <= width


COMFORT = """(() => {
  const box = e => e.getBoundingClientRect();
  const links = Array.from(document.querySelectorAll('.foot a')).map(a => {
    const r = box(a); return {text: a.textContent, top: r.top, left: r.left, right: r.right, height: r.height,
                               width: r.width};
  });
  const nums = Array.from(document.querySelectorAll('.num, .nw')).map(e => {
    // An inline element has one rectangle per line; a block one box, as tall as its lines.
    const rects = e.getClientRects(), style = getComputedStyle(e);
    const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
    return {text: e.textContent, lines: Math.max(rects.length, Math.round(box(e).height / lineHeight))};
  });
  return {links, nums};
})()"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_footer_targets_are_big_enough_and_numbers_never_break(
    browser: Browser, tmp_path: Path, width: int, language: str
) -> None:
    issue = busy_issue(8, language=language)
    for n, item in enumerate(issue.repos[0].commits):
        item.commit.additions, item.commit.deletions = 12_345_678 // 8 + n, 1_234_567 // 8 + n
    page = _write(tmp_path, issue)
    browser.open(page, width=width)
    seen = browser.eval(COMFORT)
    browser.screenshot(tmp_path / f"comfort-{language}-{width}.png")
    footer = [link for link in seen["links"] if link["height"]]
    assert len(footer) == 3
    for link in footer:
        assert link["height"] >= 24 and link["width"] >= 24, link  # WCAG 2.2 target size (minimum)
    for a, b in itertools.pairwise(sorted(footer, key=lambda x: (round(x["top"]), x["left"]))):
        assert round(a["top"]) != round(b["top"]) or b["left"] - a["right"] >= 8, (a, b)
    assert any(
        n["text"] == f"+{issue.stats.additions or sum(c.commit.additions for c in issue.repos[0].commits):,}"
        for n in seen["nums"]
    )
    for number in seen["nums"]:
        assert number["lines"] == 1, number  # "+545,260" stays on one line
