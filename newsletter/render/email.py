"""The email and its web version: Jinja2 → MJML → HTML (mjml-python), light styles inlined (css-inline).

MJML compiles the frame (header, glance, section headings, footer) once per render; each item (a card or
one line, see templates/email/_items.html.j2) and each commit table is a fragment rendered, inlined and
measured once, then spliced into the frame. So the size budget (render.budget) chooses from known sizes, and
filling the frame with the chosen plan (and the sentences that say what it left out) is the confirming pass,
measured as sent. The web version is the same frame with every item whole and never shed; the email links to
its anchors for whatever it leaves out.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import css_inline
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape
from mjml import mjml2html

from newsletter import template_files
from newsletter.issue import Issue
from newsletter.models import RenderedIssue
from newsletter.render import budget
from newsletter.render.budget import DEFAULT_BUDGET, Plan
from newsletter.render.catalogue import Catalogue
from newsletter.render.markdown import render_markdown
from newsletter.render.text import render_text
from newsletter.render.view import CommitView, IssueView, build_view

__all__ = ["DEFAULT_BUDGET", "Email", "minify", "render_email", "render_issue"]

_CODE = re.compile(r"`([^`\n]{1,200})`")


def _code(text: str) -> Markup:
    """Escape, then show `backticked` spans as code: safe because the escaped text holds no markup."""
    escaped = escape(text)
    return Markup(_CODE.sub(_as_code, str(escaped))) if "`" in escaped else escaped


def _as_code(match: re.Match[str]) -> str:
    return f"<code>{match.group(1)}</code>"


@cache
def _env() -> Environment:
    # Built on first use, not at import: a deployment's templates folder is checked when a command runs.
    env = template_files.environment(
        "email",
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code"] = _code
    env.filters["num"] = "{:,}".format
    return env


@cache
def _light() -> str:
    return template_files.path("email", "_light.css").read_text("utf-8")


@cache
def _frame_inliner() -> css_inline.CSSInliner:
    # The frame keeps its <style> (dark scheme, phone layout: media queries, which no inline style can say)
    # and MJML's own resets uninlined; the light scheme is added to every element from _light.css.
    return css_inline.CSSInliner(inline_style_tags=False, keep_style_tags=True, extra_css=_light(), minify_css=True)


_FRAGMENT_INLINER = css_inline.CSSInliner(minify_css=True)
_CUT = "<!--✂-->"  # between fragments inlined in one call (one parse instead of one per item)
# Where an item goes in the frame: random per process and never in any output, so no title or model answer
# can spell a slot.
_NONCE = secrets.token_hex(8)
_SLOTS = re.compile(f"@@{_NONCE}:([A-Za-z0-9_:-]+)@@")

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


def _size(html: str) -> int:
    return len(html.encode("utf-8"))


@cache
def _macros(language: str) -> object:
    """The item macros with the catalogue of one language in their context."""
    return _env().get_template("_items.html.j2").make_module({"t": Catalogue(language)})


def _inline(fragments: list[str]) -> list[str]:
    """Each fragment with the light styles inlined, in one parse."""
    if not fragments:
        return []
    # The item templates break lines only between tags and every value is one line (view.clip), so dropping
    # newlines is all the minifying a fragment needs (and a tenth of minify's cost).
    joined = _FRAGMENT_INLINER.inline_fragment(_CUT.join(f.replace("\n", "") for f in fragments), _light())
    out = joined.split(_CUT)
    if len(out) != len(fragments):  # a fragment that is not well-formed HTML swallowed a separator
        raise AssertionError("an item template produced unbalanced HTML")
    return out


_DETAIL = re.compile("<!--DETAIL-->.*?<!--/DETAIL-->", re.S)


class _Fragments:
    """Inlined HTML of each item at each level and of each commit table, rendered when first asked for: all
    items of one importance at one level in one batch. A card's level 2 is its level 3 without the detail."""

    def __init__(self, view: IssueView) -> None:
        self.view = view
        self.macros = _macros(view.language)
        self.by_key = {c.anchor: c for r in view.repos for group in r.groups.values() for c in group}
        self.html: dict[tuple[str, int], str] = {}
        self.sizes: dict[tuple[str, int], int] = {}
        self.tables = dict(zip((r.anchor for r in view.repos), self._render_tables(view), strict=True))

    def _render_tables(self, view: IssueView) -> list[str]:
        return _inline([str(self.macros.table(r)) for r in view.repos])  # type: ignore[attr-defined]

    def _batch(self, commits: Iterable[CommitView], level: int) -> None:
        todo = [c for c in commits if (c.anchor, level) not in self.html]
        drawn = 3 if level == 2 else level
        if drawn >= 2:
            rendered = _inline([str(self.macros.card(c, drawn)) for c in todo])  # type: ignore[attr-defined]
        else:
            rendered = _inline([str(self.macros.line(c)) for c in todo])  # type: ignore[attr-defined]
        for c, html in zip(todo, rendered, strict=True):
            if drawn == 3:
                self.html[(c.anchor, 3)] = html.replace("<!--DETAIL-->", "").replace("<!--/DETAIL-->", "")
                if 2 in budget.LADDERS[c.importance]:
                    self.html[(c.anchor, 2)] = _DETAIL.sub("", html)
            else:
                self.html[(c.anchor, level)] = html

    def get(self, key: str, level: int) -> str:
        if level == 0:
            return ""
        if (key, level) not in self.html:
            importance = self.by_key[key].importance
            self._batch((c for c in self.by_key.values() if c.importance == importance), level)
        return self.html[(key, level)]

    def size(self, key: str, level: int) -> int:
        # The budget asks for the same sizes again and again while it sheds and gives back.
        known = self.sizes.get((key, level))
        if known is None:
            known = self.sizes[(key, level)] = _size(self.get(key, level))
        return known

    def sentences(self, plan: Plan) -> dict[str, str]:
        """What ``plan`` says in words, by slot: each group's note on what it left out, and the link that
        stands for each commit table left out."""
        keys, html = [], []
        web = self.view.web_url
        for r, rp in zip(self.view.repos, plan.repos, strict=True):
            for g in rp.groups:
                if g.hidden or g.shortened:
                    keys.append("note:" + g.anchor)
                    html.append(str(self.macros.note(g, rp.table, web)))  # type: ignore[attr-defined]
            if not rp.table:
                keys.append("commits:" + r.anchor)
                html.append(str(self.macros.table_link(r, web)))  # type: ignore[attr-defined]
        return dict(zip(keys, _inline(html), strict=True))


