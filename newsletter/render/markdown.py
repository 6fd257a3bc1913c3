"""The Issue as Markdown, in the sample report's structure: per repository a commit table, a statistics line,
a table of contents, then the commits grouped high → medium → low with detail shrinking with importance.

Every value printed by the template is Markdown-escaped unless a filter marked it safe, so a commit title
with ``|``, ``<script>`` or ``[x](javascript:…)`` cannot break a table or inject HTML or links.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from newsletter import i18n, template_files
from newsletter.issue import Issue
from newsletter.models import Analysis, Importance, zone
from newsletter.render.view import safe_url

ICONS = {Importance.HIGH: "🔴", Importance.MEDIUM: "🟡", Importance.LOW: "🟢"}
_CODE = re.compile(r"(`[^`\n]+`)")
# Only what can start markup inline: links/images need "[", emphasis "*"/"~" and "_" at a word edge (GFM
# ignores intraword "_", so per_token_quant stays readable), tables "|". HTML is entity-encoded.
_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_TOC_WIDTH = 70
_SPACES = re.compile(r"\s+")


def escape(text: object) -> str:
    """Inline Markdown: backslash-escape punctuation that means something, entity-encode ``& < >``, fold lines.
    Balanced `code spans` are kept (their content is literal in Markdown and reads better)."""
    text = str(text)
    # A printable text without a double space has no whitespace to fold (the common case, without a regex).
    if not text.isprintable() or "  " in text:
        text = _SPACES.sub(" ", text)
    out = []
    for part in _CODE.split(text) if "`" in text else (text,):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part)
        else:
            part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            out.append(_SPECIAL.sub(_backslashed, part))
    return "".join(out)


def _backslashed(match: re.Match[str]) -> str:
    return "\\" + match.group(1)


def cell(text: object) -> Markup:
    """A table cell: like ``escape``, and a ``|`` inside a code span is escaped too (GFM splits cells first)."""
    return Markup("".join(p.replace("|", "\\|") if p.startswith("`") else p for p in _CODE.split(escape(text))))


def url(value: object) -> Markup:
    """A link destination: the same http(s) rule as the email's links (``view.safe_url``), percent-encoded so
    it cannot close the link."""
    checked = safe_url(str(value or ""))
    if checked is None:
        return Markup("#")
    return Markup(quote(checked, safe=":/?#=&%@+,;~"))


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
    return [(name, text) for name, text in analysis.insights.model_dump().items() if text]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=template_files.loader("markdown"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # `trusted` is for macro output only: macros return plain strings when autoescape is off.
    env.filters.update(trusted=Markup, cell=cell, url=url, truncate_title=truncate, local=_local, slug=_slug)
    return env


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

    def tr(key: str, **values: object) -> Markup:
        """A catalogue string (trusted) with its values escaped."""
        text = i18n.template(language, key, values.get("count"))
        return Markup(text.format(**{k: _finalize(v) for k, v in values.items()}))

    text = (
        _env()
        .get_template("issue.md.j2")
        .render(
            issue=issue,
            tr=tr,
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
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
