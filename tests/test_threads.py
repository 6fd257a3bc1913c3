"""Threads: the day's commits grouped into changes, shown once each, counted as commits."""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from newsletter import i18n
from newsletter.analyze.heuristic import HeuristicAnalyzer
from newsletter.analyze.story import shape
from newsletter.compose import find_threads
from newsletter.config import Settings
from newsletter.models import (
    AnalyzedCommit,
    Commit,
    FileChange,
    Importance,
    Person,
    PullRequest,
    RepoCommits,
    ThreadKind,
    Window,
)
from newsletter.pipeline import build_issue
from newsletter.render.email import render_issue
from newsletter.render.markdown import render_markdown
from newsletter.store.sqlite import SqliteStore

START = datetime(2026, 7, 21, 8, tzinfo=UTC)
_n = 0


def make(
    title: str,
    parents: list[str],
    *,
    author: str = "ada",
    minutes: int = 0,
    files=None,
    pr=None,
    authored: datetime | None = None,
    message: str | None = None,
) -> Commit:
    global _n
    _n += 1
    sha = hashlib.sha1(str(_n).encode()).hexdigest()
    at = START + timedelta(minutes=minutes)
    return Commit(
        sha=sha,
        url=f"https://github.com/o/r/commit/{sha}",
        title=title,
        message=message or title,
        author=Person(name=author.title(), login=author),
        committed_at=at,
        authored_at=authored or at,
        parents=parents,
        is_merge=len(parents) > 1,
        pr=pr,
        files=files
        or [
            FileChange(
                path="src/app.py", status="modified", additions=30, deletions=2, patch="@@ -1,1 +1,2 @@\n x = 1\n+y = 2"
            )
        ],
        additions=30,
        deletions=2,
    )


def day() -> list[Commit]:
    """main: base ← PR #7 merge (branch: b1 ← b2 ← main-merge) ← revert pair ← a scoped series ← a single."""
    base = make("chore: base", ["0" * 40], author="zed")
    b1 = make("feat: add the widget", [base.sha], author="bob", minutes=1)
    b2 = make("fix unittest", [b1.sha], author="bob", minutes=2)
    sync = make("Merge branch 'main' into widget", [b2.sha, base.sha], author="bob", minutes=3)
    merge = make(
        "Merge pull request #7 from bob/widget",
        [base.sha, sync.sha],
        author="maintainer",
        minutes=4,
        pr=PullRequest(number=7, title="Add the widget"),
    )
    original = make("feat: try a cache", [merge.sha], author="cat", minutes=5)
    revert = make(
        'Revert "feat: try a cache"',
        [original.sha],
        author="cat",
        minutes=6,
        message=f'Revert "feat: try a cache"\n\nThis reverts commit {original.sha}.',
    )
    p1 = make("feat(qwen3.5/M1): P1", [revert.sha], author="dee", minutes=7)
    lone = make(
        "docs: readme",
        [p1.sha],
        author="eve",
        minutes=8,
        files=[FileChange(path="README.md", status="modified", additions=1, deletions=1)],
    )
    p2 = make("feat(qwen3.5/M1): P2", [lone.sha], author="dee", minutes=9)
    fix = make("fix(qwen3.5/M1): off by one in P2", [p2.sha], author="dee", minutes=10)
    return [fix, p2, lone, p1, revert, original, merge, sync, b2, b1, base]


def test_a_pr_merge_a_revert_pair_and_a_scoped_series_are_threads_singles_stay_single() -> None:
    commits = day()
    by_title = {c.title: c.sha for c in commits}
    threads = {t.kind: t for t in find_threads(commits)}
    pr = threads[ThreadKind.PR]
    assert (
        pr.id == "pr-7"
        and pr.title == "Add the widget (#7)"
        and pr.lead == by_title["Merge pull request #7 from bob/widget"]
    )
    assert set(pr.shas) == {
        by_title[t]
        for t in (
            "Merge pull request #7 from bob/widget",
            "Merge branch 'main' into widget",
            "fix unittest",
            "feat: add the widget",
        )
    }
    assert set(threads[ThreadKind.REVERT].shas) == {
        by_title["feat: try a cache"],
        by_title['Revert "feat: try a cache"'],
    }
    series = threads[ThreadKind.SERIES]
    assert "qwen3.5/M1" in series.title  # the scope stays in the title
    assert set(series.shas) == {
        by_title[t] for t in ("feat(qwen3.5/M1): P1", "feat(qwen3.5/M1): P2", "fix(qwen3.5/M1): off by one in P2")
    }
    threaded = {sha for t in threads.values() for sha in t.shas}
    assert by_title["docs: readme"] not in threaded and by_title["chore: base"] not in threaded


