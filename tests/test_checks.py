"""The checks of a model's answer (newsletter/analyze/checks/): grounding of figures and identifiers, the
list's language; on their own, over a real day, and end to end through the real SDK against FakeOpenAI."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter import lifecycle
from newsletter.analyze import Job, checks, facts, heuristic
from newsletter.analyze.prompts import commit_prompt, overview_prompt
from newsletter.backends import open_archive, open_store
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.i18n import t
from newsletter.issue import Issue
from newsletter.models import AnalyzedCommit, RepoCommits
from newsletter.pipeline import build_issue
from newsletter.store.base import MemberStatus
from newsletter.store.sqlite import SqliteStore
from tests.day import day_of_commits
from tests.fakes import github
from tests.fakes.openai import FakeOpenAI
from tests.llm_helpers import llm_settings

DATA = Path(__file__).parent / "data"
REAL_DAY = DATA / "days" / "sglang-jax-2026-05-14.json.gz"


def real_day() -> list[RepoCommits]:
    """sgl-project/sglang-jax on 2026-05-14 as `newsletter collect --json` wrote it (tests/data/days/)."""
    with gzip.open(REAL_DAY, "rt", encoding="utf-8") as fh:
        return [RepoCommits.model_validate(item) for item in json.load(fh)]


def _commits(issue: Issue) -> list[AnalyzedCommit]:
    return [c for repo in issue.repos for c in repo.commits]


# ------------------------------------------------------------------------------------------------ units


SOURCE = checks.Sources.of(
    "Title: perf: fuse the rope kernel (#42)\n"
    "Benchmark: decode is 2.5x faster, memory 1,024 MB -> 900 MB, TTFT 12.3 ms on H100.\n"
    "@@ -118,7 +118,9 @@\n+    def fused_rope(q, k, cos, sin):\n+        MAX_BATCH = 64\n"
)


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("Decode is 2.5x faster.", []),
        ("Decode is 2.5 times faster.", []),
        ("解码速度提升 2.5 倍。", []),
        ("Memory drops from 1024 MB to 900 MB.", []),
        ("TTFT is 12.3 ms on `H100`.", []),
        ("Adds `fused_rope` with `MAX_BATCH`.", []),
        ("Adds `fused-rope`.", []),  # - and _ are one
        ("About 3x faster.", ["3x"]),
        ("Cuts memory by 2.5%.", ["2.5%"]),  # 2.5 is stated, but as a ratio
        ("Runs on H200.", ["H200"]),
        ("Changes line 118.", ["118"]),  # hunk header positions are not stated figures
        ("Uses `FastPathScheduler`.", ["`FastPathScheduler`"]),
        ("Upgrades to v0.5.2.", ["v0.5.2"]),
    ],
)
def test_figures_and_identifiers_must_be_in_the_sources(text: str, missing: list[str]) -> None:
    assert checks.ungrounded(text, SOURCE) == missing


def test_a_short_sha_that_reads_as_a_number_is_grounded_by_the_full_one() -> None:
    sources = checks.Sources.of("Commit: 232181b0c5e1a9f1d2e3b4c5d6e7f8091a2b3c4d")
    assert checks.ungrounded("Commit 232181b.", sources) == []  # "232181" with the unit "b" (bytes)
    assert checks.ungrounded("Commit 232181c.", sources) == ["232181c"]


def test_figures_inside_links_and_code_of_the_sources_count() -> None:
    sources = checks.Sources.of("Follow-up of https://github.com/acme/widgets/pull/1234\n+    retries = `8`")
    assert checks.ungrounded("Follows up pull request #1234 and allows 8 retries.", sources) == []


def test_only_the_sentence_with_an_invented_figure_is_dropped() -> None:
    dropped: list[str] = []
    text = "Fuses the rope kernel. It is about 3x faster. Decode is 2.5x faster."
    assert checks.clean(text, SOURCE, dropped) == "Fuses the rope kernel. Decode is 2.5x faster."
    assert dropped == ["3x"]
    assert checks.clean("快约 3 倍。", SOURCE, dropped := []) is None and dropped == ["3 倍"]


@pytest.mark.parametrize(
    ("texts", "language", "ok"),
    [
        (["修复：Fix rope kernel for batch 64 (#42)", "融合了 rope 内核，解码更快。"], "zh-CN", True),
        (["新增 KV cache 的 FP8 量化支持，提升 MoE 推理吞吐。"], "zh-CN", True),
        (["作者说明：perf: fuse the rope kernel"], "zh-CN", True),  # a quotation of the title
        (["Fuses the rope kernel so that decoding is faster.", "融合内核。"], "zh-CN", False),
        (["分析：perf: fuse the rope kernel (#42)", "Makes the decode path faster for every user."], "zh-CN", False),
        (["Fuses the rope kernel in `fused_rope`; decoding gets faster."], "en", True),
        (["融合了 rope 内核，解码更快，所有用户都会受益。"], "en", False),
        (["`fused_rope` (+9/-7)"], "zh-CN", True),  # nothing but identifiers: nothing to judge
    ],
)
def test_prose_must_be_in_the_lists_language(texts: list[str], language: str, ok: bool) -> None:
    assert checks.in_language(texts, language, SOURCE) is ok


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_no_false_positives_on_the_key_less_analyses_of_a_real_day(language: str) -> None:
    """The key-less analyzer states only what the commit does (counts, paths, the author's own words): the
    checks must find every figure and identifier of it grounded, and its prose in the list's language."""
    days = [*real_day(), day_of_commits(40)]
    analysed = []
    for repo in days:
        for commit in repo.commits:
            prompt = commit_prompt(Job(repo.repo, commit), language, budget=12_000)
            sources = checks.commit_sources(commit, prompt.user)
            analysis = heuristic.analyse(commit, language)
            assert checks.ground(analysis, sources, analysis) is analysis, commit.sha
            assert checks.in_language(checks.prose(analysis), language, sources), commit.sha
            analysed.append(AnalyzedCommit(commit=commit, analysis=analysis))
    assert len(analysed) == 50
    prompt = overview_prompt(days[0].repo, analysed[:10], language)
    overview = heuristic.overview(days[0].repo, analysed[:10], language)
    assert overview and checks.ungrounded(overview, checks.Sources.of(prompt.user)) == []


# ---------------------------------------------------------------------------------------- against the fake


def _build(fake: FakeOpenAI, language: str, days: list[RepoCommits] | None = None) -> Issue:
    settings = llm_settings(fake, triage=False)
    return build_issue(
        days or [day_of_commits(4)],
        language=language,
        settings=settings,
        store=open_store(settings),
        analyzer_choice="llm",
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_grounded_answer_in_the_right_language_passes_untouched(language: str) -> None:
    with FakeOpenAI() as fake:
        issue = _build(fake, language, real_day())
    commits = _commits(issue)
    assert len(commits) == 10 and all(c.analysis.analyzer == "llm" for c in commits)
    prefix = "分析：" if language == "zh-CN" else "Analysis of "
    threaded = {sha for thread in issue.repos[0].threads for sha in thread.shas}
    for c in commits:
        assert c.analysis.headline == f"{prefix}{c.commit.title}"[:200]
        # A commit of a thread has its one line from the thread's answer; the thread has the whole analysis.
        assert len(c.analysis.summary) == (0 if c.commit.sha in threaded else 2) and c.analysis.ungrounded == []
        # The fake rates importance at random: a tests-only commit it calls high is set right, nothing else.
        scope = facts.extract(c.commit).scope.value
        assert c.analysis.corrections in ([], [f"importance: high → low ({scope} only)"])
    threads = issue.repos[0].threads
    assert threads and all(len(t.analysis.summary) == 2 for t in threads if t.analysis)
    assert len(fake.completions("analysis")) == 10 - len(threaded)  # no retry
    assert len(fake.completions("thread")) == len(threads)
    assert (issue.usage.figures_dropped, issue.usage.language_retries) == (0, 0)
    assert issue.repos[0].overview and "10" in issue.repos[0].overview  # the model's own, grounded


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_an_invented_speed_up_loses_its_bullet_and_is_recorded(language: str) -> None:
    with FakeOpenAI(invent="figure") as fake:
        issue = _build(fake, language)
    commits = _commits(issue)
    assert len(commits) == 4
    for c in commits:
        assert c.analysis.analyzer == "llm"
        assert len(c.analysis.summary) == 2  # the fake's two grounded bullets; the third is gone
        assert not any("2.5" in s for s in c.analysis.summary)
        assert "30" not in c.analysis.headline and c.commit.title[:20] in c.analysis.headline
        assert c.analysis.ungrounded == (["30%", "2.5x"] if language == "en" else ["30%", "2.5 倍"])
    assert issue.usage.figures_dropped == 8


def test_an_identifier_no_commit_has_is_dropped() -> None:
    with FakeOpenAI(invent="identifier") as fake:
        issue = _build(fake, "en")
    for c in _commits(issue):
        assert c.analysis.ungrounded == ["`FastPathScheduler`"]
        assert not any("FastPathScheduler" in s for s in c.analysis.summary)
    assert issue.usage.figures_dropped == 4


def test_a_wrong_language_answer_is_asked_again_once_with_the_reminder() -> None:
    with FakeOpenAI(invent="wrong_language_once") as fake:
        issue = _build(fake, "zh-CN")
    commits = _commits(issue)
    assert all(c.analysis.analyzer == "llm" and c.analysis.headline.startswith("分析：") for c in commits)
    assert all("受影响" in (c.analysis.impact or "") for c in commits)
    analyses = fake.completions("analysis")
    assert len(analyses) == 8
    retries = [r for r in analyses if len(r.body["messages"]) == 3]
    assert len(retries) == 4 and all("简体中文" in r.body["messages"][-1]["content"] for r in retries)
    # The overview was answered in English first too: one more retry.
    assert issue.usage.language_retries == 5 and "今天共有" in (issue.repos[0].overview or "")


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_an_answer_in_the_wrong_language_twice_falls_back_marked(language: str) -> None:
    with FakeOpenAI(invent="wrong_language") as fake:
        issue = _build(fake, language)
    commits = _commits(issue)
    for c in commits:
        assert c.analysis.analyzer == "heuristic"
        assert c.analysis.fallback_reason == t(language, "fallback.language")
        assert c.analysis.headline == heuristic.analyse(c.commit, language).headline
    assert len(fake.completions("analysis")) == 8  # one retry each, no more
    assert issue.usage.language_retries == 5 and issue.usage.heuristic == 4
    assert issue.repos[0].overview == heuristic.overview(issue.repos[0].repo, commits, language)
    assert commits[0].analysis.tokens_in > 0  # the two answers' tokens stay counted


# ------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with github.FakeGitHub(DATA / "github" / "widgets-2026-03-08") as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def test_build_prints_the_checks_and_keeps_them_in_the_issue_json(
    fake_github: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "issue.json"
    day = ["acme/widgets", "--date", "2026-03-08", "--tz", "America/Los_Angeles", "--analyzer", "llm"]
    with FakeOpenAI(invent="figure") as llm:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", llm.url)
        monkeypatch.setenv("NEWSLETTER_TRIAGE", "0")
        result = CliRunner().invoke(app, ["build", *day, "--format", "json", "--out", str(out)])
        calls = len(llm.completions("analysis")) + len(llm.completions("thread"))
    assert result.exit_code == 0, result.output
    usage = json.loads(out.read_text())["usage"]
    # 7 commits, two of them one thread (one call): "30%" and "2.5x" in each answer (a thread's: in its whole).
    assert calls == 6 and usage["figures_dropped"] == 12
    line = f"grounding: {usage['figures_dropped']} figures dropped · {usage['language_retries']} language retries"
    assert f"{line} · {usage['corrections']} corrections" in result.output


def test_run_prints_the_checks_and_keeps_them_with_the_issue(
    fake_github: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated_env: Path
) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "widgets.toml").write_text(
        'title = "Widgets daily"\nrepos = ["acme/widgets"]\ntimezone = "America/Los_Angeles"\n'
        'sender = "Commit Digest <digest@example.com>"\npostal_address = "1 Example Road"\nanalyzer = "llm"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSLETTER_LISTS_DIR", str(lists))
    store = SqliteStore(isolated_env / "newsletter.db")
    store.add_members([("ada@example.org", None)], "widgets", status=MemberStatus.ACTIVE, source="test")
    with FakeOpenAI(invent="identifier") as llm:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", llm.url)
        monkeypatch.setenv("NEWSLETTER_TRIAGE", "0")
        result = CliRunner().invoke(app, ["run", "--list", "widgets", "--date", "2026-03-08"])
        calls = len(llm.completions("analysis")) + len(llm.completions("thread"))
    assert result.exit_code == 0, result.output
    # One invented identifier per answer: 6 commits (the bot's is left out: exclude_bots), two in one thread.
    assert calls == 5 and "grounding: 5 figures dropped · 0 language retries · 0 corrections" in result.stdout
    kept = lifecycle.load(store, open_archive(Settings.from_env()), "widgets/2026-03-08")  # kept with the record
    assert kept is not None and kept.usage is not None and kept.usage.figures_dropped == 5
    store.close()
