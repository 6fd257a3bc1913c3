"""Importance and change type from what the diff does; the key-less analysis written from facts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from newsletter.analyze import checks
from newsletter.analyze.base import Job
from newsletter.analyze.heuristic import analyse
from newsletter.analyze.prompts import PROMPT_VERSION, commit_prompt, version
from newsletter.models import ChangeType, Commit, FileChange, Importance, Person, PullRequest

NOW = datetime(2026, 7, 21, 12, tzinfo=UTC)


def commit(title: str, *files: FileChange, body: str | None = None) -> Commit:
    return Commit(
        sha="b" * 40,
        url="https://github.com/o/r/commit/" + "b" * 40,
        title=title,
        message=title,
        author=Person(name="Ada Lovelace", login="ada"),
        committed_at=NOW,
        authored_at=NOW,
        pr=PullRequest(number=9, title=title, body=body) if body is not None else None,
        files=list(files),
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
    )


def change(path: str, patch: str, status: str = "modified") -> FileChange:
    lines = patch.strip("\n").splitlines()
    plus = sum(1 for line in lines if line.startswith("+"))
    minus = sum(1 for line in lines if line.startswith("-"))
    return FileChange(
        path=path, status=status, additions=plus, deletions=minus, patch="@@ -1,9 +1,9 @@\n" + "\n".join(lines)
    )


def test_a_ci_only_fix_is_low_whatever_its_title_says() -> None:
    workflow = change(".github/workflows/test.yml", "-    runs-on: ubuntu-22.04\n+    runs-on: ubuntu-24.04")
    for language in ("en", "zh-CN"):
        analysis = analyse(commit("fix: repair the release pipeline", workflow), language)
        assert analysis.importance is Importance.LOW and analysis.change_type is ChangeType.BUILD_CI


def test_a_licence_change_is_legal() -> None:
    analysis = analyse(commit("chore: update license", change("LICENSE", "-MIT License\n+Apache License 2.0")), "en")
    assert analysis.change_type is ChangeType.LEGAL
    assert any("LICENSE" in line for line in analysis.summary)


REMOVED_FLAG = """
     parser.add_argument("--data-path", type=str, required=True)
-    parser.add_argument(
-        "--capture-layers",
-        type=str,
-        default=None,
-        help="EAGLE3-only override of three comma-separated layer ids",
-    )
""" + "\n".join(f"+    layer_{i} = resolve(config, {i})" for i in range(24))


def test_a_removed_cli_flag_is_named_and_breaking() -> None:
    found = commit("del capture-layers parameter", change("scripts/prepare_hidden_states.py", REMOVED_FLAG))
    en, zh = analyse(found, "en"), analyse(found, "zh-CN")
    assert en.breaking_change and zh.breaking_change
    assert en.importance is Importance.HIGH
    assert any("`--capture-layers`" in line and "scripts/prepare_hidden_states.py" in line for line in en.summary)
    assert any("`--capture-layers`" in line for line in en.risks) and any("`--capture-layers`" in r for r in zh.risks)
    assert any("移除命令行参数 `--capture-layers`" in line for line in zh.summary)


BENCHMARK = """## Motivation

Faster drafting for long prompts.

## Benchmark

| model | acceptance length | throughput |
| --- | --- | --- |
| Qwen3-8B | 3.42 | 1234 tok/s |
"""


def test_a_benchmark_figure_appears_only_as_a_quote_with_its_source() -> None:
    code = change("specforge/draft.py", "+def draft(x):\n+    return x\n" + "+# step\n" * 20)
    for language, marker in (
        ("en", "Figure quoted from PR body · Benchmark: “"),
        ("zh-CN", "引自PR body · Benchmark的数据：“"),
    ):
        analysis = analyse(commit("perf: faster drafting", code, body=BENCHMARK), language)
        lines = [line for line in checks.prose(analysis) if "3.42" in line or "1234" in line]
        assert lines and all(line.startswith(marker) and line.endswith("”") for line in lines), lines


def test_no_figure_absent_from_the_sources_on_a_synthetic_day() -> None:
    """The real day is checked in test_checks; here a commit whose facts carry values and versions."""
    pyproject = change(
        "pyproject.toml", '-    "torch>=2.4",\n+    "torch>=2.6",\n-version = "0.2.0"\n+version = "0.3.0"'
    )
    found = commit("build: torch 2.6", pyproject, change("scripts/run.py", REMOVED_FLAG))
    for language in ("en", "zh-CN"):
        analysis = analyse(found, language)
        prompt = commit_prompt(Job("o/r", found), language, budget=12_000)
        sources = checks.commit_sources(found, prompt.user)
        assert all(checks.ungrounded(text, sources) == [] for text in checks.prose(analysis))
        assert any(re.search(r"`>=2.4` → `>=2.6`", line) for line in analysis.summary)


def test_the_prompt_carries_the_facts_and_a_new_version() -> None:
    found = commit("del capture-layers parameter", change("scripts/prepare_hidden_states.py", REMOVED_FLAG))
    prompt = commit_prompt(Job("o/r", found), "en", budget=12_000)
    assert "- flag removed: --capture-layers (scripts/prepare_hidden_states.py)" in prompt.user
    assert PROMPT_VERSION == "3" and version("en").startswith("3.")  # the analysis cache key carries it


def test_a_renamed_flag_is_reported_as_renamed_not_removed_and_added() -> None:
    from tests.test_facts import RENAME_FLAG

    found = commit("train: clearer option names", change("scripts/train.py", RENAME_FLAG.strip("\n")))
    for language, renamed, removed in (("en", "Renames", "Removes the flag"), ("zh-CN", "重命名", "移除命令行参数")):
        analysis = analyse(found, language)
        text = "\n".join([*analysis.summary, *analysis.risks, *analysis.recommendations])
        assert any(
            line.startswith(renamed) and "`--num-epochs` → `--num-train-epochs`" in line for line in analysis.summary
        )
        assert "`--num-epochs`" in "\n".join(analysis.risks) and "`--num-train-epochs`" in "\n".join(
            analysis.recommendations
        )
        # Not also as a removal and an addition; the flag that does not pair up clearly still is.
        removal = next(line for line in analysis.summary if line.startswith(removed))
        assert "`--capture-layers`" in removal and "--num-epochs`" not in removal
        assert "`--num-train-epochs`" not in next(line for line in analysis.summary if "--spec-capture-method" in line)
        assert analysis.breaking_change  # the old name is gone
        prompt = commit_prompt(Job("o/r", found), language, budget=12_000)
        assert "- renamed flag: --num-epochs -> --num-train-epochs (scripts/train.py)" in prompt.user
        sources = checks.commit_sources(found, prompt.user)
        assert all(checks.ungrounded(line, sources) == [] for line in checks.prose(analysis)), text
