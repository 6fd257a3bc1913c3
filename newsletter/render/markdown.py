"""The Issue as Markdown, in the sample report's structure: per repository a commit table, a statistics line,
a table of contents, then the commits grouped high → medium → low with detail shrinking with importance.

Every value printed by the template is Markdown-escaped unless a filter marked it safe, so a commit title
with ``|``, ``<script>`` or ``[x](javascript:…)`` cannot break a table or inject HTML or links.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from urllib.parse import quote

import jinja2
import jinja2.runtime
from markupsafe import Markup

from newsletter import i18n, template_files
from newsletter.issue import Card, Issue, RepoDigest
from newsletter.models import Analysis, Importance, zone
from newsletter.render.links import safe_url

ICONS = {Importance.HIGH: "🔴", Importance.MEDIUM: "🟡", Importance.LOW: "🟢"}
_CODE = re.compile(r"(`[^`\n]+`)")
# Only what can start markup inline: links/images need "[", emphasis "*"/"~" and "_" at a word edge (GFM
# ignores intraword "_", so per_token_quant stays readable), tables "|". HTML is entity-encoded.
_NEEDS = re.compile(r"[\\`*\[\]|~_&<>]")
# In this order: "&" before the entities that contain it, "\\" before the backslashes the others add. No
# replacement holds a character replaced after it, or puts a letter or digit beside an "_".
_REPLACE = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), *((c, "\\" + c) for c in "\\`*[]|~"))
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_TOC_WIDTH = 70
_URL_SAFE = ":/?#=&%@+,;~"
_URL_AS_IS = re.compile(r"[A-Za-z0-9_.\-~:/?#=&%@+,;]*")  # quote's always-safe characters and _URL_SAFE
_SPACES = re.compile(r"\s+")
# Not "\n{3,}": a pattern that opens with a literal is searched for in C, ten times faster on a long issue.
_BLANK_LINES = re.compile("\n\n\n+")


def escape(text: object) -> str:
    """Inline Markdown: backslash-escape punctuation that means something, entity-encode ``& < >``, fold lines.
    Balanced `code spans` are kept (their content is literal in Markdown and reads better)."""
    text = str(text)
    # A printable text without a double space has no whitespace to fold (the common case, without a regex).
    if not text.isprintable() or "  " in text:
        text = _SPACES.sub(" ", text)
    if "`" not in text:
        return _plain(text)
    out = []
    for part in _CODE.split(text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)
        else:
            out.append(_plain(part))
    return "".join(out)


def _plain(text: str) -> str:
    """Text outside code spans, escaped. Half the strings of an issue need nothing (one scan finds out); the
    rest take a few ``str.replace`` calls, which cost far less than a regex substitution per character."""
    if not _NEEDS.search(text):
        return text
    for char, replacement in _REPLACE:
        if char in text:
            text = text.replace(char, replacement)
    return _underscores(text) if "_" in text else text


def _underscores(text: str) -> str:
    """``_`` escaped unless it joins two letters or digits (GFM ignores intraword ``_``)."""
    pieces = text.split("_")
    out = [pieces[0]]
    for before, after in itertools.pairwise(pieces):
        joins = before and after and before[-1] in _WORD and after[0] in _WORD
        out.append("_" if joins else "\\_")
        out.append(after)
    return "".join(out)


def cell(text: object) -> Markup:
    """A table cell: like ``escape``, and a ``|`` inside a code span is escaped too (GFM splits cells first)."""
    escaped = escape(text)
    if "`" not in escaped:  # no code span (most cells: names and titles)
        return Markup(escaped)
    return Markup("".join(p.replace("|", "\\|") if p.startswith("`") else p for p in _CODE.split(escaped)))


def url(value: object) -> Markup:
    """A link destination: the same http(s) rule as the email's links (``links.safe_url``), percent-encoded so
    it cannot close the link."""
    checked = safe_url(str(value or ""))
    if checked is None:
        return Markup("#")
    if _URL_AS_IS.fullmatch(checked):  # what quote() would leave as it is (most links), found without it
        return Markup(checked)
    return Markup(quote(checked, safe=_URL_SAFE))


def truncate(text: object, width: int = _TOC_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _finalize(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Markup | int | float):
        return value
    return escape(value)


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")


def _insight_rows(analysis: Analysis) -> list[tuple[str, str]]:
    insights = analysis.insights  # its fields in order, as model_dump gives them (without a dump per commit)
    return [(name, text) for name in type(insights).model_fields if (text := getattr(insights, name))]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@cache
def _env() -> jinja2.Environment:
    env = template_files.environment(
        "markdown",
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # `trusted` is for macro output only: macros return plain strings when autoescape is off.
    env.filters.update(trusted=Markup, cell=cell, url=url, truncate_title=truncate, local=_local, slug=_slug)
    env.filters["tr"] = _tr
    return env


@jinja2.pass_context
def _tr(context: jinja2.runtime.Context, key: str, **values: object) -> Markup:
    """``'key' | tr(**values)``, the same as ``tr('key', **values)``: a filter is called directly, a function
    through Context.call, which costs more than the string (and there are a few per commit)."""
    tr: Callable[..., Markup] = context["tr"]
    return tr(key, **values)


def web_base(issue: Issue) -> str:
    """The GitHub web host the issue's commits live on (people's logins link there)."""
    for repo in issue.repos:
        for item in repo.commits:
            url = item.commit.url
            if "/commit/" in url:
                return url.split("/commit/", 1)[0].rsplit("/", 2)[0]
    return "https://github.com"


def render_markdown(issue: Issue) -> str:
    """The whole issue as one Markdown document in the issue's language."""
    language = issue.language

    said: dict[object, Markup] = {}
    cards: dict[tuple[int, Importance], list[Card]] = {}

    def tr(key: str, **values: object) -> Markup:
        """A catalogue string (trusted) with its values escaped. Most are labels said once per commit, so each
        is formatted once per render (a value's type is in the key: Markup("a*b") == "a*b", escaped apart)."""
        memo = (key, *((k, type(v), v) for k, v in values.items())) if values else key
        text = said.get(memo)
        if text is None:
            template = i18n.template(language, key, values.get("count"))
            text = said[memo] = Markup(template.format(**{k: _finalize(v) for k, v in values.items()}))
        return text

    def cards_of(repo: RepoDigest, level: Importance) -> list[Card]:
        """``repo.cards(level)``, worked out once per render (the table of contents and the body both list
        them)."""
        key = (id(repo), level)
        if key not in cards:
            cards[key] = repo.cards(level)
        return cards[key]

    text = (
        _env()
        .get_template("issue.md.j2")
        .render(
            issue=issue,
            tr=tr,
            cards=cards_of,
            icons=ICONS,
            levels=list(Importance),
            date=i18n.format_date(language, issue.date),
            week_start=i18n.format_date(language, issue.week.start) if issue.week else "",
            day_date=lambda day: i18n.format_date(language, day),
            colon=Markup(i18n.t(language, "markdown.colon")),
            insight_rows=_insight_rows,
            web=web_base(issue),
        )
    )
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
