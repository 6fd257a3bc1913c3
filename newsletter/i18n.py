"""The catalogue of user-visible strings, shared by every renderer (Markdown, email, text, web) and by the
heuristic analyzer: one loader, one key space, one singular rule.

Each language has three TOML files under templates/i18n/ (found by newsletter.template_files), read into one
table of dotted keys:
``<language>.toml`` holds the shared strings (``markdown.summary``, ``importance.high``),
``email.<language>.toml`` the email's own under ``email.`` (``email.subject``) and
``web.<language>.toml`` the public web pages' under ``web.`` (``web.archive.feed``).
Values use ``str.format`` placeholders; lists are comma-separated strings (``language.months``).
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from typing import Any

from newsletter import template_files
from newsletter.errors import InputError

LANGUAGES = ("en", "zh-CN")
# The key namespace of each family is also its file name prefix ("" is the shared catalogue, <language>.toml).
FAMILIES = ("", "email.", "web.")


def check_language(language: str) -> str:
    """``language`` itself when supported; an InputError otherwise (for a language a person typed)."""
    if language not in LANGUAGES:
        raise InputError(f"unsupported language {language!r}", hint=f"use one of {', '.join(LANGUAGES)}")
    return language


def language_of(value: str | None) -> str:
    """The supported language closest to ``value`` (zh, zh-Hans, zh_CN → zh-CN); English otherwise.

    Lenient on purpose: for values a browser or a stored record supplies, where a page beats an error."""
    if value and value.replace("_", "-").lower().startswith("zh"):
        return "zh-CN"
    return "en"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


@cache
def strings(language: str) -> dict[str, str]:
    """Every string of ``language`` by dotted key, all families."""
    check_language(language)
    table: dict[str, str] = {}
    for namespace in FAMILIES:
        with template_files.path("i18n", f"{namespace}{language}.toml").open("rb") as fh:
            table.update(_flatten(tomllib.load(fh), namespace))
    return table


def template(language: str, key: str, count: object = None) -> str:
    """The unformatted string of ``key``. A missing key is a programming error, so it raises KeyError.

    With ``count=1`` a ``<key>_one`` variant wins when the catalogue has one (English singulars; Chinese
    has no plural forms, so its catalogue simply has none)."""
    table = strings(language)
    text = table[key]
    if count == 1:
        text = table.get(f"{key}_one", text)
    return text


def t(language: str, key: str, /, **values: object) -> str:
    """One string, formatted (see ``template`` for the singular rule)."""
    text = template(language, key, values.get("count"))
    return text.format(**values) if values else text


def format_date(language: str, day: date) -> str:
    months = t(language, "language.months").split(",")
    return t(language, "language.date_format").format(
        year=day.year, month=day.month, day=day.day, month_name=months[day.month - 1]
    )
