"""The LLM analyzer end to end: the real openai SDK against FakeOpenAI on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.analyze import Job
from newsletter.analyze.heuristic import triage
from newsletter.analyze.prompts import PROMPT_VERSION
from newsletter.analyze.schema import Answer
from newsletter.backends import make_analyzer, open_store
from newsletter.compose import find_threads
from newsletter.errors import AnalysisError
from newsletter.models import Analysis, Window
from newsletter.pipeline import build_issue
from newsletter.render.markdown import render_markdown
from tests.day import day_of_commits
from tests.fakes.openai import FakeOpenAI
from tests.llm_helpers import llm_settings


def _all(issue):  # every analysed commit of the issue
    return [c for repo in issue.repos for c in repo.commits]


def test_forty_commits_one_request_per_thread_or_commit_then_zero_from_the_cache() -> None:
    day = day_of_commits(40)
    trivial = [c for c in day.commits if triage(c)]
    assert len(trivial) == 3  # the CI-only, the dependabot bump and the README typo of tests/day.py
    threads = find_threads(day.commits)
    threaded = {sha for thread in threads for sha in thread.shas}
    assert [len(t.shas) for t in threads] == [2, 3, 4] and not threaded & {c.sha for c in trivial}
    with FakeOpenAI() as fake:
        settings = llm_settings(fake)
        store = open_store(settings)
        issue = build_issue([day], language="en", settings=settings, store=store, analyzer_choice="llm")

        analysed = _all(issue)
        assert sorted(c.commit.sha for c in analysed) == sorted(c.sha for c in day.commits)
        for c in analysed:
            Answer.model_validate(c.analysis.model_dump(include=set(Answer.model_fields)))
        llm = [c for c in analysed if c.analysis.analyzer == "llm"]
        assert len(llm) == 37
        assert all(c.analysis.headline == f"Analysis of {c.commit.title}" for c in llm)  # each got its own answer
        # One call for each thread (its commits get their line from it), one for each other commit.
        assert len(fake.completions("thread")) == 3
        assert len(fake.completions("analysis")) == 37 - 9
        assert len(fake.completions("overview")) == 1
        assert issue.repos[0].overview and "37" not in issue.repos[0].overview
        assert issue.usage.analyzer == "llm" and issue.usage.llm_calls == 32 and issue.usage.heuristic == 3
        assert issue.usage.tokens_in > 0 and issue.usage.cost_usd > 0

        before = len(fake.requests)
        # Another list with the same repository and language: the same analyses, no request at all.
        again = build_issue(
            [day], language="en", settings=settings, store=store, analyzer_choice="llm", list_id="other-list"
        )
        assert len(fake.requests) == before
        assert again.usage.llm_calls == 0 and again.usage.cache_hits == 38
        assert [c.analysis for c in _all(again)] == [c.analysis for c in analysed]


def test_another_language_is_analysed_again() -> None:
    day = day_of_commits(4)
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False)
        store = open_store(settings)
        build_issue([day], language="en", settings=settings, store=store, analyzer_choice="llm")
        zh = build_issue([day], language="zh-CN", settings=settings, store=store, analyzer_choice="llm")
    assert len(fake.completions("analysis")) == 8
    assert all(c.analysis.headline.startswith("分析：") for c in _all(zh))


def test_rate_limits_and_cut_off_answers_never_lose_a_commit() -> None:
    day = day_of_commits(40)
    # Every 7th answer a refusal: at least one commit surely falls back, so the checks on fallbacks below run.
    with FakeOpenAI(fail_every=3, retry_after=0.01, truncate_every=5, misbehave="refusal", misbehave_every=7) as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=4)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings), analyzer_choice="llm")
        markdown = render_markdown(issue)

    analysed = _all(issue)
    assert len(analysed) == 40
    assert fake.completions(status=429), "the fake should have rate-limited some requests"
    assert [r for r in fake.requests if r.status == 200 and r.body["max_tokens"] == 4000], "no retry after a cut-off"
    for c in analysed:
        assert c.analysis.analyzer == "llm" or c.analysis.fallback_reason, c.commit.title
        assert c.commit.short_sha in markdown
    fell_back = [c for c in analysed if c.analysis.fallback_reason]
    assert fell_back, "the refusals should have made some commits fall back"
    for c in fell_back:
        assert "heuristic analysis" in markdown
        assert c.analysis.fallback_reason in markdown


def test_requests_in_flight_reach_the_concurrency_and_never_pass_it() -> None:
    """A unit of work gives its place back when its answer is in, before the answer is checked, and the next
    unit's request takes it; a unit's second request (here: every answer first comes in the wrong language)
    waits for a place like any other."""
    day = day_of_commits(12)
    with FakeOpenAI(latency=0.4, invent="wrong_language_once") as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=3)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings), analyzer_choice="llm")
    asked = fake.completions("analysis") + fake.completions("thread")
    reminded = [r for r in asked if sum(m["role"] == "user" for m in r.body["messages"]) > 1]
    assert asked and len(reminded) == len(asked) // 2  # every unit asked twice
    assert all(c.analysis.analyzer == "llm" for c in _all(issue))
    assert fake.max_in_flight == 3


def test_cut_off_twice_falls_back_with_the_reason() -> None:
    day = day_of_commits(2)
    with FakeOpenAI(truncate_every=1) as fake:
        settings = llm_settings(fake, triage=False)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings), analyzer_choice="llm")
    for c in _all(issue):
        assert c.analysis.analyzer == "heuristic"
        assert c.analysis.fallback_reason == "model output cut off twice"
        assert c.analysis.tokens_out > 0  # what the failed attempts cost is still accounted
    limits = sorted(r.body["max_tokens"] for r in fake.completions("analysis"))
    assert limits == [2000, 2000, 4000, 4000]


def test_invalid_json_is_retried_then_marked() -> None:
    day = day_of_commits(3)
    with FakeOpenAI(invalid_every=1) as fake:
        settings = llm_settings(fake, triage=False)
        issue = build_issue([day], language="zh-CN", settings=settings, store=open_store(settings))
    assert len(fake.completions("analysis")) == 6
    assert {c.analysis.fallback_reason for c in _all(issue)} == {"模型输出不是有效的分析 JSON"}


def test_a_server_without_json_schema_gets_json_object_with_the_schema_in_the_prompt() -> None:
    day = day_of_commits(12)
    with FakeOpenAI(reject_json_schema=True) as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=2)
        analyzer = make_analyzer(settings, "llm", cache=open_store(settings))
        analyses = analyzer.analyze([Job("o/r", c) for c in day.commits], language="en")
    assert all(a.analyzer == "llm" for a in analyses)
    assert analyzer.response_format == "json_object"
    rejected = fake.completions(status=400)
    assert 1 <= len(rejected) <= 2  # detected once per run (at most one per worker already in flight)
    accepted = fake.completions("analysis")
    assert len(accepted) == 12 and {r.response_format for r in accepted} == {"json_object"}
    system = accepted[0].body["messages"][0]["content"]
    assert '"additionalProperties":false' in system and "mismatch_note" in system


def test_json_schema_request_is_strict_deterministic_and_complete() -> None:
    day = day_of_commits(1)
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False, llm_seed=42)
        build_issue([day], language="en", settings=settings, store=open_store(settings))
    body = fake.completions("analysis")[0].body
    assert body["temperature"] == 0 and body["seed"] == 42
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert set(schema["schema"]["required"]) == set(Answer.model_fields)
    assert "analyzer" not in schema["schema"]["properties"]  # only what the model is asked for
    user = body["messages"][1]["content"]
    assert day.commits[0].title in user and day.commits[0].sha in user


def test_a_run_budget_spares_the_model_for_what_the_heuristic_rates_low() -> None:
    day = day_of_commits(40)
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=1, run_token_budget=25_000)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings))
    from newsletter.analyze.heuristic import importance

    analysed = _all(issue)
    assert len(analysed) == 40
    # A thread is asked in one call, in the place of its most important commit.
    threads = find_threads(day.commits)
    by_title = {c.title: importance(c).rank for c in day.commits}
    by_title |= {t.title: min(importance(c).rank for c in day.commits if c.sha in t.shas) for t in threads}
    asked = [
        by_title[r.title if r.kind == "analysis" else r.user.split("Change: ")[1].splitlines()[0]]
        for r in fake.requests
        if r.kind != "overview"
    ]
    assert asked == sorted(asked)  # what the heuristic rates high was asked first
    skipped = [c for c in analysed if c.analysis.fallback_reason == "run token budget reached"]
    assert asked and skipped and len(asked) < 40
    assert issue.usage.tokens_in + issue.usage.tokens_out <= 25_000


def test_without_a_run_budget_the_smaller_diffs_are_asked_first() -> None:
    """Ordering by the heuristic's rating only matters when a budget may cut the run; without one, rating the
    whole day first (every diff's facts) would only hold back the first request. The smaller diffs go first
    (their prompts are made soonest), the rest in the day's order."""
    day = day_of_commits(40)
    from newsletter.analyze.heuristic import importance

    ranks = [importance(c).rank for c in day.commits]
    assert ranks != sorted(ranks)  # rating first would change the order
    sizes = [sum(len(f.patch or "") for f in c.files) for c in day.commits]
    assert sizes != sorted(sizes)  # asking as they come would keep the day's order
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=1)
        build_issue([day], language="en", settings=settings, store=open_store(settings))
        asked = [r.body["messages"][1]["content"] for r in fake.completions("analysis")]
    order = [next(i for i, c in enumerate(day.commits) if c.sha in text) for text in asked]
    assert len(order) > 20 and order == sorted(order, key=lambda i: (sizes[i], i))


