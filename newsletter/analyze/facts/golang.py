"""Go: exported functions, methods and types; ``flag``/cobra/pflag flags and their defaults; environment
variables; HTTP routes (net/http, gin, echo, chi)."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import calls, clip, compare, regex_finder, split_args
from newsletter.analyze.facts.model import Fact, FactKind

_FUNC = re.compile(r"^func\s+(?:\((?P<recv>[^)]*)\)\s*)?(?P<name>[A-Z]\w*)\s*[\[(]", re.M)
_TYPE = re.compile(r"^type\s+(?P<name>[A-Z]\w*)\s+(?P<kind>struct|interface|func|\w+)", re.M)
_FLAG_CALL = re.compile(
    r"\.(?P<type>String|Int|Int64|Uint|Uint64|Bool|Duration|Float64|StringSlice|StringArray|IntSlice)"
    r"(?P<var>Var)?(?P<short>P)?\s*\("
)
_ENV = re.compile(r"""os\.(?:Getenv|LookupEnv)\(\s*"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"\s*\)""")
_ROUTE = re.compile(
    r"""(?:HandleFunc|Handle|\.(?:GET|POST|PUT|DELETE|PATCH|Get|Post|Put|Delete|Patch))\(\s*"(?P<name>/[^"]*)\"""",
)


def _symbols(text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match in _FUNC.finditer(text):
        receiver = match["recv"].split()[-1].lstrip("*") if match["recv"] else None
        if receiver and not receiver[:1].isupper():
            continue  # a method of an unexported type is not public surface
        found[f"{receiver}.{match['name']}" if receiver else match["name"]] = "method" if receiver else "function"
    for match in _TYPE.finditer(text):
        found[match["name"]] = "type"
    return found


def flags(text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for match, args in calls(text, _FLAG_CALL):
        parts = split_args(args)
        index = 1 if match["var"] else 0
        if len(parts) <= index or not parts[index].startswith('"'):
            continue
        name = "--" + parts[index].strip('"')
        default_at = index + (2 if match["short"] else 1)
        found.setdefault(name, clip(parts[default_at], 60) if len(parts) > default_at else None)
    return found


def extract(path: str, patch: str | None, *, public: bool) -> list[Fact]:
    facts = compare(
        patch,
        flags,
        path,
        added=FactKind.FLAG_ADDED,
        removed=FactKind.FLAG_REMOVED,
        changed=FactKind.DEFAULT_CHANGED,
        detail=None,
    )
    facts += compare(patch, regex_finder(_ENV), path, added=FactKind.ENV_ADDED, removed=FactKind.ENV_REMOVED)
    if public and not path.endswith("_test.go"):
        facts += compare(patch, _symbols, path, added=FactKind.SYMBOL_ADDED, removed=FactKind.SYMBOL_REMOVED)
        facts += compare(patch, regex_finder(_ROUTE), path, added=FactKind.ROUTE_ADDED, removed=FactKind.ROUTE_REMOVED)
    return facts
