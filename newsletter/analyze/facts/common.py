"""Shared helpers of the per-language extractors: compare what a finder sees on the old and the new side."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from newsletter.analyze.facts.diff import hunks
from newsletter.analyze.facts.model import Fact, FactKind

# name → value (a default, a version, a kind); None when there is none.
Finder = Callable[[str], dict[str, str | None]]


def sides(patch: str | None) -> tuple[str, str]:
    """The old and the new text of every hunk (context lines on both sides)."""
    found = hunks(patch)
    return "\n".join(h.old for h in found), "\n".join(h.new for h in found)


def compare(
    patch: str | None,
    finder: Finder,
    path: str,
    *,
    added: FactKind,
    removed: FactKind,
    changed: FactKind | None = None,
    detail: str | None = None,
) -> list[Fact]:
    """Names the finder sees only on the new side are added, only on the old side removed; names on both
    sides whose value differs are ``changed`` (old → new)."""
    old_text, new_text = sides(patch)
    old, new = finder(old_text), finder(new_text)
    facts = [Fact(kind=added, name=name, path=path, new=new[name], detail=detail) for name in new if name not in old]
    facts += [Fact(kind=removed, name=name, path=path, old=old[name], detail=detail) for name in old if name not in new]
    if changed is not None:
        facts += [
            Fact(kind=changed, name=name, path=path, old=old[name], new=new[name], detail=detail)
            for name in new
            if name in old and not same_value(old[name], new[name])
        ]
    return facts


def calls(text: str, opener: re.Pattern[str]) -> Iterator[tuple[re.Match[str], str]]:
    """Each match of ``opener`` (ending at an opening parenthesis) with its argument text up to the matching
    closing parenthesis; a call cut off by the end of the hunk yields what there is."""
    for match in opener.finditer(text):
        depth, i = 1, match.end()
        quote: str | None = None
        while i < len(text) and depth:
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = None
            elif ch in "\"'`":
                quote = ch
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            i += 1
        yield match, text[match.end() : i - 1 if not depth else i]


def split_args(args: str) -> list[str]:
    """Top-level comma-separated arguments."""
    parts: list[str] = []
    depth, quote, start = 0, None, 0
    for i, ch in enumerate(args):
        if quote:
            if ch == quote and args[i - 1] != "\\":
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    tail = args[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def regex_finder(*patterns: re.Pattern[str], value_group: str | None = None) -> Finder:
    """A finder from regexes whose group ``name`` is the name (and ``value_group`` the value)."""

    def find(text: str) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for pattern in patterns:
            for match in pattern.finditer(text):
                value = match.groupdict().get(value_group) if value_group else None
                found.setdefault(match["name"], value.strip() if value else None)
        return found

    return find


def value(text: str | None) -> str | None:
    """A default as written, or None when the line does not hold all of it (``= (`` continues below)."""
    if text is None:
        return None
    text = text.strip().rstrip(",")
    if not text or text.count("(") != text.count(")") or text.count("[") != text.count("]") or text.endswith("{"):
        return None
    return clip(text, 60)


_FIELD_DEFAULT = re.compile(r"^(?:\w+\.)?Field\((?:default=)?(?P<value>[^,()]+)")


def same_value(old: str | None, new: str | None) -> bool:
    """Equal up to formatting: whitespace, quote style, and ``Field(default=x, …)`` around ``x``."""
    if old is None or new is None:
        return True

    def norm(text: str) -> str:
        text = re.sub(r"\s+", "", text).replace("'", '"')
        field = _FIELD_DEFAULT.match(text)
        return field["value"] if field else text

    return norm(old) == norm(new)


def clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