def test_the_sdk_is_imported_while_the_day_is_collected_not_before(tmp_path: Path) -> None:
    """Importing the openai SDK is most of the analyzer's start: the analyzer is made at once and the SDK is
    imported in the background (a fresh process, so that nothing imported it before)."""
    code = (
        "import sys, threading\n"
        "from newsletter.config import Settings\n"
        "from newsletter.backends import make_analyzer\n"
        "import newsletter.analyze.llm\n"
        "print('openai' in sys.modules)\n"
        f"settings = Settings.from_env({{'OPENAI_API_KEY': 'k', 'NEWSLETTER_DATA_DIR': {str(tmp_path)!r}}})\n"
        "analyzer = make_analyzer(settings, 'llm')\n"
        "importing = [t for t in threading.enumerate() if t.name == 'openai-import']\n"
        "print(analyzer.name, len(importing))\n"
        "[t.join() for t in importing]\n"
        "print('openai' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "llm", "1", "True"], done.stdout + done.stderr


def test_a_refused_key_is_one_clear_error() -> None:
    day = day_of_commits(3)
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, openai_api_key="wrong")
        with pytest.raises(AnalysisError, match="refused the key") as info:
            build_issue([day], language="en", settings=settings, store=open_store(settings))
    assert "OPENAI_API_KEY" in str(info.value)


