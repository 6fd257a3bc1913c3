"""The subject line: "{title} · {date}: {top change}" within what a phone shows, measured in display columns."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import TYPE_CHECKING

from newsletter.render.catalogue import Catalogue

if TYPE_CHECKING:
    from newsletter.render.view import CommitView

# Leading "[area]" tags and a conventional "type(scope)!:" prefix of a commit title.
_TAGS = re.compile(r"^(?:\s*\[[^\]]*\])*\s*(?:[\w/-]+(?:\([^)]*\))?!?:\s*)?")
SUBJECT_MAX = 78  # display columns (a CJK character is two): what a phone shows of a subject line
_TITLE_MIN = 16
# "[CI/NPU] Fix …", "[router][perf] …", "feat(router)!: …", "fix: …" → the scope, if any, and the rest.
_BRACKETS = re.compile(r"^\s*((?:\[[^\]]{1,30}\]\s*)+)")
_CONVENTIONAL = re.compile(r"^\s*[A-Za-z]+(?:\(([^)]{1,30})\))?!?:\s*")


def columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` columns: cut at a word boundary when there is one near, with an ellipsis."""
    if columns(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        used += columns(ch)
        if used > limit - 1:
            break
        out += ch
    space = out.rfind(" ")
    if space >= len(out) // 2:
        out = out[:space]
    return out.rstrip(" ,;:·-—") + "…"


def _scope(title: str) -> str:
    """The area a commit title names: "[CI/NPU]" → "CI/NPU", "feat(router):" → "router"; else ""."""
    brackets = _BRACKETS.match(title)
    if brackets:
        return "/".join(re.findall(r"\[([^\]]+)\]", brackets.group(1))).strip()
    conventional = _CONVENTIONAL.match(title)
    return (conventional.group(1) or "").strip() if conventional else ""


def _top_change(c: CommitView, colon: str) -> str:
    """The top item as the subject names it: its headline (or its title without tags), with its scope."""
    plain = untagged(c.title) or c.title
    change = c.headline or plain
    scope = _scope(c.title)
    return f"{scope}{colon}{change}" if scope and scope.lower() not in change.lower() else change


def subject_line(t: Catalogue, title: str, day: date, top: CommitView | None, *, week: bool = False) -> str:
    """ "{title} · {date}: {top change}" in at most SUBJECT_MAX columns: the short date, then the list title
    cut to about a third of the room when both do not fit (never under _TITLE_MIN columns), then the change
    cut at a word."""
    short = t("subject_date").format(day=day.day, month=t("subject_months").split(",")[day.month - 1])
    if week:  # ``day`` is the week's first
        short = t("subject_week", date=short)
    if top is None:
        return shorten(t("subject_empty", title=title, date=short), SUBJECT_MAX)
    change = _top_change(top, t("colon"))
    frame = columns(t("subject", title="", date=short, top=""))
    room = SUBJECT_MAX - frame
    title_room = max(_TITLE_MIN, room - columns(change), room // 3)
    name = shorten(title, title_room)
    return t("subject", title=name, date=short, top=shorten(change, room - columns(name)))


def untagged(title: str) -> str:
    """``title`` without its leading tags and conventional prefix: "[CI] fix: x" → "x"."""
    return _TAGS.sub("", title).strip()
