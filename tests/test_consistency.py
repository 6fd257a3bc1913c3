"""Consistency with the diff (newsletter/analyze/checks/consistency.py): where the facts are certain, the
model's breaking flag, importance and change type are corrected and the corrections recorded; on their own
and through the real SDK against FakeOpenAI, which answers ``breaking_change: false`` to everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsletter.analyze import checks, facts
from newsletter.backends import open_store
from newsletter.issue import Issue
from newsletter.models import Analysis, ChangeType, Commit, FileChange, Importance, Person, RepoCommits, Window
from newsletter.pipeline import build_issue
from tests.fakes.openai import FakeOpenAI
from tests.llm_helpers import llm_settings

DAY = Window.for_day(datetime(2026, 7, 14, tzinfo=UTC).date(), "UTC")

REMOVES_A_FLAG = """
 parser.add_argument("--data-path", type=str, required=True)
-parser.add_argument("--capture-layers", type=str, default=None)
+parser.add_argument("--spec-capture-method", choices=["server", "local"], default="server")
"""
CHANGES_A_DEFAULT = """
-parser.add_argument("--max-length", type=int, default=2048)
+parser.add_argument("--max-length", type=int, default=4096)
"""
REWRAPS_A_DEFAULT = """
 class TrainingConfig(BaseModel):
-    batch_size: int = 1
+    batch_size: int = Field(default=1, gt=0)
"""
CI_ONLY = """
-      - uses: actions/checkout@v3
+      - uses: actions/checkout@v4
"""
LICENCE = """
-Copyright 2025 The Widgets Authors
+Copyright 2026 The Widgets Authors
"""


def _file(path: str, text: str) -> FileChange:
    lines = text.strip("\n").splitlines()
    return FileChange(
        path=path,
        status="modified",
        additions=sum(1 for x in lines if x.startswith("+")),
        deletions=sum(1 for x in lines if x.startswith("-")),
        patch=f"@@ -1,{len(lines)} +1,{len(lines)} @@\n" + "\n".join(lines),
    )


def _commit(n: int, title: str, *files: FileChange) -> Commit:
    sha = f"{n:x}" * 40
    when = DAY.end - timedelta(hours=n)
    return Commit(
        sha=sha[:40],
        url=f"https://github.com/acme/widgets/commit/{sha[:40]}",
        title=title,
        message=title,
        author=Person(name="Ada", login="ada"),
        committed_at=when,
        authored_at=when,
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        files=list(files),
    )


FLAG = _commit(1, "refactor: one capture method", _file("scripts/prepare_hidden_states.py", REMOVES_A_FLAG))
DEFAULT = _commit(2, "tune: longer sequences", _file("scripts/train.py", CHANGES_A_DEFAULT))
REWRAP = _commit(3, "refactor: validate config fields", _file("specforge/config/schema.py", REWRAPS_A_DEFAULT))
CI = _commit(4, "feat: faster CI", _file(".github/workflows/ci.yml", CI_ONLY))
LEGAL = _commit(5, "chore: update the copyright year", _file("LICENSE", LICENCE))
BRANCH = _commit(6, "Merge branch 'main' into feature-x", _file("scripts/prepare_hidden_states.py", REMOVES_A_FLAG))


def _answer(**fields: object) -> Analysis:
    base: dict[str, object] = {
        "change_type": ChangeType.FEATURE,
        "importance": Importance.HIGH,
        "headline": "Something changed.",
        "summary": ["It changed."],
        "breaking_change": False,
        "analyzer": "llm",
    }
    return Analysis.model_validate({**base, **fields})


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_removed_flag_makes_the_answer_breaking_and_says_which(language: str) -> None:
    fixed = checks.reconcile(_answer(), FLAG, facts.extract(FLAG), language)
    assert fixed.breaking_change is True
    assert fixed.corrections == ["breaking_change: false → true (flag_removed --capture-layers)"]
    assert "`--capture-layers`" in fixed.risks[0]
    assert ("删除了命令行参数" if language == "zh-CN" else "flag") in fixed.risks[0]
    assert (fixed.importance, fixed.change_type, fixed.summary) == (
        Importance.HIGH,
        ChangeType.FEATURE,
        ["It changed."],
    )


def test_a_changed_default_is_breaking_a_rewrapped_one_is_not_certain() -> None:
    fixed = checks.reconcile(_answer(), DEFAULT, facts.extract(DEFAULT), "en")
    assert fixed.breaking_change and fixed.corrections == [
        "breaking_change: false → true (default_changed --max-length)"
    ]
    assert "from `2048` to `4096`" in fixed.risks[0]
    rewrap = facts.extract(REWRAP)
    assert checks.reconcile(_answer(), REWRAP, rewrap, "en").corrections == []


def test_an_answer_that_agrees_with_the_facts_is_the_same_object() -> None:
    answer = _answer(breaking_change=True)
    assert checks.reconcile(answer, FLAG, facts.extract(FLAG), "en") is answer
    low = _answer(importance=Importance.LOW, change_type=ChangeType.BUILD_CI)
    assert checks.reconcile(low, CI, facts.extract(CI), "en") is low


def test_ci_only_is_never_high_and_a_licence_change_is_legal() -> None:
    ci = checks.reconcile(_answer(), CI, facts.extract(CI), "en")
    assert ci.importance is Importance.LOW and ci.corrections == ["importance: high → low (ci only)"]
    legal = checks.reconcile(_answer(importance=Importance.MEDIUM), LEGAL, facts.extract(LEGAL), "en")
    assert legal.change_type is ChangeType.LEGAL and legal.corrections == ["change_type: feature → legal (LICENSE)"]


def test_a_merge_of_another_branch_is_left_alone() -> None:
    assert checks.breaking_facts(BRANCH, facts.extract(BRANCH)) == []


# ---------------------------------------------------------------------------------------- against the fake


def _issue(fake: FakeOpenAI, language: str = "en") -> Issue:
    day = RepoCommits(repo="acme/widgets", branch="main", window=DAY, commits=[FLAG, DEFAULT, REWRAP, CI, LEGAL])
    settings = llm_settings(fake, triage=False)
    return build_issue([day], language=language, settings=settings, store=open_store(settings), analyzer_choice="llm")


def test_a_removal_answered_non_breaking_is_corrected_and_counted() -> None:
    with FakeOpenAI(invent="overclaim") as fake:  # every commit a high feature, never breaking
        issue = _issue(fake)
    by_sha = {c.commit.sha: c.analysis for repo in issue.repos for c in repo.commits}
    assert all(a.analyzer == "llm" for a in by_sha.values())
    assert by_sha[FLAG.sha].breaking_change and by_sha[FLAG.sha].corrections[0].startswith("breaking_change")
    assert by_sha[DEFAULT.sha].breaking_change
    assert not by_sha[REWRAP.sha].breaking_change and by_sha[REWRAP.sha].corrections == []
    assert by_sha[CI.sha].importance is Importance.LOW
    assert by_sha[LEGAL.sha].change_type is ChangeType.LEGAL
    assert issue.usage.corrections == 4 == sum(len(a.corrections) for a in by_sha.values())
    assert issue.usage.figures_dropped == 0  # the facts' own words are not checked away
