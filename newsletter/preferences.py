"""A reader's own choices for one list: lowest importance, areas of the code, language and cadence.

Values come from people (the CLI, a CSV file, the preferences page), so each is checked here once, against
the list it is for, and refused with one line that says what is allowed. What a reader leaves unset follows
the list file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from newsletter.errors import InputError
from newsletter.models import Cadence, Importance, MailingList, ReaderPreferences
from newsletter.store.base import PreferenceStore

MAX_AREAS = 20
_MAX_AREA = 200
_SPLIT = re.compile(r"[,;\s]+")
_BAD = re.compile(r"[\x00-\x1f\x7f\\*?\[\]]")


def parse_importance(text: str) -> Importance:
    try:
        return Importance(text.strip().lower())
    except ValueError:
        raise InputError(
            f"unknown importance {text!r}", hint=f"use one of {', '.join(i.value for i in Importance)}"
        ) from None


def parse_cadence(text: str) -> Cadence:
    try:
        return Cadence(text.strip().lower())
    except ValueError:
        raise InputError(
            f"unknown cadence {text!r}", hint=f"use one of {', '.join(c.value for c in Cadence)}"
        ) from None


def parse_areas(text: str | Iterable[str]) -> tuple[str, ...]:
    """Path prefixes, from ``"a/, b/"`` or a list; sorted and without duplicates, so that two readers who
    chose the same areas in another order share one segment."""
    parts = _SPLIT.split(text) if isinstance(text, str) else [p for item in text for p in _SPLIT.split(item)]
    areas: set[str] = set()
    for raw in parts:
        area = raw.strip()
        while area.startswith(("./", "/")):
            area = area[1:] if area.startswith("/") else area[2:]
        if not area:
            continue
        if len(area) > _MAX_AREA or _BAD.search(area) or ".." in area.split("/"):
            raise InputError(
                f"invalid area {raw.strip()!r}", hint="an area is a path in the repository, e.g. python/sglang/srt/"
            )
        areas.add(area)
    if len(areas) > MAX_AREAS:
        raise InputError(f"{len(areas)} areas: at most {MAX_AREAS}")
    return tuple(sorted(areas))


def parse_language(text: str, mailing_list: MailingList) -> str:
    offered = mailing_list.offered_languages
    for language in offered:
        if text.strip().lower() == language.lower():
            return language
    raise InputError(f"list {mailing_list.id!r} is not sent in {text!r}", hint=f"it offers {', '.join(offered)}")


def choose(
    mailing_list: MailingList,
    current: ReaderPreferences | None = None,
    *,
    min_importance: str | None = None,
    areas: str | Iterable[str] | None = None,
    language: str | None = None,
    cadence: str | None = None,
) -> ReaderPreferences:
    """``current`` with the given choices applied, each checked against the list (None: unchanged). An
    empty string resets that choice to the list's default ("all areas" for areas)."""
    prefs = current or ReaderPreferences()
    changes: dict[str, object] = {}
    if min_importance is not None:
        changes["min_importance"] = parse_importance(min_importance) if min_importance.strip() else None
    if areas is not None:
        changes["areas"] = parse_areas(areas)
    if language is not None:
        changes["language"] = parse_language(language, mailing_list) if language.strip() else None
    if cadence is not None:
        changes["cadence"] = parse_cadence(cadence) if cadence.strip() else None
    return prefs.model_copy(update=changes)


def describe(prefs: ReaderPreferences) -> str:
    """One line for the consent log and the CLI: only what differs from the list's defaults."""
    parts = []
    if prefs.min_importance is not None:
        parts.append(f"min_importance={prefs.min_importance.value}")
    if prefs.areas:
        parts.append(f"areas={','.join(prefs.areas)}")
    if prefs.language is not None:
        parts.append(f"language={prefs.language}")
    if prefs.cadence is not None:
        parts.append(f"cadence={prefs.cadence.value}")
    return " ".join(parts) or "list defaults"


def touches(path: str, areas: Iterable[str]) -> bool:
    """True when ``path`` is one of ``areas`` or lies under one of them."""
    for area in areas:
        folder = area.rstrip("/")
        if path == folder or path.startswith(folder + "/"):
            return True
    return False


def update(
    store: PreferenceStore,
    mailing_list: MailingList,
    email: str,
    *,
    source: str,
    min_importance: str | None = None,
    areas: str | Iterable[str] | None = None,
    language: str | None = None,
    cadence: str | None = None,
) -> ReaderPreferences:
    """Apply a member's choices (checked against the list) and log them; they hold from the next issue."""
    current = store.preferences(email, mailing_list.id)
    chosen = choose(
        mailing_list, current, min_importance=min_importance, areas=areas, language=language, cadence=cadence
    )
    if not store.set_preferences(email, mailing_list.id, chosen, source=source):
        raise InputError(f"{email} is not on the list {mailing_list.id!r}", hint="add them first")
    return chosen
