"""A huge diff is compressed to the prompt budget, and every file left out is named."""

from __future__ import annotations

from datetime import UTC, datetime

from newsletter.analyze import Job
from newsletter.analyze.budget import compress, estimate_tokens, shorten_deletions
from newsletter.analyze.prompts import commit_prompt
from newsletter.models import Commit, FileChange, Person


def _patch(lines: int, sign: str = "+", width: int = 60) -> str:
    return "@@ -1 +1 @@\n" + "\n".join(f"{sign}{'x' * width} {i}" for i in range(lines))


def _huge_commit() -> Commit:
    files = [
        FileChange(path=f"src/engine/module_{i}.py", status="modified", additions=3000, deletions=0, patch=_patch(3000))
        for i in range(9)
    ]  # ~1.7 MB of source
    files += [
        FileChange(path=f"tests/test_module_{i}.py", status="added", additions=800, deletions=0, patch=_patch(800))
        for i in range(4)
    ]
    files += [
        FileChange(path="docs/guide.md", status="modified", additions=200, deletions=10, patch=_patch(200)),
        FileChange(path="uv.lock", status="modified", additions=4000, deletions=3000, patch=_patch(4000)),
        FileChange(path="assets/diagram.png", status="added"),
        FileChange(path="third_party/lib/vendored.c", status="added", additions=900, patch=_patch(900)),
        FileChange(path="src/old.py", status="removed", deletions=700, patch=_patch(700, "-")),
    ]
    now = datetime(2026, 7, 14, 10, tzinfo=UTC)
    return Commit(
        sha="a" * 40,
        url="https://github.com/o/r/commit/" + "a" * 40,
        title="refactor: everything",
        message="refactor: everything",
        author=Person(name="A"),
        committed_at=now,
        authored_at=now,
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        files=files,
    )


def test_a_two_megabyte_diff_stays_under_budget_and_names_what_it_omits() -> None:
    commit = _huge_commit()
    assert sum(len(f.patch or "") for f in commit.files) > 2_000_000
    prompt = commit_prompt(Job("o/r", commit), "en", budget=12_000)
    assert prompt.tokens <= 12_000
    assert prompt.digest is not None
    for f in commit.files:
        assert f.path in prompt.user, f"{f.path} is not named in the prompt"
    omitted = {e.path: e.reason for e in prompt.digest.omitted}
    assert omitted["uv.lock"] == "lockfile"
    assert omitted["assets/diagram.png"] == "binary"
    assert omitted["third_party/lib/vendored.c"] == "vendored"
    assert omitted["src/old.py"] == "file removed"
    for path in omitted:
        assert f"{path} (+" in prompt.user and ("not shown" in prompt.user or "truncated" in prompt.user)
    # Source comes before tests: the first patch shown is a source file.
    shown = [e for e in prompt.digest.files if e.patch]
    assert shown and shown[0].path.startswith("src/engine/")
    assert "+" + "x" * 60 in prompt.user


def test_the_same_budget_holds_in_chinese() -> None:
    prompt = commit_prompt(Job("o/r", _huge_commit()), "zh-CN", budget=12_000)
    assert prompt.tokens <= 12_000 and "uv.lock" in prompt.user


def test_thousands_of_files_are_grouped_by_folder_rather_than_silently_dropped() -> None:
    files = [
        FileChange(
            path=f"pkg/sub{i % 7}/f{i}.py", status="modified", additions=1, deletions=1, patch="@@ -1 +1 @@\n-a\n+b"
        )
        for i in range(3000)
    ]
    digest = compress(files, 6_000)
    named = len(digest.files)
    grouped = sum(n for _, n in digest.omitted_groups)
    assert named + grouped == 3000 and grouped > 0
    assert digest.tokens <= 6_000


def test_deletion_only_hunks_are_shortened() -> None:
    patch = "@@ -1,50 +0,0 @@\n" + "\n".join(f"-line {i}" for i in range(50)) + "\n@@ -60 +10 @@\n-a\n+b\n"
    short = shorten_deletions(patch)
    assert "-line 0" in short and "-line 49" not in short and "47 more deleted lines" in short
    assert "-a\n+b" in short  # a hunk that adds is kept whole


def test_estimate_counts_cjk_as_one_token_each() -> None:
    assert estimate_tokens("abcdefg") == 2
    assert estimate_tokens("中文字") == 3
