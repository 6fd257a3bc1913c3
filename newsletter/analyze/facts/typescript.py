"""TypeScript/JavaScript: ``export``ed functions, classes, types and constants; yargs/commander options;
``process.env`` variables; HTTP routes (express, fastify, hono)."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import compare
from newsletter.analyze.facts.model import Fact, FactKind

_EXPORT = re.compile(
    r"^export\s+(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?"
    r"(?P<kind>function\*?|class|const|let|var|interface|type|enum)\s+(?P<name>[A-Za-z_$][\w$]*)",
    re.M,
)
_OPTION = re.compile(r"""\.(?:option|requiredOption)\(\s*['"`](?P<spec>[^'"`]+)['"`]""")
_ENV = re.compile(
    r"""process\.env\.(?P<name>[A-Z_][A-Z0-9_]*)|process\.env\[\s*['"](?P<name2>[A-Z_][A-Z0-9_]*)['"]\s*\]"""
    r"""|import\.meta\.env\.(?P<name3>[A-Z_][A-Z0-9_]*)"""
)
_ROUTE = re.compile(
    r"""\b(?:app|router|server|fastify)\.(?:get|post|put|delete|patch|all)\(\s*['"`](?P<name>/[^'"`]*)"""
)


def _symbols(text: str) -> dict[str, str | None]:
    return {m["name"]: m["kind"].rstrip("*") for m in _EXPORT.finditer(text)}


def flags(text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match in _OPTION.finditer(text):
        spec = match["spec"]
        long = re.search(r"--[\w-]+", spec)
        name = long.group(0) if long else ("--" + spec.strip() if re.fullmatch(r"[\w-]+", spec.strip()) else None)
        if name:
            found.setdefault(name, None)
    return found


def _env(text: str) -> dict[str, str | None]:
    return {m["name"] or m["name2"] or m["name3"]: None for m in _ENV.finditer(text)}


def _routes(text: str) -> dict[str, str | None]:
    return {m["name"]: None for m in _ROUTE.finditer(text)}


def extract(path: str, patch: str | None, *, public: bool) -> list[Fact]:
    facts = compare(patch, flags, path, added=FactKind.FLAG_ADDED, removed=FactKind.FLAG_REMOVED)
    facts += compare(patch, _env, path, added=FactKind.ENV_ADDED, removed=FactKind.ENV_REMOVED)
    if public:
        facts += compare(patch, _symbols, path, added=FactKind.SYMBOL_ADDED, removed=FactKind.SYMBOL_REMOVED)
        facts += compare(patch, _routes, path, added=FactKind.ROUTE_ADDED, removed=FactKind.ROUTE_REMOVED)
    return facts
