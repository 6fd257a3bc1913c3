"""The language model's calls for threads: one call for a thread whose commits fit one prompt, answering for the
whole change and with one line per commit, checked as a commit's answer is; and each thread's analysis for the
story of the day. The base of ``LlmAnalyzer``, which asks the commits."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from newsletter.analyze import checks, facts, heuristic, story
from newsletter.analyze.base import Job
from newsletter.analyze.model_client import Ask, Fallback, ModelClient, fatal_error, fatal_errors
from newsletter.analyze.prompts import Prompt, thread_prompt, version
from newsletter.analyze.schema import parse_thread_answer, thread_schema
from newsletter.errors import AnalysisError
from newsletter.i18n import t
from newsletter.models import Analysis, AnalyzedCommit, Commit, Thread
from newsletter.store.base import Cache

log = logging.getLogger("newsletter.analyze.llm")

_LINE_TOKENS = 80  # output tokens of one commit's line in a thread's answer


class ThreadCalls(ModelClient):
    cache: Cache
    _fatal: AnalysisError | None
    # The analysis of each thread asked as a whole in this run, by (thread key, language): the story reads it.
    _wholes: dict[tuple[str, str], Analysis]

    def _analysis(self, language: str, fields: dict[str, Any], tokens_in: int, tokens_out: int) -> Analysis:
        return Analysis(
            **fields,
            analyzer=self.name,
            model=self.model,
            prompt_version=version(language),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

    def _thread_key(self, jobs: Sequence[Job], language: str) -> str:
        return self._key_of_shas([job.commit.sha for job in jobs], language)

    def _key_of_shas(self, shas: Sequence[str], language: str) -> str:
        digest = hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest()[:24]
        return f"{digest}:{self.model}:{version(language)}:{language}"

    def _cached_thread(self, jobs: Sequence[Job], language: str) -> list[Analysis] | None:
        key = self._thread_key(jobs, language)
        value = self.cache.get("thread", key)
        if value is None:
            return None
        try:
            whole = Analysis.model_validate(value["thread"])
            members = [Analysis.model_validate(value["commits"][job.commit.sha]) for job in jobs]
        except (ValidationError, KeyError, TypeError):
            return None  # written by an older shape: ask again
        self._wholes[(key, language)] = whole
        self._count(cache_hits=len(jobs))
        return members

    def _thread(
        self, jobs: Sequence[Job], unit: list[int], language: str
    ) -> tuple[list[tuple[int, Analysis]], list[int]]:
        """One call for the thread of ``unit``'s jobs: (their analyses, the jobs to ask one by one — all of
        them when the thread does not fit one prompt or its call fails, else those the answer left out)."""
        members = [jobs[i] for i in unit]
        if self._fatal:
            raise self._fatal
        if self._unreachable:
            return [], unit
        try:
            answered = self._ask_thread(members, language)
        except Fallback as fb:
            log.info(
                "%s: %s; its commits are asked one by one",
                members[0].thread.id if members[0].thread else "?",
                fb.reason,
            )
            return [], unit
        except fatal_errors() as err:
            self._fatal = fatal_error(err, self.settings)
            raise self._fatal from err
        except AnalysisError as err:
            self._fatal = err
            raise
        if answered is None:
            return [], unit
        whole, by_sha = answered
        key = self._thread_key(members, language)
        self._wholes[(key, language)] = whole
        if len(by_sha) == len(members):
            value = {
                "thread": whole.model_dump(mode="json"),
                "commits": {s: a.model_dump(mode="json") for s, a in by_sha.items()},
            }
            self.cache.put("thread", key, value)
        pairs = [(i, by_sha[jobs[i].commit.sha]) for i in unit if jobs[i].commit.sha in by_sha]
        return pairs, [i for i in unit if jobs[i].commit.sha not in by_sha]

    def _ask_thread(self, members: Sequence[Job], language: str) -> tuple[Analysis, dict[str, Analysis]] | None:
        """The model's answer for a whole thread (None when it does not fit one prompt), checked as a commit's
        is: the whole against the facts of all its commits, each commit's line against its own."""
        thread, repo = members[0].thread, members[0].repo
        assert thread is not None
        commits = [job.commit for job in members]
        budget = self.settings.diff_token_budget
        prompt = thread_prompt(repo, thread, commits, language, budget=budget)

        def render(schema: str | None) -> Prompt | None:
            return (
                prompt
                if schema is None
                else thread_prompt(repo, thread, commits, language, budget=budget, schema=schema)
            )

        if prompt is None:
            return None
        extra = _LINE_TOKENS * len(commits)
        ask = Ask(thread.id, render, thread_schema(), "thread_analysis", parse_thread_answer, extra)
        sources = checks.Sources.of(prompt.user, *(checks.stats_text(c) for c in commits))
        raw, tokens_in, tokens_out = self._answer(ask, language)
        whole, lines = self._analysis(language, raw["thread"], tokens_in, tokens_out), raw["commits"]
        if not checks.in_language([*checks.prose(whole), *(line["headline"] for line in lines)], language, sources):
            self._count(language_retries=1)
            log.info("%s: answer not in %s; asking again", thread.id, language)
            raw, tokens_in, tokens_out = self._answer(ask, language, reminder=True, spent=(tokens_in, tokens_out))
            whole, lines = self._analysis(language, raw["thread"], tokens_in, tokens_out), raw["commits"]
            if not checks.in_language([*checks.prose(whole), *(line["headline"] for line in lines)], language, sources):
                raise Fallback(t(language, "fallback.language"), tokens_in, tokens_out)
        lead = next((c for c in commits if c.sha == thread.lead), commits[0])
        whole = checks.ground(whole, sources, heuristic.analyse(lead, language, thread=thread))
        whole = checks.reconcile(whole, lead, facts.combine(facts.extract(c) for c in commits), language)
        by_sha = {}
        for commit in commits:
            line = _line_of(commit, lines)
            if line is None:
                continue
            fields = {k: v for k, v in line.items() if k != "sha"}
            analysis = checks.ground(
                self._analysis(language, fields, 0, 0),
                checks.commit_sources(commit, prompt.user),
                heuristic.analyse(commit, language, thread=thread),
            )
            by_sha[commit.sha] = checks.reconcile(analysis, commit, facts.extract(commit), language)
        checked = [whole, *by_sha.values()]
        self._count(
            figures_dropped=sum(len(a.ungrounded) for a in checked),
            corrections=sum(len(a.corrections) for a in checked),
        )
        return whole, by_sha

    def threads(self, threads: Sequence[Thread], commits: Sequence[AnalyzedCommit], *, language: str) -> list[Thread]:
        """A thread asked as a whole has the model's analysis of the whole; any other its lead's (a PR's merge
        commit sees the whole PR's diff); either at the highest importance of its commits."""
        in_day = {c.commit.sha for c in commits}
        wholes = {}
        for thread in threads:
            key = self._key_of_shas([s for s in thread.shas if s in in_day], language)
            if (whole := self._wholes.get((key, language))) is not None:
                wholes[thread.id] = whole
        return story.analyse_threads(threads, commits, language, wholes=wholes)


def _line_of(commit: Commit, lines: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The answer's line for ``commit``: its SHA as shown, or a prefix of at least 7 characters of it."""
    for line in lines:
        sha = str(line.get("sha", "")).strip().lower()
        if len(sha) >= 7 and commit.sha.startswith(sha):
            return line
    return None
