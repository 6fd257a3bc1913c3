"""The JSON schema of what a model is asked for (the first fields of models.Analysis), in the strict form
OpenAI's structured outputs require, and validation of what comes back."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import ValidationError, create_model

from newsletter.models import Analysis, ChangeType, Importance, Model

# Analysis' fields up to and including mismatch_note are the model's answer; the rest say how it was produced.
_names = list(Analysis.model_fields)
ASKED = tuple(_names[: _names.index("mismatch_note") + 1])

# Every field required (strict mode): the model must say null / [] / false explicitly.
Answer = create_model(  # type: ignore[call-overload]
    "CommitAnalysis",
    __base__=Model,
    **{name: (Analysis.model_fields[name].annotation, ...) for name in ASKED},
)


class MemberAnswer(Model):
    """One commit of a change, in one line: what the model is asked for each commit of a thread."""

    sha: str
    change_type: ChangeType
    importance: Importance
    headline: str
    breaking_change: bool
    security_relevant: bool


# One change of several commits: the analysis of the whole and one line per commit, in one answer.
ThreadAnswer = create_model(  # type: ignore[call-overload]
    "ThreadAnalysis",
    __base__=Model,
    thread=(Answer, ...),
    commits=(list[MemberAnswer], ...),
)


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items() if k not in {"default", "title"}}
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@cache
def answer_schema() -> dict[str, Any]:
    return _strict(Answer.model_json_schema())


@cache
def thread_schema() -> dict[str, Any]:
    return _strict(ThreadAnswer.model_json_schema())


def schema_text(schema: dict[str, Any] | None = None) -> str:
    return json.dumps(schema or answer_schema(), ensure_ascii=False, separators=(",", ":"))


def parse_thread_answer(text: str | None) -> dict[str, Any] | None:
    """The thread answer's parts (``thread``: the whole, ``commits``: one line each) when ``text`` is one
    JSON object that validates, else None."""
    return parse_answer(text, ThreadAnswer)


def parse_answer(text: str | None, shape: type[Model] = Answer) -> dict[str, Any] | None:
    """The answer's fields when ``text`` is one JSON object that validates, else None. Tolerates a code
    fence around it, which json_object-mode servers sometimes add."""
    if not text:
        return None
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body[body.find("{") :] if "{" in body else body
    try:
        return shape.model_validate(json.loads(body)).model_dump(mode="json")
    except (ValueError, ValidationError):
        return None
