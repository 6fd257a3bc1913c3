"""Rust: ``pub`` items; clap flags (derive and builder) and their defaults; environment variables; HTTP
routes (axum, actix)."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import compare
from newsletter.analyze.facts.model import Fact, FactKind

_PUB = re.compile(
    r"^\s*pub\s+(?:async\s+)?(?:unsafe\s+)?(?P<kind>fn|struct|enum|trait|type|mod|const|static)\s+(?P<name>\w+)", re.M
)
_DERIVE_FLAG = re.compile(
    r"#\[(?:arg|clap)\((?P<attrs>[^\]]*\blong\b[^\]]*)\)\]\s*(?:///[^\n]*\s*)*(?:pub\s+)?(?P<field>\w+)\s*:"
)
_LONG_NAME = re.compile(r"""\blong\s*=\s*"(?P<name>[\w-]+)"|\.long\(\s*"(?P<name2>[\w-]+)"\s*\)""")
_DEFAULT = re.compile(r"""default_value(?:_t)?\s*[=(]\s*(?P<value>"[^"]*"|[^,)\]]+)""")
_ENV = re.compile(
    r"""(?:env::var(?:_os)?|env!|option_env!)\(\s*"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"|\benv\s*=\s*"(?P<name2>[A-Z_][A-Z0-9_]*)\""""
)
_ROUTE = re.compile(r"""\.route\(\s*"(?P<name>/[^"]*)"|#\[(?:get|post|put|delete|patch)\(\s*"(?P<name2>/[^"]*)\"""")


def _symbols(text: str) -> dict[str, str | None]:
    return {m["name"]: m["kind"] for m in _PUB.finditer(text)}


def flags(text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match in _DERIVE_FLAG.finditer(text):
        explicit = _LONG_NAME.search(match["attrs"])
        name = (explicit["name"] or explicit["name2"]) if explicit else match["field"].replace("_", "-")
        default = _DEFAULT.search(match["attrs"])
        found.setdefault("--" + name, default["value"].strip() if default else None)
    for match in _LONG_NAME.finditer(text):
        if match["name2"]:
            found.setdefault("--" + match["name2"], None)
    return found


def _pairs(pattern: re.Pattern[str]):  # type: ignore[no-untyped-def]
    def find(text: str) -> dict[str, str | None]:
        return {m["name"] or m["name2"]: None for m in pattern.finditer(text)}

    return find


def extract(path: str, patch: str | None, *, public: bool) -> list[Fact]:
    facts = compare(
        patch, flags, path, added=FactKind.FLAG_ADDED, removed=FactKind.FLAG_REMOVED, changed=FactKind.DEFAULT_CHANGED
    )
    facts += compare(patch, _pairs(_ENV), path, added=FactKind.ENV_ADDED, removed=FactKind.ENV_REMOVED)
    if public:
        facts += compare(patch, _symbols, path, added=FactKind.SYMBOL_ADDED, removed=FactKind.SYMBOL_REMOVED)
        facts += compare(patch, _pairs(_ROUTE), path, added=FactKind.ROUTE_ADDED, removed=FactKind.ROUTE_REMOVED)
    return facts