def test_consecutive_commits_of_one_author_are_a_series_squashed_prs_only_when_close() -> None:
    a = make("fix: one", ["f" * 40], author="kim")
    b = make("test: two", [a.sha], author="kim", minutes=1)
    c = make("x (#12)", [b.sha], author="lee", minutes=2)
    d = make("y (#13)", [c.sha], author="lee", minutes=600)  # ten hours later: not one piece of work
    found = find_threads([d, c, b, a])
    assert [set(t.shas) for t in found] == [{a.sha, b.sha}]


def _issue(commits: list[Commit], tmp_path, language: str = "en"):
    window = Window(start=START - timedelta(hours=1), end=START + timedelta(hours=23), timezone="UTC")
    repo = RepoCommits(repo="o/r", branch="main", window=window, commits=commits)
    settings = Settings.from_env({"NEWSLETTER_DATA_DIR": str(tmp_path)})
    return build_issue(
        [repo], language=language, settings=settings, store=SqliteStore(tmp_path / "s.db"), analyzer=HeuristicAnalyzer()
    )


def test_issue_json_has_threads_every_commit_and_unchanged_statistics(tmp_path) -> None:
    commits = day()
    issue = _issue(commits, tmp_path)
    data = json.loads(issue.model_dump_json())
    repo = data["repos"][0]
    assert sorted(c["commit"]["sha"] for c in repo["commits"]) == sorted(c.sha for c in commits)
    assert {t["id"] for t in repo["threads"]} >= {"pr-7"}
    for thread in repo["threads"]:
        assert {"id", "title", "importance", "shas", "analysis"} <= thread.keys() and thread["analysis"]
    # Statistics count commits, each by its own importance: grouping changes none of them.
    own = {level: sum(1 for c in issue.repos[0].commits if c.analysis.importance == level) for level in Importance}
    assert issue.repos[0].stats.commits == len(commits) and issue.repos[0].stats.by_importance == own
    # The revert pair is low; the PR thread takes the highest importance of its commits.
    levels = {t.id: t.importance for t in issue.repos[0].threads}
    revert = next(t for t in issue.repos[0].threads if t.kind is ThreadKind.REVERT)
    assert levels[revert.id] is Importance.LOW


def _cards_section(text: str, marker: str) -> str:
    return text.split(marker, 1)[0]


def test_every_commit_is_in_exactly_one_card_in_every_renderer(tmp_path) -> None:
    commits = day()
    for language in ("en", "zh-CN"):
        issue = _issue(commits, tmp_path, language)
        cards = [card for level in Importance for card in issue.repos[0].cards(level)]
        placed = [m.commit.sha for card in cards for m in (card.members or [card.lead])]
        assert sorted(placed) == sorted(c.sha for c in commits)
        markdown = render_markdown(issue)
        body = markdown.split('<a id="o-r-high"></a>', 1)[-1] if "o-r-high" in markdown else markdown
        body = body[body.find("#### ") :]
        for c in commits:
            assert len(re.findall(rf"`{c.short_sha}`", body)) == 1, (language, c.title)
        rendered = render_issue(issue)
        html_cards = rendered.html.split('class="tbl"', 1)[0]  # the cards, before the table of every commit
        text_cards = rendered.text
        for c in commits:
            assert html_cards.count(f">{c.short_sha}<") == 1, (language, c.title)
            assert len(re.findall(rf"\b{c.short_sha}\b", text_cards)) == 2, (language, c.title)  # card + table


def bulk_import_day() -> list[Commit]:
    """30 commits committed within minutes but authored over seven months: a history rewrite or bulk import."""
    return [
        make(
            f"feat: part {i}",
            [f"{i:040x}"],
            author=f"dev{i % 3}",
            minutes=i % 8,
            authored=START - timedelta(days=210 - 7 * i),
        )
        for i in range(30)
    ]


def test_a_day_committed_in_minutes_but_authored_over_months_is_reported_as_such() -> None:
    commits = bulk_import_day()
    en = shape(commits, [], "en")
    assert en and "30 commits were committed within" in en[0] and "authored between 2025-12-23" in en[0]
    assert "历史重写或批量导入" in shape(commits, [], "zh-CN")[0]
    ordinary = [make(f"fix: {i}", ["e" * 40], minutes=60 * i) for i in range(12)]
    assert shape(ordinary, [], "en") == []


