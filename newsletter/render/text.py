"""The plain-text part: the same items as the HTML part, in the same order and with the same shedding (the
budget's plan), wrapped at 76 columns, links listed at the end as numbered references. Two parts that say
different things read as spam (SpamAssassin's MPART_ALT_DIFF) and confuse a reader who switches views.

Width is counted in display columns, so Chinese text (two columns a character, no spaces) wraps too.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from jinja2 import StrictUndefined, Template

from newsletter import template_files
from newsletter.render.budget import Plan
from newsletter.render.catalogue import Catalogue
from newsletter.render.view import IssueView

WIDTH = 76


@cache
def _template() -> Template:
    # Built on first use, not at import: a deployment's templates folder is checked when a command runs.
    env = template_files.environment(
        "text",
        autoescape=False,  # plain text: nothing is interpreted, so nothing needs escaping
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = "{:,}".format
    return env.get_template("issue.txt.j2")


# Punctuation the templates use that is wider than ASCII yet one column (East Asian Width "A"): a text of
# only these and code points below U+1100 (where the first wide character is) takes the fast path.
_ONE_COLUMN = str.maketrans(dict.fromkeys("·—–−…‘’“”•●", " "))


def _narrow(text: str) -> bool:
    return text.isascii() or max(text.translate(_ONE_COLUMN), default=" ") < "\u1100"


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


def _wrap_ascii(text: str, indent: str, lead: str, width: int) -> str:
    """The common case, one column a character (see ``_narrow``): each line is the longest run of whole words
    that fits, found with ``str.rfind`` (a word longer than a line gets a line of its own)."""
    lines: list[str] = []
    prefix, at, end = lead, 0, len(text)
    while end - at > width - len(prefix):
        cut = text.rfind(" ", at, at + width - len(prefix) + 1)
        if cut < 0:
            cut = text.find(" ", at)
            if cut < 0:
                break
        lines.append((prefix + text[at:cut]).rstrip())
        prefix, at = indent, cut + 1
    lines.append((prefix + text[at:]).rstrip())
    return "\n".join(lines)


def wrap(text: str, indent: str = "", first: str | None = None, width: int = WIDTH) -> str:
    """``text`` on lines of at most ``width`` columns; ``first`` prefixes line one (default ``indent``)."""
    lead = indent if first is None else first
    if _narrow(text + lead + indent):
        return _wrap_ascii(" ".join(text.split()), indent, lead, width)
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
        self.marks: dict[str, str] = {}  # in first-use order

    def __call__(self, url: str | None) -> str:
        if not url:
            return ""
        mark = self.marks.get(url)
        if mark is None:
            mark = self.marks[url] = f"[{len(self.marks) + 1}]"
        return mark


def render_text(view: IssueView, t: Catalogue, plan: Plan) -> str:
    """The text part of the email whose items and shedding ``plan`` chose."""
    refs = _References()
    by_key = {c.anchor: c for r in view.repos for group in r.groups.values() for c in group}
    body = _template().render(v=view, t=t, plan=plan, items=by_key, ref=refs, wrap=wrap, width=WIDTH)
    links = "\n".join(f"{mark} {url}" for url, mark in refs.marks.items())
    return f"{body.rstrip()}\n\n{t('text_links')}\n{links}\n" if links else body.rstrip() + "\n"
