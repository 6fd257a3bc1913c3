"""The protocols the stages need from a store. Each is defined by the code that uses it and kept small,
so that a backend (SQLite, DynamoDB) implements a handful of methods, not a database API."""

from __future__ import annotations

from typing import Any, Protocol


class Cache(Protocol):
    """Immutable JSON documents by (kind, key): commit details by SHA, analyses by (sha, model, prompt, lang).

    Values never change once written (a commit's contents never change), so there is no invalidation;
    a second ``put`` of the same key simply overwrites with an equal value.
    """

    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None: ...
