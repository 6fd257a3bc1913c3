"""The language-model analyzer: any OpenAI-compatible chat completions server through the official SDK
(``model_client``: structured output, temperature 0, fixed seed, the SDK's retries, the run's token budget).

One request per thread whose commits fit one prompt (the analysis of the whole change and one line per
commit: ``llm_threads``), one per commit otherwise (a thread too large for one prompt, a failed thread call,
commits of no thread), in a bounded thread pool (``units``), what the heuristic rates high first and, of equal
rank, the smaller diffs first, with the next prompts made while the requests are out; the heuristic analysis
for any commit that still has none. Answers are checked (``checks``) and cached by (sha — or the thread's shas —, model,
prompt version, language), so a re-run costs nothing and lists that share a repository and a language share
the analyses.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from pydantic import ValidationError

from newsletter.analyze import checks, facts, heuristic, story
from newsletter.analyze import units as work_units
from newsletter.analyze.base import Job, ProgressFn
from newsletter.analyze.llm_threads import ThreadCalls
from newsletter.analyze.model_client import Ask, Fallback, fatal_error, fatal_errors, quota_error, sdk
from newsletter.analyze.prompts import (
    THREAD_MAX_COMMITS,
    Prompt,
    commit_prompt,
    overview_prompt,
    version,
)
from newsletter.analyze.schema import answer_schema, parse_answer
from newsletter.config import Settings
from newsletter.i18n import t
from newsletter.models import Analysis, AnalyzedCommit, Thread
from newsletter.store.base import Cache

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

UnitKey = tuple[int, ...]  # a unit's jobs, as what it needs is made ahead under (``units.Ahead``)
Prepared = tuple[Prompt, checks.Sources] | None  # a commit's prompt and sources, made ahead; None for a thread
_OVERVIEW_TOKENS = 400


def _by_thread(jobs: Sequence[Job]) -> list[list[int]]:
    """The jobs' indices grouped by thread (in the order first seen); a commit of no thread is alone, and so is
    each commit of a thread with too many commits for one call: known now, so that they are queued (and their
    diffs read ahead) as the single calls they will be, not after a thread call that cannot be made."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, job in enumerate(jobs):
        key = (job.repo, job.thread.id) if job.thread is not None else (job.repo, f"commit:{job.commit.sha}:{i}")
        groups.setdefault(key, []).append(i)
    units = []
    for group in groups.values():
        units.extend([group] if len(group) <= THREAD_MAX_COMMITS else [[i] for i in group])
    return units


