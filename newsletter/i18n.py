"""The catalogue of user-visible strings, one TOML file per language under templates/i18n/, shared by every
renderer (Markdown, email, text, web) and by the heuristic analyzer.

Keys are dotted (``markdown.summary``); values use ``str.format`` placeholders.
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from pathlib import Path

from newsletter.errors import InputError

CATALOGUE = Path(__file__).parent / "templates" / "i18n"
LANGUAGES = ("en", "zh-CN")


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InputError(f"unsupported language {language!r}", hint=f"use one of {', '.join(LANGUAGES)}")
    return language


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


@cache
def strings(language: str) -> dict[str, str]:
    """Every string of ``language`` by dotted key."""
    check_language(language)
    with (CATALOGUE / f"{language}.toml").open("rb") as fh:
        return _flatten(tomllib.load(fh))


def t(language: str, key: str, /, **values: object) -> str:
    """One string, formatted. A missing key is a programming error, so it raises KeyError."""
    text = strings(language)[key]
    return text.format(**values) if values else text


def format_date(language: str, day: date) -> str:
    months = t(language, "language.months").split(",")
    return t(language, "language.date_format").format(
        year=day.year, month=day.month, day=day.day, month_name=months[day.month - 1]
    )
