"""The Markdown issue: the sample report's structure in en and zh-CN, and escaping of untrusted text.

Golden files live in tests/data/golden/; regenerate them after an intended change with
``UPDATE_GOLDEN=1 python -m pytest tests/test_markdown.py`` and review the diff.
"""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from newsletter.analyze.heuristic import analyse
from newsletter.compose import compose_issue
from newsletter.issue import Issue
from newsletter.models import Analysis, AnalyzedCommit, ChangeType, Importance, Insights, Usage
from newsletter.render.links import safe_url
from newsletter.render.markdown import escape, render_markdown, url
from tests.day import DAY, TZ, day_of_commits

GOLDEN = Path(__file__).parent / "data" / "golden"

HOSTILE = Analysis(
    change_type=ChangeType.REFACTOR,
    importance=Importance.HIGH,
    headline="Typed engines replace `AnyWorkflowData` | <b>bold</b>",
    summary=["Splits `WorkflowEngine<D>` per workflow", "[click](javascript:alert(1)) <img src=x onerror=alert(1)>"],
    impact="`sgl-model-gateway/src/workflow/` and every step",
    insights=Insights(architecture="One engine per data type | no `enum|dispatch`", maintainability="Fewer casts"),
    risks=["Plugins using `AppContext.workflow_engine` stop compiling"],
    recommendations=["Search for `workflow_engine` in plugins"],
    breaking_change=True,
    message_matches_diff=False,
    mismatch_note="The title says refactor; the diff also changes the public `AppContext`",
    analyzer="llm",
    model="gpt-4o-mini",
)


def rich_issue(language: str) -> Issue:
    day = day_of_commits(40)
    analysed = []
    for i, commit in enumerate(day.commits):
        analysis = analyse(commit, language)
        if i == 22:
            analysis = HOSTILE
        elif i == 1:
            analysis = analysis.model_copy(update={"importance": Importance.MEDIUM, "recommendations": ["Cache it"]})
        elif i == 5:
            analysis = analysis.model_copy(update={"fallback_reason": "model output cut off twice"})
        analysed.append(AnalyzedCommit(commit=commit, analysis=analysis))
    return compose_issue(
        [day],
        {day.repo: analysed},
        title="Daily digest" if language == "en" else "每日更新报告",
        language=language,
        day=DAY,
        timezone=TZ,
        overviews={day.repo: "A workflow-engine day: typed engines | scheduled steps."},
        usage=Usage(analyzer="llm", model="gpt-4o-mini", llm_calls=38, cache_hits=2, tokens_in=1234, seconds=3.2),
        generated_at=datetime(2026, 1, 14, tzinfo=UTC),
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_markdown_matches_the_golden_file(language: str) -> None:
    text = render_markdown(rich_issue(language))
    golden = GOLDEN / f"issue.{language}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        # Updating compares the file with itself: a developer's tool, never a CI run that must be able to fail.
        assert not os.environ.get("CI"), "UPDATE_GOLDEN is set under CI: the golden test would prove nothing"
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"rerun with UPDATE_GOLDEN=1 and review {golden}"


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_structure_follows_the_sample_report(language: str) -> None:
    issue = rich_issue(language)
    text = render_markdown(issue)
    repo = issue.repos[0]
    # Like the sample report: the title with the day ("每日更新报告（2026-01-13）").
    day = "January 13, 2026" if language == "en" else "2026-01-13"
    opening, closing = ("(", ")") if language == "en" else ("（", "）")
    assert text.startswith(f"# {escape(issue.title)} {opening}{day}{closing}\n".replace(" （", "（"))
    # The commit table: one row per commit, exactly three cells each (no title broke out of its cell).
    rows = [line for line in text.splitlines() if re.match(r"^\| \d{4}-\d\d-\d\d ", line)]
    assert len(rows) == 40
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 4, row
    # Stats line, table of contents, groups in order with anchors that exist.
    assert f"{repo.stats.commits}" in text and "🔴" in text and "🟡" in text and "🟢" in text
    positions = [text.index(f'<a id="sgl-project-sglang-{level.value}"></a>') for level in Importance]
    assert positions == sorted(positions)
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert f'<a id="{target}"></a>' in text, target
    # Detail shrinks with importance.
    high, _medium, low = (repo.group(level) for level in Importance)
    assert len(high) == repo.stats.by_importance[Importance.HIGH]
    insights_heading = "Technical insights" if language == "en" else "技术洞察"
    assert text.count(insights_heading) == 1  # only the hostile high commit has insights
    for c in low:
        line = next(line for line in text.splitlines() if f'<a id="c-{c.commit.short_sha}"></a>' in line)
        assert line.startswith("- ")


def test_untrusted_text_cannot_inject_html_links_or_break_tables() -> None:
    text = render_markdown(rich_issue("en"))
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text)
    assert r"\[click\](javascript:alert(1))" in text
    assert "| **Architecture** | One engine per data type \\| no `enum\\|dispatch` |" in text
    assert "`sgl-model-gateway/src/workflow/`" in text  # code spans survive escaping
    assert "Fix sgl-kernel per_token_quant fp8" in text  # intraword underscores stay readable


def _escape_by_the_rule(text: str) -> str:
    """The escaping rule written as regexes, per character (the reference ``escape`` must agree with)."""
    text = re.sub(r"\s+", " ", text)
    out = []
    for part in re.split(r"(`[^`\n]+`)", text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)
            continue
        part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(re.sub(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))", r"\\\1", part))
    return "".join(out)


def test_escape_agrees_with_the_rule_on_every_mix_of_special_characters() -> None:
    rng = random.Random(12)
    alphabet = [*"ab9Z_ _`*[]|~&<>\\\n\t()#!é中\u00a0", "&amp;", "__", "``", "a_b", "  "]
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24))) for _ in range(20_000)]
    samples += ["_", "__", "a_", "_a", "a__b", "é_a", "a_é", "&_", "_<", "\\_", "`a_b` _c_", "[x](y)", ""]
    wrong = [s for s in samples if escape(s) != _escape_by_the_rule(s)]
    assert not wrong, [(s, escape(s), _escape_by_the_rule(s)) for s in wrong[:5]]


def test_a_link_destination_is_percent_encoded_exactly_as_quote_would() -> None:
    rng = random.Random(7)
    alphabet = [*"aZ9_.-~:/?#=&%@+,;()[]!$'*|^{}", "é", "中", " ", "\u00a0"]
    for _ in range(20_000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 16)))
        link = "https://github.com/o/r/" + tail
        checked = safe_url(link)
        assert url(link) == ("#" if checked is None else quote(checked, safe=":/?#=&%@+,;~")), link


def test_fallbacks_and_mismatches_are_visible() -> None:
    text = render_markdown(rich_issue("zh-CN"))
    assert "启发式分析" in text and "model output cut off twice" in text
    assert "提交信息与改动不符" in text and "不兼容变更" in text


def test_an_empty_day() -> None:
    day = day_of_commits(0)
    issue = compose_issue([day], {}, title="T", language="en", day=DAY, timezone=TZ)
    assert "No commits on this day." in render_markdown(issue)


def test_english_singulars_in_the_statistics() -> None:
    day = day_of_commits(1)
    analysed = [AnalyzedCommit(commit=c, analysis=analyse(c, "en")) for c in day.commits]
    issue = compose_issue([day], {day.repo: analysed}, title="Daily digest", language="en", day=DAY, timezone=TZ)
    text = render_markdown(issue)
    assert "> 1 commit |" in text and "| 1 author |" in text and "| 1 file" in text
    assert "1 commits" not in text and "1 authors" not in text and "1 files" not in text
