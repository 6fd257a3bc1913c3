"""The heuristic analyzer's rules, on titles and paths like the real days'."""

from __future__ import annotations

import pytest

from newsletter.analyze.heuristic import analyse, author_note, change_type, importance, parse_title, triage
from newsletter.models import ChangeType, Commit, Importance, PullRequest
from tests.day import SPECS, day_of_commits


def _commit(title: str):
    for i, commit in enumerate(day_of_commits(len(SPECS)).commits):
        if SPECS[i][0] == title:
            return commit
    raise KeyError(title)


@pytest.mark.parametrize(
    ("title", "tags", "word", "bang"),
    [
        ("feat(workflow): add steps (#1)", [], "feat", False),
        ("[CI/NPU] Fix ascend CI issue", ["CI", "NPU"], None, False),
        ("[diffusion] fix: fix compat", ["diffusion"], "fix", False),
        ("refactor!: remove paths", [], "refactor", True),
        ("[AMD][Diffusion] support kernel", ["AMD", "Diffusion"], None, False),
        ("Update: not a conventional type", [], None, False),
    ],
)
def test_parse_title(title: str, tags: list[str], word: str | None, bang: bool) -> None:
    got_tags, got_word, got_bang, _ = parse_title(title)
    assert (got_tags, got_word, got_bang) == (tags, word, bang)


@pytest.mark.parametrize(
    ("title", "kind", "level"),
    [
        ("[CI/NPU] Fix ascend CI issue (#16953)", ChangeType.BUILD_CI, Importance.LOW),
        ("[Refactor] Clean up JIT kernel utilites (#16884)", ChangeType.REFACTOR, Importance.HIGH),
        # Size is not importance: 1,600 lines in three files with no new flag, option or module is medium.
        (
            "feat(workflow): add scheduled/delayed steps and conditional branching (#16980)",
            ChangeType.FEATURE,
            Importance.MEDIUM,
        ),
        (
            "[diffusion] fix: fix not respecting dit_layerwise_offload server arg (#16252)",
            ChangeType.FIX,
            Importance.LOW,
        ),
        ("docs: document unified YAML schema", ChangeType.DOCS, Importance.LOW),
        ("test: restore 4-rank legacy teacher fixture", ChangeType.TEST, Importance.LOW),
        ("refactor!: remove duplicate training paths", ChangeType.REFACTOR, Importance.HIGH),
        ("security: validate uploaded config paths against traversal", ChangeType.SECURITY, Importance.HIGH),
        ("Bump urllib3 from 2.2.1 to 2.2.2", ChangeType.BUILD_CI, Importance.LOW),
        (
            "Support min load besides random routing key assignment policy in ManualPolicy (#16767)",
            ChangeType.FEATURE,
            Importance.MEDIUM,
        ),
    ],
)
def test_type_and_importance(title: str, kind: ChangeType, level: Importance) -> None:
    commit = _commit(title)
    assert change_type(commit) is kind
    assert importance(commit) is level


def test_triage_only_what_is_surely_trivial() -> None:
    assert triage(_commit("Bump urllib3 from 2.2.1 to 2.2.2")) == "triage_bot_bump"
    assert triage(_commit("[CI/NPU] Fix ascend CI issue (#16953)")) == "triage_ci_only"
    assert triage(_commit("docs: fix typo in README")) == "triage_typo"
    # "fix typo" that touches authentication code is not trivial: the model should look at it.
    assert triage(_commit("Update assets and fix typo")) is None
    assert triage(_commit("[Refactor] Clean up JIT kernel utilites (#16884)")) is None


def test_analysis_states_facts_in_the_list_language() -> None:
    commit = _commit("feat(workflow): add scheduled/delayed steps and conditional branching (#16980)")
    en = analyse(commit, "en")
    zh = analyse(commit, "zh-CN")
    assert en.headline == "Feature: Add scheduled/delayed steps and conditional branching (#16980)"
    assert zh.headline.startswith("功能：")
    assert en.impact == "Code in `sgl-model-gateway/src/`"
    assert zh.impact == "涉及代码：`sgl-model-gateway/src/`"
    assert en.analyzer == "heuristic" and en.fallback_reason is None
    assert analyse(commit, "en") == en  # deterministic


def _with_message(message: str, pr_body: str | None = None) -> Commit:
    base = day_of_commits(1).commits[0]
    pr = PullRequest(number=7, title="t", body=pr_body) if pr_body is not None else None
    return base.model_copy(update={"message": message, "pr": pr})


def test_author_note_quotes_the_first_paragraph_without_trailers() -> None:
    commit = _with_message(
        "fix: keep the cache warm\n\nThe prefix cache was dropped on every reload, so the first request after\n"
        "a deploy paid the full prefill again.\n\nMore detail here.\n\nSigned-off-by: A <a@example.com>"
    )
    assert author_note(commit) == (
        "The prefix cache was dropped on every reload, so the first request after a deploy paid the full prefill again."
    )
    analysis = analyse(commit, "en")
    assert any(line.startswith("In the author's words: The prefix cache was dropped") for line in analysis.summary)
    assert any(line.startswith("作者说明：The prefix cache") for line in analyse(commit, "zh-CN").summary)


def test_author_note_falls_back_to_the_pr_body_and_skips_template_noise() -> None:
    body = "## Motivation\n\n<!-- describe -->\n\n- [x] tests\n\nWarm the cache on reload so the first request is fast."
    assert author_note(_with_message("fix: keep the cache warm", body)) == (
        "Warm the cache on reload so the first request is fast."
    )
    assert author_note(_with_message("fix: keep the cache warm\n\nFixes #12")) is None  # not an explanation
    assert author_note(_with_message("fix: keep the cache warm")) is None


def test_author_note_is_clipped_at_a_sentence_or_word() -> None:
    first = "The first sentence explains the change at length, " + "with more and more detail " * 6 + "until it ends."
    note = author_note(_with_message(f"fix: x\n\n{first} " + "word " * 100))
    assert note == first  # cut after a sentence when one ends past the middle of the limit
    note = author_note(_with_message("fix: x\n\n" + "word " * 100))
    assert note is not None and note.endswith("…") and len(note) <= 281
