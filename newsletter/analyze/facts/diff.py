"""A unified diff (GitHub's per-file ``patch``) as lines with their sign, and the old and new side of each hunk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@ ?(?P<context>.*)$")


class Line(NamedTuple):
    """A tuple, not a dataclass: a large day's patches are a few hundred thousand lines."""

    sign: str  # "+", "-" or " " ("" for an empty line, which git writes for a blank context line)
    text: str
    context: str  # the hunk header's context (git puts the enclosing def/class there)


@dataclass(frozen=True)
class Hunk:
    context: str
    lines: tuple[Line, ...]

    @property
    def old(self) -> str:
        return "\n".join(line.text for line in self.lines if line.sign in " -")

    @property
    def new(self) -> str:
        return "\n".join(line.text for line in self.lines if line.sign in " +")


def hunks(patch: str | None) -> tuple[Hunk, ...]:
    """The patch's hunks. Every extractor of a file reads the same patch (licence, language, config, tests …):
    it is parsed once while the file's facts are found."""
    return _parse(patch) if patch else ()


@lru_cache(maxsize=16)
def _parse(patch: str) -> tuple[Hunk, ...]:
    found: list[Hunk] = []
    context = ""
    current: list[Line] = []
    append = current.append
    for raw in patch.splitlines():
        first = raw[:1]
        if first == "@" and (header := _HUNK.match(raw)):
            if current:
                found.append(Hunk(context, tuple(current)))
            context, current = header["context"], []
            append = current.append
            continue
        if first == "\\":  # "\ No newline at end of file"
            continue
        if first in "+- ":  # also "": an empty line keeps the sign ""
            append(Line(first, raw[1:], context))
        else:
            append(Line(" ", raw, context))
    if current:
        found.append(Hunk(context, tuple(current)))
    return tuple(found)


def added(patch: str | None) -> list[Line]:
    return [line for hunk in hunks(patch) for line in hunk.lines if line.sign == "+"]


def removed(patch: str | None) -> list[Line]:
    return [line for hunk in hunks(patch) for line in hunk.lines if line.sign == "-"]


def old_side(patch: str | None) -> str:
    return "\n".join(hunk.old for hunk in hunks(patch))


def new_side(patch: str | None) -> str:
    return "\n".join(hunk.new for hunk in hunks(patch))


def changed_text(patch: str | None, sign: str) -> str:
    return "\n".join(line.text for hunk in hunks(patch) for line in hunk.lines if line.sign == sign)
