"""The language-model analyzer: any OpenAI-compatible chat completions server through the official SDK.

One request per commit (structured output, temperature 0, fixed seed), a bounded thread pool, the SDK's own
retries on 429/5xx (it honours retry-after), one retry with a larger output limit when the answer is cut
off or invalid, and the heuristic analysis for any commit that still has none. Answers are cached by
(sha, model, prompt version, language), so a re-run costs nothing and lists that share a repository and
a language share the analyses.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from newsletter.analyze import checks, facts, heuristic, story
from newsletter.analyze.base import Job, ProgressFn
from newsletter.analyze.budget import estimate_tokens
from newsletter.analyze.pricing import load_price
from newsletter.analyze.prompts import Prompt, commit_prompt, overview_prompt, version
from newsletter.analyze.schema import answer_schema, parse_answer, schema_text
from newsletter.config import Settings
from newsletter.errors import AnalysisError
from newsletter.i18n import t
from newsletter.models import Analysis, AnalyzedCommit, Thread, Usage
from newsletter.store.base import Cache

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
_OVERVIEW_TOKENS = 400


def _sdk() -> Any:
    """The openai SDK. Importing it is most of this analyzer's start (about half a second of CPU), so it is
    imported in the background when the analyzer is made (``_warm_up``), while the day is being collected,
    and here when a request is first sent (waiting for that import to finish if it has not)."""
    import openai

    return openai


def _fatal_errors() -> tuple[type[Exception], ...]:
    openai = _sdk()
    return (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


def _warm_up() -> None:
    try:
        importlib.import_module("openai")
    except Exception:  # the first request imports it again and reports what is wrong
        log.debug("importing the openai SDK in the background failed", exc_info=True)


class _Fallback(Exception):
    """This commit gets the heuristic analysis, for ``reason`` (already in the list's language)."""

    def __init__(self, reason: str, tokens_in: int = 0, tokens_out: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.tokens_in, self.tokens_out = reason, tokens_in, tokens_out


class LlmAnalyzer:
    name = "llm"

    def __init__(self, settings: Settings, cache: Cache, *, client: openai.OpenAI | None = None) -> None:
        self.settings = settings
        self.model: str | None = settings.openai_model
        self.cache = cache
        if client is not None:
            self.client = client
        else:
            threading.Thread(target=_warm_up, name="openai-import", daemon=True).start()
        # "auto" starts with json_schema and switches to json_object for the rest of the run on the first 400
        # that json_object then answers.
        self.response_format = "json_object" if settings.llm_response_format == "json_object" else "json_schema"
        self._auto_format = settings.llm_response_format == "auto"
        self._price = load_price(settings.openai_model, settings.prices_file)
        self._lock = threading.Lock()
        self._spent = 0  # tokens used or reserved against settings.run_token_budget
        self._fatal: AnalysisError | None = None
        self._unreachable: str | None = None  # set once the server could not be reached even after retries
        self.usage = Usage(analyzer=self.name, model=self.model)

    @cached_property
    def client(self) -> openai.OpenAI:
        return _sdk().OpenAI(
            api_key=self.settings.openai_api_key,
            base_url=self.settings.openai_base_url,
            max_retries=self.settings.llm_max_retries,
            timeout=self.settings.llm_timeout,
        )

    # ------------------------------------------------------------------------------------------ commits
    def analyze(self, jobs: Sequence[Job], *, language: str, progress: ProgressFn | None = None) -> list[Analysis]:
        started = time.monotonic()
        results: list[Analysis | None] = [None] * len(jobs)
        pending: list[int] = []
        for i, job in enumerate(jobs):
            cached = self._cached(job, language)
            if cached is not None:
                results[i] = cached
                continue
            why = heuristic.triage(job.commit) if self.settings.triage else None
            if why:
                reason = t(language, "fallback.triage", why=t(language, f"fallback.{why}"))
                results[i] = heuristic.analyse(job.commit, language, fallback_reason=reason)
                self._count(heuristic=1)
                continue
            pending.append(i)
        done = len(jobs) - len(pending)
        if progress:
            progress(done, len(jobs))
        # With a run budget, what the heuristic rates high is sent first, so that the budget cuts the low-rated
        # commits. Without one every commit is asked and the order does not matter: rating them all first (their
        # diffs' facts) would hold back the first request by seconds on a large day.
        if self.settings.run_token_budget:
            pending.sort(key=lambda i: heuristic.importance(jobs[i].commit).rank)
        with ThreadPoolExecutor(max_workers=self.settings.analysis_concurrency, thread_name_prefix="llm") as pool:
            futures = {pool.submit(self._one, jobs[i], language): i for i in pending}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    done += 1
                    if progress:
                        progress(done, len(jobs))
            except AnalysisError:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        self.usage.seconds += time.monotonic() - started
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

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

    def _one(self, job: Job, language: str) -> Analysis:
        if self._fatal:
            raise self._fatal
        try:
            if self._unreachable:
                # Every request would wait through the same retries: the rest of the run goes without the model.
                raise _Fallback(self._unreachable)
            analysis = self._ask(job, language)
        except _Fallback as fb:
            self._count(heuristic=1)
            analysis = heuristic.analyse(job.commit, language, fallback_reason=fb.reason)
            return analysis.model_copy(update={"tokens_in": fb.tokens_in, "tokens_out": fb.tokens_out})
        except _fatal_errors() as err:
            self._fatal = _fatal(err, self.settings)
            raise self._fatal from err
        except AnalysisError as err:
            self._fatal = err
            raise
        self.cache.put("analysis", self._key(job, language), analysis.model_dump(mode="json"))
        return analysis

    def _ask(self, job: Job, language: str) -> Analysis:
        """The model's answer for one commit, checked: in the list's language (else asked once more with the
        instruction repeated, then the heuristic), every figure and identifier grounded in what it was shown,
        and no flag that contradicts what the diff certainly does."""
        prompt = commit_prompt(job, language, budget=self.settings.diff_token_budget)
        sources = checks.commit_sources(job.commit, prompt.user)
        answer = self._answer(job, language)
        if not checks.in_language(checks.prose(answer), language, sources):
            self._count(language_retries=1)
            log.info("%s: answer not in %s; asking again", job.commit.short_sha, language)
            answer = self._answer(job, language, reminder=True, spent=(answer.tokens_in, answer.tokens_out))
            if not checks.in_language(checks.prose(answer), language, sources):
                raise _Fallback(t(language, "fallback.language"), answer.tokens_in, answer.tokens_out)
        checked = checks.ground(answer, sources, heuristic.analyse(job.commit, language))
        checked = checks.reconcile(checked, job.commit, facts.extract(job.commit), language)
        self._count(figures_dropped=len(checked.ungrounded), corrections=len(checked.corrections))
        return checked

    def _answer(self, job: Job, language: str, *, reminder: bool = False, spent: tuple[int, int] = (0, 0)) -> Analysis:
        """One valid answer as it came (cut-off or invalid answers are asked again once with twice the output
        limit); ``spent`` are the tokens of earlier requests for this commit."""
        max_tokens = self.settings.llm_max_tokens
        reason = ""
        tokens_in, tokens_out = spent
        for _attempt in range(2):
            completion = self._create(job, language, max_tokens, reminder)
            tokens_in += completion.usage.prompt_tokens if completion.usage else 0
            tokens_out += completion.usage.completion_tokens if completion.usage else 0
            if not completion.choices:
                raise _Fallback(t(language, "fallback.empty"), tokens_in, tokens_out)
            choice = completion.choices[0]
            # A refusal or a filtered answer would be the same on a retry: no second request.
            if choice.message.refusal:
                reason = t(language, "fallback.refused", why=" ".join(choice.message.refusal.split())[:160])
                raise _Fallback(reason, tokens_in, tokens_out)
            if choice.finish_reason == "content_filter":
                raise _Fallback(t(language, "fallback.filtered"), tokens_in, tokens_out)
            answer = parse_answer(choice.message.content) if choice.finish_reason != "length" else None
            if answer is not None:
                return Analysis(
                    **answer,
                    analyzer=self.name,
                    model=self.model,
                    prompt_version=version(language),
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                )
            reason = t(language, "fallback.cut_off" if choice.finish_reason == "length" else "fallback.invalid")
            log.info("%s: %s; retrying with %d output tokens", job.commit.short_sha, reason, 2 * max_tokens)
            max_tokens *= 2
        raise _Fallback(reason, tokens_in, tokens_out)

    def _create(self, job: Job, language: str, max_tokens: int, reminder: bool = False) -> Any:
        """One completion in the run's response format; the SDK itself retries 429/5xx/connection errors,
        honouring retry-after. A 400 to json_schema (in "auto") is retried once as json_object with the
        schema in the prompt, and when that works the rest of the run uses json_object."""
        openai = _sdk()
        mode = self.response_format
        try:
            return self._send_commit(job, language, max_tokens, mode, reminder)
        except openai.BadRequestError as err:
            if mode != "json_schema" or not self._auto_format:
                raise _Fallback(t(language, "fallback.server", error=_brief(err))) from err
            first = err
        except _fatal_errors():
            raise
        except openai.RateLimitError as err:
            raise _quota(err, self.settings) or _Fallback(t(language, "fallback.server", error=_brief(err))) from err
        except openai.APIConnectionError as err:
            self._unreachable = t(language, "fallback.server", error=_brief(err))
            raise _Fallback(self._unreachable) from err
        except openai.APIError as err:
            raise _Fallback(t(language, "fallback.server", error=_brief(err))) from err
        try:
            completion = self._send_commit(job, language, max_tokens, "json_object", reminder)
        except _fatal_errors():
            raise
        except openai.RateLimitError as err:
            raise _quota(err, self.settings) or _Fallback(t(language, "fallback.server", error=_brief(err))) from err
        except openai.APIError as err:
            raise _Fallback(t(language, "fallback.server", error=_brief(err))) from err
        with self._lock:
            if self.response_format == "json_schema":
                log.warning("the server rejected json_schema (%s); using json_object for this run", _brief(first))
                self.response_format = "json_object"
        return completion

    def _send_commit(self, job: Job, language: str, max_tokens: int, mode: str, reminder: bool) -> Any:
        schema = schema_text() if mode == "json_object" else None
        prompt = commit_prompt(job, language, budget=self.settings.diff_token_budget, schema=schema)
        if reminder:
            prompt = prompt.reminded(language, json=True)
        reserved = prompt.tokens + max_tokens
        self._reserve(reserved, language)
        try:
            return self._send(prompt, max_tokens, mode)
        finally:
            self._release(reserved)

    def _send(self, prompt: Prompt, max_tokens: int | None, response_format: str | None) -> Any:
        kwargs: dict[str, Any] = {}
        if response_format == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "commit_analysis", "strict": True, "schema": answer_schema()},
            }
        elif response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        try:
            completion = self.client.chat.completions.create(
                model=self.settings.openai_model,
                messages=[
                    {"role": "system", "content": prompt.system},
                    {"role": "user", "content": prompt.user},
                    *([{"role": "user", "content": prompt.reminder}] if prompt.reminder else []),
                ],
                temperature=0,
                seed=self.settings.llm_seed,
                max_tokens=max_tokens,
                **kwargs,
            )
        except json.JSONDecodeError as err:  # the SDK parses a JSON content type as is
            raise _not_openai(self.settings, f"invalid JSON ({err.msg})") from err
        # A body that is not JSON (a proxy's or a web server's page) comes back as a str, JSON of another
        # shape as a ChatCompletion without choices: either way OPENAI_BASE_URL is not a chat completions API.
        if not isinstance(completion, _sdk().types.chat.ChatCompletion):
            raise _not_openai(self.settings, f"{' '.join(str(completion).split())[:60]!r}")
        if not isinstance(getattr(completion, "choices", None), list):
            raise _not_openai(self.settings, "JSON with no choices")
        usage = completion.usage
        self._count(
            llm_calls=1,
            tokens_in=usage.prompt_tokens if usage else estimate_tokens(prompt.system + prompt.user),
            tokens_out=usage.completion_tokens if usage else 0,
        )
        return completion

    # ------------------------------------------------------------------------------------------ budget
    def _reserve(self, tokens: int, language: str) -> None:
        cap = self.settings.run_token_budget
        with self._lock:
            if cap and self._spent + tokens > cap:
                raise _Fallback(t(language, "fallback.budget"))
            self._spent += tokens

    def _release(self, reserved: int) -> None:
        with self._lock:
            self._spent -= reserved

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.usage, name, getattr(self.usage, name) + delta)
            if "tokens_in" in deltas or "tokens_out" in deltas:
                self._spent += deltas.get("tokens_in", 0) + deltas.get("tokens_out", 0)
                self.usage.cost_usd = self._price.cost(self.usage.tokens_in, self.usage.tokens_out)

    # ------------------------------------------------------------------------------------------ overview
    def threads(self, threads: Sequence[Thread], commits: Sequence[AnalyzedCommit], *, language: str) -> list[Thread]:
        """A thread's analysis is its lead's (a PR's merge commit sees the whole PR's diff) at the highest
        importance of its commits."""
        return story.analyse_threads(threads, commits, language)

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
        openai = _sdk()
        try:
            self._reserve(prompt.tokens + _OVERVIEW_TOKENS, language)
            try:
                completion = self._send(prompt, _OVERVIEW_TOKENS, None)
            finally:
                self._release(prompt.tokens + _OVERVIEW_TOKENS)
        except _fatal_errors() as err:
            raise _fatal(err, self.settings) from err
        except openai.RateLimitError as err:
            if quota := _quota(err, self.settings):
                raise quota from err
            log.warning("day overview of %s falls back to the heuristic: %s", repo, err)
            return None
        except (_Fallback, openai.APIError) as err:
            log.warning("day overview of %s falls back to the heuristic: %s", repo, err)
            return None
        if not completion.choices:
            return None
        choice = completion.choices[0]
        text = " ".join((choice.message.content or "").split())
        if choice.finish_reason in ("length", "content_filter") or choice.message.refusal or not text:
            return None
        return text


