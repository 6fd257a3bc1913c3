"""Talking to an OpenAI-compatible chat completions server through the official SDK: one question (``Ask``) in
the run's response format, one valid answer back, within the run's token budget and with the usage counted.

The SDK retries 429/5xx itself (it honours retry-after); a cut-off or invalid answer is asked again once with
twice the output limit; in "auto" a server that rejects json_schema gets json_object with the schema in the
prompt for the rest of the run. What cannot be answered raises ``Fallback`` (the caller takes the
heuristic's analysis, or asks commit by commit); what no request of the run could get past raises
``AnalysisError``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from newsletter.analyze import units
from newsletter.analyze.budget import estimate_tokens
from newsletter.analyze.pricing import load_price
from newsletter.analyze.prompts import Prompt
from newsletter.analyze.schema import schema_text
from newsletter.config import Settings
from newsletter.errors import AnalysisError
from newsletter.i18n import t
from newsletter.models import Usage

if TYPE_CHECKING:
    import openai

log = logging.getLogger("newsletter.analyze.llm")


def sdk() -> Any:
    """The openai SDK. Importing it is most of this analyzer's start (about half a second of CPU), so it is
    imported (and the client made) in the background when the analyzer is made (``_warm_up``), while the day
    is being collected, and here when a request is first sent (waiting for that import if it has not ended)."""
    import openai

    return openai


def fatal_errors() -> tuple[type[Exception], ...]:
    openai = sdk()
    return (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


class Fallback(Exception):
    """This commit gets the heuristic analysis, for ``reason`` (already in the list's language)."""

    def __init__(self, reason: str, tokens_in: int = 0, tokens_out: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.tokens_in, self.tokens_out = reason, tokens_in, tokens_out


@dataclass(frozen=True)
class Ask:
    """One question to the model: how to render its prompt (given the schema's text in json_object mode, else
    None), the answer's schema and name, and how to read the answer."""

    label: str  # for the log: a commit's short SHA or a thread's id
    render: Callable[[str | None], Prompt | None]
    schema: dict[str, Any]
    name: str
    parse: Callable[[str | None], dict[str, Any] | None]
    extra_output: int = 0  # output tokens beyond llm_max_tokens (a thread's line per commit)


class ModelClient:
    """The connection to the model server and what the run has spent on it."""

    name = "llm"

    def __init__(self, settings: Settings, *, client: openai.OpenAI | None = None) -> None:
        self.settings = settings
        self.model: str | None = settings.openai_model
        warm = client is None
        if client is not None:
            self.client = client
        # "auto" starts with json_schema and switches to json_object for the rest of the run on the first 400
        # that json_object then answers.
        self.response_format = "json_object" if settings.llm_response_format == "json_object" else "json_schema"
        self._auto_format = settings.llm_response_format == "auto"
        self._price = load_price(settings.openai_model, settings.prices_file)
        self._lock = threading.Lock()
        self._spent = 0  # tokens used or reserved against settings.run_token_budget
        self._unreachable: str | None = None  # set once the server could not be reached even after retries
        self.usage = Usage(analyzer=self.name, model=self.model)
        if warm:
            threading.Thread(target=self._warm_up, name="openai-import", daemon=True).start()

    def _warm_up(self) -> None:
        """The SDK imported and the client made (with what it imports when first used) in the background."""
        try:
            self.client.chat.completions  # noqa: B018 - the resources are made on first use
        except Exception:  # the first request makes it again and reports what is wrong
            log.debug("making the openai client in the background failed", exc_info=True)

    @cached_property
    def client(self) -> openai.OpenAI:
        openai = sdk()
        return openai.OpenAI(
            api_key=self.settings.openai_api_key,
            base_url=self.settings.openai_base_url,
            max_retries=self.settings.llm_max_retries,
            timeout=self.settings.llm_timeout,
            # The SDK's own HTTP client (its defaults), telling the run when a request is on its way.
            http_client=openai.DefaultHttpxClient(event_hooks={"request": [units.request_hook]}),
        )

    def _answer(
        self, ask: Ask, language: str, *, reminder: bool = False, spent: tuple[int, int] = (0, 0)
    ) -> tuple[dict[str, Any], int, int]:
        """One valid answer as it came, with the tokens it took (cut-off or invalid answers are asked again once
        with twice the output limit); ``spent`` are the tokens of earlier requests for the same question."""
        max_tokens = self.settings.llm_max_tokens + ask.extra_output
        reason = ""
        tokens_in, tokens_out = spent
        for _attempt in range(2):
            completion = self._create(ask, language, max_tokens, reminder)
            tokens_in += completion.usage.prompt_tokens if completion.usage else 0
            tokens_out += completion.usage.completion_tokens if completion.usage else 0
            if not completion.choices:
                raise Fallback(t(language, "fallback.empty"), tokens_in, tokens_out)
            choice = completion.choices[0]
            # A refusal or a filtered answer would be the same on a retry: no second request.
            if choice.message.refusal:
                reason = t(language, "fallback.refused", why=" ".join(choice.message.refusal.split())[:160])
                raise Fallback(reason, tokens_in, tokens_out)
            if choice.finish_reason == "content_filter":
                raise Fallback(t(language, "fallback.filtered"), tokens_in, tokens_out)
            answer = ask.parse(choice.message.content) if choice.finish_reason != "length" else None
            if answer is not None:
                return answer, tokens_in, tokens_out
            reason = t(language, "fallback.cut_off" if choice.finish_reason == "length" else "fallback.invalid")
            log.info("%s: %s; retrying with %d output tokens", ask.label, reason, 2 * max_tokens)
            max_tokens *= 2
        raise Fallback(reason, tokens_in, tokens_out)

    def _create(self, ask: Ask, language: str, max_tokens: int, reminder: bool = False) -> Any:
        """One completion in the run's response format; the SDK itself retries 429/5xx/connection errors,
        honouring retry-after. A 400 to json_schema (in "auto") is retried once as json_object with the
        schema in the prompt, and when that works the rest of the run uses json_object. The request (and its
        retry) holds a place among those in flight (``units``) until the answer is in."""
        with units.in_flight():
            return self._create_in_flight(ask, language, max_tokens, reminder)

    def _create_in_flight(self, ask: Ask, language: str, max_tokens: int, reminder: bool) -> Any:
        openai = sdk()
        mode = self.response_format
        try:
            return self._send_ask(ask, language, max_tokens, mode, reminder)
        except openai.BadRequestError as err:
            if mode != "json_schema" or not self._auto_format:
                raise Fallback(t(language, "fallback.server", error=brief(err))) from err
            first = err
        except fatal_errors():
            raise
        except openai.RateLimitError as err:
            raise quota_error(err, self.settings) or Fallback(t(language, "fallback.server", error=brief(err))) from err
        except openai.APIConnectionError as err:
            self._unreachable = t(language, "fallback.server", error=brief(err))
            raise Fallback(self._unreachable) from err
        except openai.APIError as err:
            raise Fallback(t(language, "fallback.server", error=brief(err))) from err
        try:
            completion = self._send_ask(ask, language, max_tokens, "json_object", reminder)
        except fatal_errors():
            raise
        except openai.RateLimitError as err:
            raise quota_error(err, self.settings) or Fallback(t(language, "fallback.server", error=brief(err))) from err
        except openai.APIError as err:
            raise Fallback(t(language, "fallback.server", error=brief(err))) from err
        with self._lock:
            if self.response_format == "json_schema":
                log.warning("the server rejected json_schema (%s); using json_object for this run", brief(first))
                self.response_format = "json_object"
        return completion

    def _send_ask(self, ask: Ask, language: str, max_tokens: int, mode: str, reminder: bool) -> Any:
        prompt = ask.render(schema_text(ask.schema) if mode == "json_object" else None)
        if prompt is None:  # the schema's text in the prompt leaves no room for the diffs
            raise Fallback(t(language, "fallback.budget"))
        if reminder:
            prompt = prompt.reminded(language, json=True)
        reserved = prompt.tokens + max_tokens
        self._reserve(reserved, language)
        try:
            return self._send(prompt, max_tokens, mode, ask)
        finally:
            self._release(reserved)

    def _send(self, prompt: Prompt, max_tokens: int | None, response_format: str | None, ask: Ask | None) -> Any:
        kwargs: dict[str, Any] = {}
        if response_format == "json_schema" and ask is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": ask.name, "strict": True, "schema": ask.schema},
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
            raise not_openai(self.settings, f"invalid JSON ({err.msg})") from err
        # A body that is not JSON (a proxy's or a web server's page) comes back as a str, JSON of another
        # shape as a ChatCompletion without choices: either way OPENAI_BASE_URL is not a chat completions API.
        if not isinstance(completion, sdk().types.chat.ChatCompletion):
            raise not_openai(self.settings, f"{' '.join(str(completion).split())[:60]!r}")
        if not isinstance(getattr(completion, "choices", None), list):
            raise not_openai(self.settings, "JSON with no choices")
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
                raise Fallback(t(language, "fallback.budget"))
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


def brief(err: openai.APIError) -> str:
    status = getattr(err, "status_code", None)
    text = " ".join(str(err.message).split())[:160]
    return f"HTTP {status}: {text}" if status else text


def quota_error(err: openai.RateLimitError, settings: Settings) -> AnalysisError | None:
    """OpenAI's 429 for an account without credit: every request of the run would get it."""
    if err.code != "insufficient_quota":
        return None
    return AnalysisError(
        f"the model server at {settings.openai_base_url or 'OpenAI'} says the account has no quota left (HTTP 429)",
        hint="add credit to the account, or use --analyzer heuristic",
    )


def not_openai(settings: Settings, got: str) -> AnalysisError:
    return AnalysisError(
        f"{settings.openai_base_url or 'OpenAI'} did not answer like an OpenAI-compatible server: {got}",
        hint="check OPENAI_BASE_URL (it usually ends in /v1)",
    )


def fatal_error(err: openai.APIStatusError, settings: Settings) -> AnalysisError:
    where = settings.openai_base_url or "OpenAI"
    if isinstance(err, sdk().NotFoundError):
        return AnalysisError(
            f"the model server at {where} does not know model {settings.openai_model!r} (HTTP 404)",
            hint="check NEWSLETTER_MODEL and OPENAI_BASE_URL (it usually ends in /v1)",
        )
    return AnalysisError(
        f"the model server at {where} refused the key (HTTP {err.status_code})",
        hint="check OPENAI_API_KEY, or use --analyzer heuristic",
    )
