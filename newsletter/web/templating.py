"""One Jinja environment for every public web page, with the web strings (``web.`` in newsletter.i18n).

Autoescaping is always on: every value a page shows may come from a person (a name, an address) or from
GitHub (a commit title), and none of it is ever trusted as markup.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from newsletter import i18n, template_files


def t(language: str, key: str, **values: Any) -> str:
    """The web string ``key`` (``archive.feed``) in the supported language closest to ``language``."""
    return i18n.t(i18n.language_of(language), f"web.{key}", **values)


@cache
def environment() -> jinja2.Environment:
    env = template_files.environment(
        "web",
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render(template: str, language: str, **context: Any) -> str:
    """Render ``templates/web/<template>`` with ``t(key, **values)`` bound to ``language``."""
    lang = i18n.language_of(language)

    def bound(key: str, **values: Any) -> str:
        return t(lang, key, **values)

    return environment().get_template(template).render(lang=lang, t=bound, **context)
