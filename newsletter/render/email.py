"""The email: Jinja2 → MJML → HTML (mjml-python), minified and kept under a size budget; plus its twins.

Gmail clips a message whose HTML passes about 102 KB and hides the rest, the unsubscribe footer with it.
So after each render the HTML is measured, and while it is over budget detail is shed in a fixed order
(low lines → medium cards → high insights → high risks/recommendations → high cards → commit titles →
commit rows).
The footer is never shed, and every commit keeps its SHA link in the commit table unless the last step has
to cut rows, which the email then says in words with a link to the full issue on the web.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup, escape
from mjml import mjml2html

from newsletter import template_files
from newsletter.models import Issue, RenderedIssue
from newsletter.render.markdown import render_markdown
from newsletter.render.text import render_text
from newsletter.render.view import IssueView, build_view

DEFAULT_BUDGET = 100_000


@dataclass(frozen=True)
class Detail:
    """What the size budget still allows; each shedding step turns one thing off."""

    low_lines: bool = True
    medium_cards: bool = True
    insights: bool = True
    high_extras: bool = True
    high_cards: bool = True
    table_titles: bool = True
    table_limit: int | None = None


# (name reported in RenderedIssue.shed, the change it makes), in the order they are applied.
_STEPS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("low-lines", {"low_lines": False}),
    ("medium-cards", {"medium_cards": False}),
    ("high-insights", {"insights": False}),
    ("high-risks-recommendations", {"high_extras": False}),
    ("high-cards", {"high_cards": False}),
    ("commit-titles", {"table_titles": False}),
)

_CODE = re.compile(r"`([^`\n]{1,200})`")


def _code(text: str) -> Markup:
    """Escape, then show `backticked` spans as code: safe because the escaped text holds no markup."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


@cache
def _template() -> Template:
    # Built on first use, not at import: a deployment's templates folder is checked when a command runs.
    env = Environment(
        loader=template_files.loader("email"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code"] = _code
    env.filters["num"] = "{:,}".format
    return env.get_template("issue.mjml.j2")


# Runs of whitespace other than a lone space (never \s, which would also eat no-break and ideographic spaces).
_WS = re.compile(r"[\t\r\n\f][ \t\r\n\f]*| [ \t\r\n\f]+")
# Whitespace next to block-level or table tags, and around comments, never shows in a browser.
_BLOCK = r"(?:html|head|body|title|meta|link|style|table|tbody|thead|tr|td|th|div|p|ul|ol|li|h[1-6]|br|center)"
_WS_BEFORE_BLOCK = re.compile(rf" (?=<(?:/?{_BLOCK}\b|!--|!\[))")
_WS_AFTER_BLOCK = re.compile(rf"(<(?:/?{_BLOCK})\b[^<>]*>|-->) ")


def minify(html: str) -> str:
    """Safe whitespace collapse: runs become one space, and spaces beside block tags go.

    mjml-python has no minifier of its own; this keeps every space that could separate inline words.
    """
    html = _WS.sub(" ", html)
    html = _WS_BEFORE_BLOCK.sub("", html)
    return _WS_AFTER_BLOCK.sub(r"\1", html).strip()


def compile_html(view: IssueView, t: object, detail: Detail) -> str:
    mjml = _template().render(v=view, t=t, d=detail)
    return minify(mjml2html(mjml, disable_comments=True, fonts={}))


def _size(html: str) -> int:
    return len(html.encode("utf-8"))


def _fit(view: IssueView, t: object, budget: int) -> tuple[str, list[str]]:
    detail = Detail()
    html = compile_html(view, t, detail)
    shed: list[str] = []
    for name, change in _STEPS:
        if _size(html) <= budget:
            return html, shed
        detail = replace(detail, **change)
        html = compile_html(view, t, detail)
        shed.append(name)
    if _size(html) <= budget:
        return html, shed
    # Last resort: fewer rows in the commit tables (said in words, with the web link): the most that fit.
    low, high = 1, max((len(r.commits) for r in view.repos), default=0) - 1
    best: str | None = None
    while low <= high:
        rows = (low + high) // 2
        candidate = compile_html(view, t, replace(detail, table_limit=rows))
        if _size(candidate) <= budget:
            best, low = candidate, rows + 1
        else:
            high = rows - 1
    if best is None:  # not even one row a repository fits: keep them all and say the budget was missed
        return html, [*shed, "over-budget"]
    return best, [*shed, f"commit-rows:{high}"]


def render_issue(issue: Issue, *, budget_bytes: int = DEFAULT_BUDGET) -> RenderedIssue:
    """One render of ``issue``: the HTML (with per-recipient placeholders), text and Markdown parts."""
    view, t = build_view(issue)
    html, shed = _fit(view, t, budget_bytes)
    return RenderedIssue(
        subject=view.subject,
        preheader=view.preheader,
        html=html,
        text=render_text(view, t),
        markdown=render_markdown(issue),
        html_bytes=_size(html),
        shed=shed,
    )