class LlmAnalyzer(ThreadCalls):
    def __init__(self, settings: Settings, cache: Cache, *, client: openai.OpenAI | None = None) -> None:
        super().__init__(settings, client=client)
        self.cache = cache
        self._fatal = None
        self._wholes = {}

    # ------------------------------------------------------------------------------------------ commits
    def analyze(self, jobs: Sequence[Job], *, language: str, progress: ProgressFn | None = None) -> list[Analysis]:
        """One call per thread whose commits fit one prompt (the whole change and one line per commit), one
        per commit otherwise; answers from the cache, trivial commits by the triage."""
        started = time.monotonic()
        results: list[Analysis | None] = [None] * len(jobs)
        units: list[list[int]] = []  # the jobs asked in one call: a thread's, or one commit
        for members in _by_thread(jobs):
            if len(members) > 1:
                cached = self._cached_thread([jobs[i] for i in members], language)
                if cached is not None:
                    for i, analysis in zip(members, cached, strict=True):
                        results[i] = analysis
                    continue
                units.append(members)
                continue
            ready = self._ready(jobs[members[0]], language)
            if ready is not None:
                results[members[0]] = ready
            else:
                units.append(members)
        done = sum(r is not None for r in results)
        if progress:
            progress(done, len(jobs))
        # With a run budget, what the heuristic rates high is sent first, so that the budget cuts the low-rated
        # commits, and the commits of a thread that had to be asked one by one come next in their own place.
        # Without one the order does not matter: rating the whole day first would hold back the first request.
        budget = self.settings.run_token_budget
        ranks = [heuristic.importance(job.commit).rank if budget else 0 for job in jobs]
        # Of equal rank, the smaller diffs go first: the first requests leave sooner, and the large diffs are
        # read while they are out.
        units.sort(key=lambda unit: sum(len(f.patch or "") for i in unit for f in jobs[i].commit.files))
        queue = [(min(ranks[i] for i in unit), n, unit) for n, unit in enumerate(units)]
        heapq.heapify(queue)
        slots = work_units.Slots(self.settings.analysis_concurrency)
        # The first requests' prompts are made by their workers; the rest are made meanwhile, while the requests
        # are out, so that a freed place is not held up reading the next commit's diff.
        later = [tuple(unit) for _, _, unit in sorted(queue)[slots.size :]]
        ahead = work_units.Ahead(partial(self._prepare, jobs, language), later, slots)

        def finished(result: tuple[list[tuple[int, Analysis]], list[int]]) -> list[tuple[int, list[int]]]:
            nonlocal done
            answered, again = result
            # A thread's commits to ask one by one: first what the cache or the triage answers (checked up front
            # for the other single commits), then the rest in their own place.
            ready = [(i, self._ready(jobs[i], language)) for i in again]
            answered = answered + [(i, analysis) for i, analysis in ready if analysis is not None]
            for i, analysis in answered:
                results[i] = analysis
            done += len(answered)
            if progress and answered:
                progress(done, len(jobs))
            return [(ranks[i], [i]) for i in again if results[i] is None]

        try:
            work_units.run(queue, partial(self._unit, jobs, ahead, language), finished, slots=slots)
        finally:
            ahead.stop()
        self.usage.seconds += time.monotonic() - started
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _ready(self, job: Job, language: str) -> Analysis | None:
        """The commit's analysis without a call: cached, or the heuristic's for a surely trivial commit."""
        cached = self._cached(job, language)
        if cached is not None:
            return cached
        why = heuristic.triage(job.commit) if self.settings.triage else None
        if why:
            reason = t(language, "fallback.triage", why=t(language, f"fallback.{why}"))
            self._count(heuristic=1)
            return heuristic.analyse(job.commit, language, fallback_reason=reason)
        return None

    def _unit(
        self, jobs: Sequence[Job], ahead: work_units.Ahead[UnitKey, Prepared], language: str, unit: list[int]
    ) -> tuple[list[tuple[int, Analysis]], list[int]]:
        """(the analyses of the unit's jobs, the jobs still to ask one by one)."""
        if len(unit) > 1:
            ahead.get(tuple(unit))  # the commits' facts: read ahead, or now
            return self._thread(jobs, unit, language)
        return [(unit[0], self._one(jobs[unit[0]], language, partial(ahead.get, tuple(unit))))], []

    def _prepare(self, jobs: Sequence[Job], language: str, unit: UnitKey) -> Prepared:
        """A commit's prompt and what its answer is checked against; for a thread, its commits' facts read."""
        if len(unit) > 1:
            for i in unit:
                facts.extract(jobs[i].commit)
            return None
        return self._prepare_one(jobs[unit[0]], language)

    def _prepare_one(self, job: Job, language: str) -> tuple[Prompt, checks.Sources]:
        prompt = commit_prompt(job, language, budget=self.settings.diff_token_budget)
        return prompt, checks.commit_sources(job.commit, prompt.user).indexed()

    def _key(self, job: Job, language: str) -> str:
        return f"{job.commit.sha}:{self.model}:{version(language)}:{language}"

    def _cached(self, job: Job, language: str) -> Analysis | None:
        value = self.cache.get("analysis", self._key(job, language))
        if value is None:
            return None
        try:
            analysis = Analysis.model_validate(value)
        except ValidationError:
            return None  # written by an older shape of the model: analyse again
        self._count(cache_hits=1)
        return analysis

    def _one(self, job: Job, language: str, prepared: Callable[[], Prepared] | None = None) -> Analysis:
        if self._fatal:
            raise self._fatal
        try:
            if self._unreachable:
                # Every request would wait through the same retries: the rest of the run goes without the model.
                raise Fallback(self._unreachable)
            with self._fatal_stops_the_run():
                analysis = self._ask(job, language, prepared)
        except Fallback as fb:
            self._count(heuristic=1)
            analysis = heuristic.analyse(job.commit, language, fallback_reason=fb.reason)
            return analysis.model_copy(update={"tokens_in": fb.tokens_in, "tokens_out": fb.tokens_out})
        self.cache.put("analysis", self._key(job, language), analysis.model_dump(mode="json"))
        return analysis

    def _ask(self, job: Job, language: str, prepared: Callable[[], Prepared] | None = None) -> Analysis:
        """The model's answer for one commit, checked: in the list's language (else asked once more with the
        instruction repeated, then the heuristic), every figure and identifier grounded in what it was shown,
        and no flag that contradicts what the diff certainly does."""
        budget = self.settings.diff_token_budget
        prompt, sources = (prepared() if prepared else None) or self._prepare_one(job, language)

        def render(schema: str | None) -> Prompt:
            # The prompt without a schema is the one the checks read: it is made once.
            return prompt if schema is None else commit_prompt(job, language, budget=budget, schema=schema)

        ask = Ask(job.commit.short_sha, render, answer_schema(), "commit_analysis", parse_answer)
        answer = self._analysis(language, *self._answer(ask, language))
        if not checks.in_language(checks.prose(answer), language, sources):
            self._count(language_retries=1)
            log.info("%s: answer not in %s; asking again", job.commit.short_sha, language)
            spent = (answer.tokens_in, answer.tokens_out)
            answer = self._analysis(language, *self._answer(ask, language, reminder=True, spent=spent))
            if not checks.in_language(checks.prose(answer), language, sources):
                raise Fallback(t(language, "fallback.language"), answer.tokens_in, answer.tokens_out)
        checked = checks.ground(answer, sources, heuristic.analyse(job.commit, language))
        checked = checks.reconcile(checked, job.commit, facts.extract(job.commit), language)
        self._count(figures_dropped=len(checked.ungrounded), corrections=len(checked.corrections))
        return checked

    # ------------------------------------------------------------------------------------------ overview
    def overview(
        self, repo: str, commits: Sequence[AnalyzedCommit], *, language: str, threads: Sequence[Thread] = ()
    ) -> str | None:
        if not commits:
            return None
        fingerprint = hashlib.sha256(
            "\n".join(sorted(f"{c.commit.sha}:{c.analysis.importance}:{c.analysis.headline}" for c in commits)).encode()
        ).hexdigest()[:16]
        key = f"{repo}:{fingerprint}:{self.model}:{version(language)}:{language}"
        cached = self.cache.get("overview", key)
        if cached is not None:
            self._count(cache_hits=1)
            return str(cached["text"])
        if self._unreachable:
            return story.overview(repo, commits, language, threads)
        prompt = overview_prompt(repo, commits, language)
        sources = checks.Sources.of(prompt.user)
        text = self._overview_text(prompt, repo, language)
        if text and not checks.in_language([text], language, sources):
            self._count(language_retries=1)
            text = self._overview_text(prompt.reminded(language, json=False), repo, language)
            text = text if text and checks.in_language([text], language, sources) else None
        dropped: list[str] = []
        text = checks.clean(text, sources, dropped)
        self._count(figures_dropped=len(dropped))
        if not text:
            return story.overview(repo, commits, language, threads)
        self.cache.put("overview", key, {"text": text})
        return text

    def _overview_text(self, prompt: Prompt, repo: str, language: str) -> str | None:
        """The model's paragraph, or None when it has none to give (the heuristic's stands in)."""
        try:
            self._reserve(prompt.tokens + _OVERVIEW_TOKENS, language)
            try:
                completion = self._send(prompt, _OVERVIEW_TOKENS, None, None)
            finally:
                self._release(prompt.tokens + _OVERVIEW_TOKENS)
        except fatal_errors() as err:
            raise fatal_error(err, self.settings) from err
        except sdk().RateLimitError as err:
            if quota := quota_error(err, self.settings):
                raise quota from err
            log.warning("day overview of %s falls back to the heuristic: %s", repo, err)
            return None
        except (Fallback, sdk().APIError) as err:
            log.warning("day overview of %s falls back to the heuristic: %s", repo, err)
            return None
        if not completion.choices:
            return None
        choice = completion.choices[0]
        text = " ".join((choice.message.content or "").split())
        if choice.finish_reason in ("length", "content_filter") or choice.message.refusal or not text:
            return None
        return text