def _brief(err: openai.APIError) -> str:
    status = getattr(err, "status_code", None)
    text = " ".join(str(err.message).split())[:160]
    return f"HTTP {status}: {text}" if status else text


def _quota(err: openai.RateLimitError, settings: Settings) -> AnalysisError | None:
    """OpenAI's 429 for an account without credit: every request of the run would get it."""
    if err.code != "insufficient_quota":
        return None
    return AnalysisError(
        f"the model server at {settings.openai_base_url or 'OpenAI'} says the account has no quota left (HTTP 429)",
        hint="add credit to the account, or use --analyzer heuristic",
    )


def _not_openai(settings: Settings, got: str) -> AnalysisError:
    return AnalysisError(
        f"{settings.openai_base_url or 'OpenAI'} did not answer like an OpenAI-compatible server: {got}",
        hint="check OPENAI_BASE_URL (it usually ends in /v1)",
    )


def _fatal(err: openai.APIStatusError, settings: Settings) -> AnalysisError:
    where = settings.openai_base_url or "OpenAI"
    if isinstance(err, _sdk().NotFoundError):
        return AnalysisError(
            f"the model server at {where} does not know model {settings.openai_model!r} (HTTP 404)",
            hint="check NEWSLETTER_MODEL and OPENAI_BASE_URL (it usually ends in /v1)",
        )
    return AnalysisError(
        f"the model server at {where} refused the key (HTTP {err.status_code})",
        hint="check OPENAI_API_KEY, or use --analyzer heuristic",
    )
