"""Python: public functions, classes and methods; argparse/click/typer flags and their defaults; environment
variables; config-class fields and their defaults; HTTP routes (FastAPI, Flask)."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import calls, clip, compare, regex_finder, same_value, split_args, value
from newsletter.analyze.facts.diff import hunks
from newsletter.analyze.facts.model import Fact, FactKind

_SYMBOL = re.compile(r"^(?P<indent> {4})?(?:async\s+)?(?P<kind>def|class)\s+(?P<name>[A-Za-z]\w*)")
# The lookahead on the alternatives' first letters lets the scan skip most positions at once (4x faster).
_FLAG_CALL = re.compile(r"(?=[actO.])(?:\badd_argument|\bclick\.option|\btyper\.Option|\bOption|\.option)\s*\(")
_LONG_FLAG = re.compile(r"""^[rbuf]?["'](?P<flag>--[A-Za-z0-9][\w-]*)["']$""")
_KEYWORD = re.compile(r"^(?P<key>\w+)\s*=\s*(?P<value>.+)$", re.S)
_ENV = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|environ\.get|os\.environ\.setdefault|getenv)\(\s*[rf]?["'](?P<name>[A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ\[\s*["'](?P<name2>[A-Z][A-Z0-9_]+)["']\s*\]"""
)
_ROUTE = re.compile(
    r"""^\s*@\w+(?:\.\w+)*\.(?P<verb>get|post|put|delete|patch|route|api_route|websocket)\(\s*[rf]?["'](?P<name>/[^"']*)["']""",
    re.M,
)
_FIELD = re.compile(r"^ {4}(?P<name>[a-z]\w*)\s*:\s*[^=\n]+?=\s*(?P<value>.+?)\s*(?:#.*)?$")
_CONFIG_PATH = re.compile(r"(config|settings|options|args|arguments|params)", re.I)


def _side(patch: str | None, sign: str) -> list[str]:
    """The lines of one side, each hunk preceded by its enclosing class (git puts it in the hunk header)."""
    lines: list[str] = []
    for hunk in hunks(patch):
        if hunk.context.startswith("class "):
            lines.append(hunk.context)
        else:
            lines.append("")  # a new hunk leaves the previous one's class
        lines += [line.text for line in hunk.lines if line.sign in (" ", sign)]
    return lines


def _symbols(lines: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    klass: str | None = None
    for line in lines:
        if line and not line[0].isspace() and not line.startswith(("@", "#", ")")):
            klass = None
        match = _SYMBOL.match(line)
        if not match:
            continue
        name = match["name"]
        if not match["indent"]:
            if match["kind"] == "class":
                klass = name
            if not name.startswith("_"):
                found[name] = "class" if match["kind"] == "class" else "function"
        elif klass and not klass.startswith("_") and match["kind"] == "def" and not name.startswith("_"):
            found[f"{klass}.{name}"] = "method"
    return found


def _fields(lines: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    klass: str | None = None
    for line in lines:
        if line.startswith("class "):
            klass = line.split()[1].split("(")[0].split(":")[0]
            continue
        if line and not line[0].isspace():
            klass = None
        match = _FIELD.match(line)
        if klass and match and not klass.startswith("_"):
            found[f"{klass}.{match['name']}"] = value(match["value"])
    return found


def flags(text: str) -> dict[str, str | None]:
    """``--flag`` → its default (``None`` when it has none) for every flag definition in ``text``."""
    found: dict[str, str | None] = {}
    for _, args in calls(text, _FLAG_CALL):
        parts = split_args(args)
        names = [m["flag"] for part in parts if (m := _LONG_FLAG.match(part))]
        if not names:
            continue
        default = None
        for part in parts:
            keyword = _KEYWORD.match(part)
            if keyword and keyword["key"] == "default":
                default = value(keyword["value"])
        found.setdefault(names[0], default)
    return found


def choices(text: str, flag: str) -> str | None:
    for _, args in calls(text, _FLAG_CALL):
        parts = split_args(args)
        if any((m := _LONG_FLAG.match(part)) and m["flag"] == flag for part in parts):
            for part in parts:
                keyword = _KEYWORD.match(part)
                if keyword and keyword["key"] == "choices":
                    return clip(keyword["value"], 100)
    return None


def _env(text: str) -> dict[str, str | None]:
    return {match["name"] or match["name2"]: None for match in _ENV.finditer(text)}


def extract(path: str, patch: str | None, *, public: bool) -> list[Fact]:
    """Facts of one Python file. ``public``: the file is shipped code (not a test, example or doc), so its
    functions and classes are public surface."""
    old_lines, new_lines = _side(patch, "-"), _side(patch, "+")
    old_text, new_text = "\n".join(old_lines), "\n".join(new_lines)
    facts: list[Fact] = []
    old_flags, new_flags = flags(old_text), flags(new_text)
    for name in sorted(new_flags.keys() - old_flags.keys()):
        facts.append(
            Fact(
                kind=FactKind.FLAG_ADDED,
                name=name,
                path=path,
                new=new_flags[name],
                detail=(f"choices: {c}" if (c := choices(new_text, name)) else None),
            )
        )
    for name in sorted(old_flags.keys() - new_flags.keys()):
        facts.append(Fact(kind=FactKind.FLAG_REMOVED, name=name, path=path, old=old_flags[name]))
    for name in sorted(new_flags.keys() & old_flags.keys()):
        if not same_value(old_flags[name], new_flags[name]):
            facts.append(
                Fact(
                    kind=FactKind.DEFAULT_CHANGED,
                    name=name,
                    path=path,
                    old=old_flags[name],
                    new=new_flags[name],
                    detail="flag",
                )
            )
    facts += compare(patch, _env, path, added=FactKind.ENV_ADDED, removed=FactKind.ENV_REMOVED)
    if not public:
        return facts
    old_symbols, new_symbols = _symbols(old_lines), _symbols(new_lines)
    facts += [
        Fact(kind=FactKind.SYMBOL_ADDED, name=n, path=path, detail=k)
        for n, k in new_symbols.items()
        if n not in old_symbols
    ]
    facts += [
        Fact(kind=FactKind.SYMBOL_REMOVED, name=n, path=path, detail=k)
        for n, k in old_symbols.items()
        if n not in new_symbols
    ]
    facts += compare(patch, regex_finder(_ROUTE), path, added=FactKind.ROUTE_ADDED, removed=FactKind.ROUTE_REMOVED)
    if _CONFIG_PATH.search(path):
        old_fields, new_fields = _fields(old_lines), _fields(new_lines)
        for name, new_value in new_fields.items():
            if name not in old_fields:
                facts.append(Fact(kind=FactKind.CONFIG_KEY_ADDED, name=name, path=path, new=new_value, detail="field"))
            elif not same_value(old_fields[name], new_value):
                facts.append(
                    Fact(
                        kind=FactKind.DEFAULT_CHANGED,
                        name=name,
                        path=path,
                        old=old_fields[name],
                        new=new_value,
                        detail="field",
                    )
                )
        facts += [
            Fact(kind=FactKind.CONFIG_KEY_REMOVED, name=n, path=path, old=v, detail="field")
            for n, v in old_fields.items()
            if n not in new_fields
        ]
    return facts


def tests_added(path: str, patch: str | None) -> list[str]:
    """Names of test functions the patch adds."""
    old_text, new_text = "\n".join(_side(patch, "-")), "\n".join(_side(patch, "+"))
    pattern = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)", re.M)
    return sorted(set(pattern.findall(new_text)) - set(pattern.findall(old_text)))
