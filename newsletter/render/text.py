"""The plain-text twin: the same issue wrapped at 76 columns, links listed at the end as numbered references.

Width is counted in display columns, so Chinese text (two columns a character, no spaces) wraps too.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from jinja2 import Environment, StrictUndefined, Template

from newsletter import template_files
from newsletter.render.view import Catalogue, IssueView

WIDTH = 76


@cache
def _template() -> Template:
    # Built on first use, not at import: a deployment's templates folder is checked when a command runs.
    env = Environment(
        loader=template_files.loader("text"),
        autoescape=False,  # plain text: nothing is interpreted, so nothing needs escaping
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("issue.txt.j2")


def _columns(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def _tokens(text: str) -> list[str]:
    """Words with their trailing space; every wide character is a token of its own (breakable anywhere)."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch == " ":
            out.append(word + " ")
            word = ""
        elif _columns(ch) == 2:
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    return out


def wrap(text: str, indent: str = "", first: str | None = None, width: int = WIDTH) -> str:
    """``text`` on lines of at most ``width`` columns; ``first`` prefixes line one (default ``indent``)."""
    lead = indent if first is None else first
    lines: list[str] = []
    line, used = lead, sum(map(_columns, lead))
    fresh = True
    for token in _tokens(" ".join(text.split())):
        cols = sum(map(_columns, token.rstrip(" ")))
        if not fresh and used + cols > width:
            lines.append(line.rstrip())
            line, used, fresh = indent, sum(map(_columns, indent)), True
            token = token.lstrip(" ")
        line += token
        used += sum(map(_columns, token))
        fresh = False
    lines.append(line.rstrip())
    return "\n".join(lines)


class _References:
    """``ref(url)`` → ``[n]``, each URL numbered once, listed at the end."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str | None) -> str:
        if not url:
            return ""
        if url not in self.urls:
            self.urls.append(url)
        return f"[{self.urls.index(url) + 1}]"


def render_text(view: IssueView, t: Catalogue) -> str:
    refs = _References()
    body = _template().render(v=view, t=t, ref=refs, wrap=wrap, width=WIDTH)
    links = "\n".join(f"[{n}] {url}" for n, url in enumerate(refs.urls, 1))
    return f"{body.rstrip()}\n\n{t('text_links')}\n{links}\n" if links else body.rstrip() + "\n"