def test_the_cache_survives_a_new_process_as_json() -> None:
    day = day_of_commits(2)
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=False)
        build_issue([day], language="en", settings=settings, store=open_store(settings))
    store = open_store(settings)  # a new connection to the same file
    rows = store._db.execute("SELECT key, value FROM cache WHERE kind = 'analysis'").fetchall()
    assert len(rows) == 2
    for key, value in rows:
        _sha, model, version, language = key.split(":")
        assert model == "gpt-4o-mini" and language == "en" and version.startswith(f"{PROMPT_VERSION}.")
        Analysis.model_validate(json.loads(value))


def test_an_unreachable_server_degrades_to_the_heuristic_quickly() -> None:
    day = day_of_commits(6)
    with FakeOpenAI() as fake:
        url = fake.url  # the port is closed once the fake stops
    settings = llm_settings(fake, openai_base_url=url, triage=False, llm_max_retries=0, analysis_concurrency=1)
    issue = build_issue([day], language="en", settings=settings, store=open_store(settings))
    analysed = _all(issue)
    assert len(analysed) == 6
    for c in analysed:
        assert c.analysis.analyzer == "heuristic" and "Connection error" in (c.analysis.fallback_reason or "")
    assert issue.repos[0].overview  # the heuristic overview stands in


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        ("refusal", "the model declined: I'm sorry, I can't help with that."),
        ("content_filter", "the model server's content filter withheld the answer"),
        ("empty_choices", "the model server answered with no choice"),
    ],
)
def test_answers_without_an_analysis_fall_back_at_once_with_the_reason(misbehave: str, reason: str) -> None:
    day = day_of_commits(4)
    with FakeOpenAI(misbehave=misbehave, misbehave_every=2) as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=1)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings))
    analysed = _all(issue)
    assert len(analysed) == 4
    fell_back = [c for c in analysed if c.analysis.analyzer == "heuristic"]
    assert fell_back and {c.analysis.fallback_reason for c in fell_back} == {reason}
    assert all(c.analysis.analyzer == "llm" for c in analysed if c not in fell_back)
    # Refused or filtered: asking again would not help, so each commit costs one request.
    assert len(fake.completions("analysis")) == 4
    assert issue.repos[0].overview


