"""One Jinja environment for every public web page, and the web string catalogue in each language.

Autoescaping is always on: every value a page shows may come from a person (a name, an address) or from
GitHub (a commit title), and none of it is ever trusted as markup.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
LANGUAGES = ("en", "zh-CN")


def language_of(value: str | None) -> str:
    """The supported language closest to ``value`` (zh, zh-Hans, zh_CN → zh-CN); English otherwise."""
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
    """Every web string of ``language`` as ``{"section.key": text}``."""
    path = _TEMPLATES / "i18n" / f"web.{language_of(language)}.toml"
    with path.open("rb") as handle:
        return _flatten(tomllib.load(handle))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES / "web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render(template: str, language: str, **context: Any) -> str:
    """Render ``templates/web/<template>`` with ``t(key, **values)`` bound to ``language``."""
    lang = language_of(language)
    catalogue = strings(lang)

    def t(key: str, **values: Any) -> str:
        return catalogue[key].format(**values) if values else catalogue[key]

    return environment().get_template(template).render(lang=lang, t=t, **context)
