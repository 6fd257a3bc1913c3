"""YAML/TOML/JSON configuration files: keys added or removed, values changed (old → new)."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import clip, same_value
from newsletter.analyze.facts.diff import hunks
from newsletter.analyze.facts.model import Fact, FactKind

_YAML = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z_][\w.-]*)\s*:(?:\s+(?P<value>[^#]*?))?\s*(?:#.*)?$")
_TOML_TABLE = re.compile(r"^\s*\[\[?(?P<table>[^\]]+)\]\]?\s*$")
_TOML = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.-]*|\"[^\"]+\")\s*=\s*(?P<value>.*?)\s*(?:#.*)?$")
_JSON = re.compile(r"^(?P<indent>\s*)\"(?P<key>[^\"]+)\"\s*:\s*(?P<value>.*?),?\s*$")


def _keys(lines: list[str], suffix: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    table = ""
    for line in lines:
        if not line.strip() or line.lstrip().startswith(("#", "//")):
            continue
        if suffix == ".toml":
            header = _TOML_TABLE.match(line)
            if header:
                table = header["table"].strip() + "."
                continue
            match = _TOML.match(line)
            if match:
                found.setdefault(table + match["key"].strip('"'), clip(match["value"], 60) or None)
            continue
        match = (_JSON if suffix == ".json" else _YAML).match(line)
        if not match:
            continue
        indent = len(match["indent"].expandtabs())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([k for _, k in stack] + [match["key"]])
        value = (match["value"] or "").strip()
        if value in {"", "{", "["}:
            stack.append((indent, match["key"]))
            found.setdefault(key, None)
        else:
            found.setdefault(key, clip(value, 60))
    return found


def extract(path: str, patch: str | None) -> list[Fact]:
    suffix = "." + path.rsplit(".", 1)[-1].lower()
    suffix = ".yaml" if suffix == ".yml" else suffix
    old: dict[str, str | None] = {}
    new: dict[str, str | None] = {}
    for hunk in hunks(patch):
        for key, value in _keys([line.text for line in hunk.lines if line.sign in " -"], suffix).items():
            old.setdefault(key, value)
        for key, value in _keys([line.text for line in hunk.lines if line.sign in " +"], suffix).items():
            new.setdefault(key, value)
    facts = [Fact(kind=FactKind.CONFIG_KEY_ADDED, name=k, path=path, new=v) for k, v in new.items() if k not in old]
    facts += [Fact(kind=FactKind.CONFIG_KEY_REMOVED, name=k, path=path, old=v) for k, v in old.items() if k not in new]
    facts += [
        Fact(kind=FactKind.DEFAULT_CHANGED, name=k, path=path, old=old[k], new=v, detail="config")
        for k, v in new.items()
        if k in old and not same_value(old[k], v)
    ]
    return facts
