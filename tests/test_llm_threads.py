"""The model analyses a thread (a change of several commits) in one call when it fits one prompt: the real
openai SDK against FakeOpenAI on loopback, the real CLI in fresh processes for the prompt version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsletter.backends import open_store
from newsletter.compose import find_threads
from newsletter.models import Commit, FileChange, Person, RepoCommits, Window
from newsletter.pipeline import build_issue
from newsletter.template_files import shipped
from tests.fakes import github
from tests.fakes.openai import FakeOpenAI
from tests.llm_helpers import llm_settings

ROOT = Path(__file__).resolve().parents[1]
CASE = Path(__file__).parent / "data" / "github" / "widgets-2026-03-08"
START = datetime(2026, 7, 14, 16, tzinfo=UTC)

REMOVE_FLAG = """@@ -10,9 +10,6 @@ def parse_args():
     parser.add_argument("--data-path", type=str, required=True)
-    parser.add_argument(
-        "--capture-layers",
-        type=str,
-        default=None,
-    )
     parser.add_argument("--max-length", type=int, default=2048)
"""
NEW_TEST = """@@ -0,0 +1,4 @@
+from scripts.prepare_hidden_states import parse_args
+
+def test_capture_is_chosen_by_the_server():
+    assert parse_args(["--data-path", "x"]).data_path == "x"
"""
FIX = """@@ -20,3 +20,3 @@ def capture(model):
-    return model.layers[:-1]
+    return model.layers
"""


def _commit(n: int, title: str, parent: str, files: list[FileChange], author: str = "mao") -> Commit:
    sha = f"{n:02d}" + "c0ffee" * 6 + "00"
    at = START + timedelta(minutes=n)
    return Commit(
        sha=sha,
        url=f"https://github.com/sgl-project/SpecForge/commit/{sha}",
        title=title,
        message=title,
        author=Person(name=author.title(), login=author),
        committed_at=at,
        authored_at=at,
        parents=[parent],
        files=files,
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
    )


def _day(series: int = 3) -> RepoCommits:
    """One author's series under one scope (the first commit removes a flag), then someone else's commit."""
    script = "scripts/prepare_hidden_states.py"
    parts = [
        (
            "feat(capture): server-side capture only",
            [FileChange(path=script, status="modified", additions=0, deletions=5, patch=REMOVE_FLAG)],
        ),
        (
            "test(capture): parse_args",
            [FileChange(path="tests/test_capture.py", status="added", additions=4, deletions=0, patch=NEW_TEST)],
        ),
    ]
    parts += [
        (
            f"fix(capture): keep the last layer ({n})",
            [FileChange(path=f"specforge/capture_{n}.py", status="modified", additions=1, deletions=1, patch=FIX)],
        )
        for n in range(series - 2)
    ]
    commits: list[Commit] = []
    parent = "f" * 40
    for n, (title, files) in enumerate(parts):
        commits.append(_commit(n, title, parent, files))
        parent = commits[-1].sha
    other = FileChange(path="docs/README.md", status="modified", additions=1, deletions=1, patch="@@ -1 +1 @@\n-a\n+b")
    commits.append(_commit(len(parts), "docs: readme", parent, [other], author="eve"))
    window = Window.for_day(START.date(), "UTC")
    return RepoCommits(repo="sgl-project/SpecForge", branch="main", window=window, commits=commits[::-1])


def test_a_thread_is_one_call_with_the_facts_and_each_commit_gets_its_line() -> None:
    day = _day()
    (thread,) = find_threads(day.commits)
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings), analyzer_choice="llm")
    calls = fake.completions("thread")
    assert len(calls) == 1 and len(fake.completions("analysis")) == 1  # the thread, and the one other commit
    prompt = calls[0].user
    # The facts of the diff are in the prompt the server received, with where each was found …
    assert "- flag removed: --capture-layers (scripts/prepare_hidden_states.py)" in prompt
    assert "- tests added: tests/test_capture.py [file] (tests/test_capture.py)" in prompt
    # … and every commit of the thread with its own diff.
    assert all(sha in prompt for sha in thread.shas) and "+    return model.layers" in prompt
    (done,) = issue.repos[0].threads
    assert done.analysis is not None and done.analysis.analyzer == "llm"
    assert done.analysis.headline == f"Analysis of {thread.title}"  # the model's analysis of the whole
    assert done.analysis.breaking_change  # the removed flag, whatever the model said (the checks)
    members = [c for c in issue.repos[0].commits if c.commit.sha in thread.shas]
    assert len(members) == 3
    for c in members:
        assert c.analysis.analyzer == "llm" and c.analysis.headline == f"Analysis of {c.commit.title}"
        assert c.analysis.summary == []  # one line each; the card shows the thread's analysis
    assert issue.usage.llm_calls == 3  # thread, single, overview


def test_a_thread_too_large_for_one_prompt_keeps_one_call_per_commit() -> None:
    day = _day(series=22)  # more commits than one answer lists
    (thread,) = find_threads(day.commits)
    assert len(thread.shas) == 22
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings), analyzer_choice="llm")
    assert fake.completions("thread") == [] and len(fake.completions("analysis")) == 23
    assert all(c.analysis.analyzer == "llm" and c.analysis.summary for c in issue.repos[0].commits)


def _build(env: dict[str, str], out: Path) -> dict:
    command = [sys.executable, "-m", "newsletter", "build", "acme/widgets", "--date", "2026-03-08"]
    command += ["--tz", "America/Los_Angeles", "--analyzer", "llm", "--format", "json", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_the_thread_answer_is_cached_under_the_prompt_version(tmp_path: Path) -> None:
    own = tmp_path / "templates" / "prompts"
    own.mkdir(parents=True)
    edited = (shipped() / "prompts" / "thread.en.j2").read_text(encoding="utf-8")
    (own / "thread.en.j2").write_text(edited.replace("one call for the whole change", "one call, edited"))
    with github.FakeGitHub(CASE) as server, FakeOpenAI() as fake:
        env = {**os.environ, **server.env(), "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake.url}
        env.update(NEWSLETTER_DATA_DIR=str(tmp_path / "data"), NEWSLETTER_TRIAGE="0")
        first = _build(env, tmp_path / "1.json")
        asked = len(fake.completions("thread"))
        same = _build(env, tmp_path / "2.json")
        again = len(fake.completions("thread"))
        bumped = _build({**env, "NEWSLETTER_TEMPLATES_DIR": str(tmp_path / "templates")}, tmp_path / "3.json")
        after = len(fake.completions("thread"))
        _build({**env, "NEWSLETTER_TEMPLATES_DIR": str(tmp_path / "templates")}, tmp_path / "4.json")
        last = len(fake.completions("thread"))
    assert asked == 1 and first["usage"]["llm_calls"] > 0
    assert again == 1 and same["usage"]["llm_calls"] == 0  # the same prompt version: from the cache
    assert after == 2 and bumped["usage"]["llm_calls"] > 0  # another prompt version: asked again
    assert last == 2  # … and cached under it
    (thread,) = first["repos"][0]["threads"]
    (new,) = bumped["repos"][0]["threads"]
    versions = thread["analysis"]["prompt_version"], new["analysis"]["prompt_version"]
    assert versions[0].split(".")[0] == versions[1].split(".")[0] == "3" and versions[0] != versions[1]