@pytest.mark.parametrize(
    ("misbehave", "got"),
    [("html", "'<html><body><h1>Welcome to nginx!"), ("invalid_json", "invalid JSON"), ("no_choices", "no choices")],
)
def test_a_server_that_is_not_a_chat_completions_api_stops_the_run_in_one_line(misbehave: str, got: str) -> None:
    day = day_of_commits(6)
    with FakeOpenAI(misbehave=misbehave) as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=2)
        with pytest.raises(AnalysisError, match="did not answer like an OpenAI-compatible server") as info:
            build_issue([day], language="en", settings=settings, store=open_store(settings))
    assert got in str(info.value) and "OPENAI_BASE_URL" in str(info.value)
    assert len(fake.requests) <= 2  # the first answer stops the run (one per worker already in flight)


def test_an_account_without_quota_stops_the_run_in_one_line() -> None:
    day = day_of_commits(6)
    with FakeOpenAI(misbehave="insufficient_quota") as fake:
        settings = llm_settings(fake, triage=False, analysis_concurrency=1, llm_max_retries=0)
        with pytest.raises(AnalysisError, match="no quota left") as info:
            build_issue([day], language="en", settings=settings, store=open_store(settings))
    assert "--analyzer heuristic" in str(info.value)
    assert len(fake.requests) == 1


def test_a_large_fix_typo_commit_still_reaches_the_model() -> None:
    """Triage skips only small doc typo fixes: "fix typos" across hundreds of lines of docs is worth a look."""
    from datetime import timedelta

    from newsletter.models import RepoCommits
    from tests.day import DAY, REPO, TZ, make_commit

    window = Window.for_day(DAY, TZ)
    small = make_commit(0, "docs: fix typo in README", "alice", [("README.md", 1, 1)], window.end - timedelta(hours=1))
    large = make_commit(
        1, "docs: fix typos across the guide", "alice", [("docs/guide.md", 200, 180)], window.end - timedelta(hours=2)
    )
    day = RepoCommits(repo=REPO, branch="main", window=window, commits=[small, large])
    with FakeOpenAI() as fake:
        settings = llm_settings(fake, triage=True)
        issue = build_issue([day], language="en", settings=settings, store=open_store(settings), analyzer_choice="llm")
    assert [r.title for r in fake.completions("analysis")] == [large.title]
    by_title = {c.commit.title: c.analysis for c in _all(issue)}
    assert by_title[large.title].analyzer == "llm" and by_title[small.title].analyzer == "heuristic"