def _document(view: IssueView, t: Catalogue) -> str:
    """The frame, compiled and inlined once: every item, group note and commit table still a slot."""
    mjml = (
        _env()
        .get_template("issue.mjml.j2")
        .render(v=view, t=t, plan=budget.whole(view), slot=lambda key: Markup(f"@@{_NONCE}:{key}@@"))
    )
    return _frame_inliner().inline(minify(mjml2html(mjml, disable_comments=True, fonts={})))


def _fill(document: str, fragments: _Fragments, plan: Plan) -> str:
    said = fragments.sentences(plan)

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in said:
            return said[key]
        kind, _, anchor = key.partition(":")
        if kind == "note":  # a group that left nothing out
            return ""
        if kind == "commits":
            return fragments.tables[anchor]
        return fragments.get(key, plan.levels[key])

    return _SLOTS.sub(one, document)


def _fit(view: IssueView, t: Catalogue, fragments: _Fragments, limit: int, list_id: str) -> tuple[str, str, Plan]:
    """(email HTML, web HTML, the email's plan): sizes first, one compile of the frame, then the email filled
    and measured as sent (a second fill only if the estimate of the sentences was short)."""
    whole = budget.whole(view)
    frame = _document(view, t)
    web = _fill(frame, fragments, whole)
    fixed = _size(_SLOTS.sub("", frame)) + budget.growth(frame, list_id)
    link = 400 + budget.growth(view.web_url, list_id)
    target = limit
    for _ in range(2):
        plan = budget.choose(
            view,
            fragments.size,
            {k: _size(v) for k, v in fragments.tables.items()},
            frame=fixed,
            link=link,
            budget=target,
        )
        if plan.whole:
            return web, web, plan
        html = _fill(frame, fragments, plan)
        over = _size(html) + budget.growth(html, list_id) - limit
        if over <= 0:
            return html, web, plan
        target -= over + 1_000  # the estimate of the sentences was short: shed a little more, once
    plan.shed.append("over-budget")
    return html, web, plan


@dataclass(frozen=True)
class Email:
    """The email of one issue: HTML within its budget, the whole web version, the text part, the plan."""

    subject: str
    preheader: str
    html: str
    web: str
    text: str
    plan: Plan


def render_email(issue: Issue, *, budget_bytes: int = DEFAULT_BUDGET) -> Email:
    """The email's parts without the Markdown (which only the archive uses): what bench/render.py times."""
    view, t = build_view(issue)
    html, web, plan = _fit(view, t, _Fragments(view), budget_bytes, issue.list_id or "")
    return Email(view.subject, view.preheader, html, web, render_text(view, t, plan), plan)


def render_issue(issue: Issue, *, budget_bytes: int = DEFAULT_BUDGET) -> RenderedIssue:
    """One render of ``issue``: the email's HTML (with per-recipient placeholders) within ``budget_bytes`` as
    sent, the text part that follows it item for item, the Markdown, and the whole web version."""
    mail = render_email(issue, budget_bytes=budget_bytes)
    return RenderedIssue(
        subject=mail.subject,
        preheader=mail.preheader,
        html=mail.html,
        web_html=mail.web,
        text=mail.text,
        markdown=render_markdown(issue),
        html_bytes=_size(mail.html),
        shed=mail.plan.shed,
    )