def test_a_bulk_import_day_shows_authored_dates_in_every_commit_table_and_says_so_in_the_statistics(tmp_path) -> None:
    commits = bulk_import_day()
    authored = {c.sha: c.authored_at.date().isoformat() for c in commits}
    committed = START.strftime("%Y-%m-%d")
    for language, header, note in (("en", "Authored", "authored between"), ("zh-CN", "编写时间", "编写于")):
        issue = _issue(commits, tmp_path, language)
        bulk = issue.repos[0].bulk_import
        assert bulk is not None and (bulk.commits, bulk.first_authored.isoformat()) == (30, "2025-12-23")
        markdown = render_markdown(issue)
        table = markdown.split("|----------|", 1)[1].split("\n\n", 1)[0]
        assert f"| {header} |" in markdown
        for c in commits:  # each row: when it was authored, and the author's name linked to the login
            assert f"| {authored[c.sha]} " in table and committed not in table
            assert f"| [{c.author.name}](https://github.com/{c.author.login}) |" in table
        stats = markdown.split('-stats"></a>', 1)[1].split("### 📋", 1)[0]
        assert "⏳" in stats and note in stats and "2025-12-23" in stats
        rendered = render_issue(issue)
        html_table = rendered.html.split('class="tbl"', 1)[1].split("</table>", 1)[0]
        assert all(f"<td>{authored[c.sha]}</td>" in html_table for c in commits)
        glance = rendered.html.split('class="tbl"', 1)[0]
        assert "2025-12-23" in glance and note.split()[0] in glance  # the statistics say so
        text_table = rendered.text.split("\n\n", 3)[-1]
        assert all(authored[c.sha] in rendered.text for c in commits) and "2025-12-23" in text_table
    ordinary = _issue([make(f"fix: {i}", ["e" * 40], minutes=60 * i) for i in range(3)], tmp_path)
    assert ordinary.repos[0].bulk_import is None and "| Committed |" in render_markdown(ordinary)


def test_the_text_part_links_every_author_to_the_login(tmp_path) -> None:
    issue = _issue(day(), tmp_path)
    text = render_issue(issue).text
    body, links = text.split("\n[1] ", 1)[0], text
    for login in ("bob", "cat", "dee", "eve", "zed", "maintainer"):
        url = f"https://github.com/{login}"
        number = next(line.split("]", 1)[0] + "]" for line in links.splitlines() if line.endswith(" " + url))
        assert f"{login.title()} {number}" in body  # the name, then the reference to the profile


def _source(lines: int, path: str = "src/model.py") -> list[FileChange]:
    return [FileChange(path=path, status="modified", additions=lines, deletions=0, patch="@@ -1,1 +1,2 @@\n x\n+y")]


def test_a_series_is_named_after_its_largest_change_with_its_scope() -> None:
    p1 = make("[DataFlow runtime] Phase A: scaffolding", ["e" * 40], author="mao", files=_source(20))
    p2 = make("Phase B: the dataflow executor", [p1.sha], author="mao", minutes=1, files=_source(900))
    tests = make(
        "[DataFlow runtime] tests for phase B", [p2.sha], author="mao", minutes=2, files=_source(5000, "tests/t.py")
    )
    p3 = make("[DataFlow runtime] Phase C: wire it up", [tests.sha], author="mao", minutes=3, files=_source(40))
    (series,) = find_threads([p3, tests, p2, p1])
    # Not the first commit's title nor the newest's, nor the commit with the most lines (tests): the largest
    # change of code users run; the scope of the series is kept in front of it.
    assert series.lead == p2.sha
    assert series.title == "DataFlow runtime: Phase B: the dataflow executor"


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_member_whose_analysis_fell_back_says_so_in_every_part(tmp_path, language: str) -> None:
    """A thread's commit analysed by the heuristic because the model failed carries the same mark in the
    email's HTML and text parts as in the Markdown (the email's members were silent about it)."""
    issue = _issue(day(), tmp_path, language)
    repo = issue.repos[0]
    thread = next(t for t in repo.threads if len(t.shas) > 1)
    member = next(sha for sha in thread.shas if sha != thread.lead)
    reason = "the model declined: policy 7" if language == "en" else "模型拒绝分析：策略 7"

    def fell_back(c: AnalyzedCommit) -> AnalyzedCommit:
        if c.commit.sha != member:
            return c
        return c.model_copy(update={"analysis": c.analysis.model_copy(update={"fallback_reason": reason})})

    commits = [fell_back(c) for c in repo.commits]
    issue = issue.model_copy(update={"repos": [repo.model_copy(update={"commits": commits})]})
    label = i18n.t(language, "fallback.label")
    colon = i18n.t(language, "email.colon")
    mark = f"({label}{colon}{reason})"
    assert reason in render_markdown(issue)
    rendered = render_issue(issue)
    short = member[:7]
    item = re.search(rf'<li id="c-{member[:12]}">(.*?)</li>', rendered.html)
    assert item and f">{short}<" in item[1] and html.escape(mark, quote=False) in item[1]
    assert mark in rendered.web_html
    # Wrapped Chinese breaks anywhere: compare without whitespace.
    text, flat_mark = "".join(rendered.text.split()), "".join(mark.split())
    assert text.count(flat_mark) == 1  # its neighbours did not fall back
    line = text[text.index(f"-{short}") : text.index(flat_mark)]  # from the member's line to the mark
    others = [sha[:7] for sha in thread.shas if sha != member]
    assert not any(f"-{o}" in line for o in others), "the mark is not on the member's own line"
