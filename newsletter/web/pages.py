"""The pages of the public subscription endpoints, as (status, html): pure rendering over plain data.

The ``http`` Lambda handler (and any local server) decides what happened through ``newsletter.subscriptions``
and calls one of these to say so. Nothing here reads a request: every value shown is escaped by the template
engine, every form action is built from the configured public URL (never from the request, so there is no
open redirect), and tokens only travel URL-encoded inside those actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlencode

from newsletter import i18n
from newsletter.i18n import LANGUAGES, language_of
from newsletter.web.templating import render, t

# For the handler to send with every page: no caching of personal pages, no framing, no third-party anything.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Page(NamedTuple):
    status: int
    html: str


@dataclass(frozen=True)
class ListChoice:
    """One line of the preferences form."""

    list_id: str
    title: str
    subscribed: bool


@dataclass(frozen=True)
class _Form:
    action: str
    fields: dict[str, str]
    label: str


def pick_language(accept_language: str | None, default: str = "en") -> str:
    """The first supported language in an Accept-Language header (quality order is the client's order)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return language_of(default)


def _endpoint(public_url: str, path: str, **query: str) -> str:
    base = f"{public_url.rstrip('/')}{path}"
    return f"{base}?{urlencode(query)}" if query else base


def _message(
    status: int,
    language: str,
    title_key: str,
    *paragraphs: str,
    form: _Form | None = None,
    archive_url: str | None = None,
) -> Page:
    title = t(language, title_key)
    html = render("message.html.j2", language, title=title, paragraphs=paragraphs, form=form, archive_url=archive_url)
    return Page(status, html)


# ------------------------------------------------------------------------------------------------ subscribe


def subscribe_form(
    language: str,
    *,
    public_url: str,
    list_id: str,
    list_title: str,
    email: str | None = None,
    invalid: bool = False,
    archive_url: str | None = None,
) -> Page:
    """GET /subscribe (the form), or the form again with an error after an unusable address (400)."""
    html = render(
        "subscribe.html.j2",
        language,
        title=f"{t(language, 'pages.subscribe_title')}: {list_title}",
        error=t(language, "pages.subscribe_invalid") if invalid else None,
        subscribe_action=_endpoint(public_url, "/subscribe"),
        list_id=list_id,
        email=email,
        archive_url=archive_url,
    )
    return Page(400 if invalid else 200, html)


def subscribe_pending(language: str, *, archive_url: str | None = None) -> Page:
    """POST /subscribe accepted. The same words whether the address was new, pending or already subscribed,
    so that the page never tells a stranger who is on the list."""
    return _message(
        202,
        language,
        "pages.subscribe_pending_title",
        t(language, "pages.subscribe_pending"),
        archive_url=archive_url,
    )


# ------------------------------------------------------------------------------------------------ confirm


def confirmed(language: str, *, list_title: str, already: bool = False, archive_url: str | None = None) -> Page:
    """GET /confirm?token=: the click itself confirmed; this only reports it (no second button)."""
    line = t(language, "pages.confirm_already") if already else t(language, "pages.confirm_done", list=list_title)
    return _message(200, language, "pages.confirm_title", line, archive_url=archive_url)


# ------------------------------------------------------------------------------------------------ unsubscribe


def unsubscribe_ask(
    language: str, *, list_title: str, public_url: str, token: str, archive_url: str | None = None
) -> Page:
    """GET /unsubscribe?token=: one button that POSTs. Opening the link changes nothing, so a mail scanner that
    follows every link in a message cannot unsubscribe the reader."""
    button = _Form(
        action=_endpoint(public_url, "/unsubscribe", token=token),
        fields={"confirm": "1"},
        label=t(language, "form.unsubscribe"),
    )
    return _message(
        200,
        language,
        "pages.unsubscribe_ask_title",
        t(language, "pages.unsubscribe_ask", list=list_title),
        form=button,
        archive_url=archive_url,
    )


def unsubscribed(
    language: str, *, list_title: str, public_url: str, undo_token: str | None, archive_url: str | None = None
) -> Page:
    """After the button's POST: done, with an undo when this request made the change. The undo posts a
    short-lived undo token, which restores the status from before the unsubscribe (never more)."""
    undo = (
        _Form(
            action=_endpoint(public_url, "/unsubscribe"),
            fields={"undo": undo_token},
            label=t(language, "form.resubscribe"),
        )
        if undo_token
        else None
    )
    paragraphs = [t(language, "pages.unsubscribe_done", list=list_title)]
    if undo:
        paragraphs.append(t(language, "pages.unsubscribe_undo"))
    return _message(200, language, "pages.unsubscribe_title", *paragraphs, form=undo, archive_url=archive_url)


def resubscribed(language: str, *, list_title: str, archive_url: str | None = None) -> Page:
    return _message(
        200,
        language,
        "pages.resubscribed_title",
        t(language, "pages.resubscribed", list=list_title),
        archive_url=archive_url,
    )


# ------------------------------------------------------------------------------------------------ preferences


@dataclass(frozen=True)
class ReaderForm:
    """What a reader of one list chose (newsletter/preferences.py), as the preferences form shows it."""

    title: str  # the list's
    importance: str  # high | medium | low
    areas: Sequence[tuple[str, bool]]  # (top-level area seen in recent issues, or one chosen before; checked)
    languages: Sequence[str]  # what the list offers
    language: str
    cadence: str = "daily"  # daily | weekly
    weekly_day: int = 0  # the list's weekly day, Monday = 0


def preferences_form(
    language: str,
    *,
    choices: Sequence[ListChoice],
    public_url: str,
    token: str,
    archive_url: str | None = None,
    reader: ReaderForm | None = None,
) -> Page:
    """GET /preferences?token=: a checkbox per list the address may receive and, for the list of the link, the
    reader's own choices (lowest importance, areas of the code, language, cadence)."""
    names = dict(zip(LANGUAGES, t(language, "reader.language_names").split(","), strict=True))
    weekday = t(language, "reader.weekdays").split(",")[reader.weekly_day if reader else 0]
    cadences = [
        ("daily", t(language, "reader.cadence_daily")),
        ("weekly", t(language, "reader.cadence_weekly", weekday=weekday)),
    ]
    html = render(
        "preferences.html.j2",
        language,
        title=t(language, "pages.preferences_title"),
        choices=list(choices),
        action=_endpoint(public_url, "/preferences", token=token),
        archive_url=archive_url,
        reader=reader,
        levels=[(level, i18n.t(language_of(language), f"importance.{level}")) for level in ("high", "medium", "low")],
        language_names=names,
        cadences=cadences,
    )
    return Page(200, html)


def preferences_saved(
    language: str,
    *,
    subscribed_titles: Sequence[str],
    confirming_titles: Sequence[str] = (),
    archive_url: str | None = None,
) -> Page:
    paragraphs = [t(language, "pages.preferences_saved")]
    paragraphs += list(subscribed_titles) or [t(language, "pages.preferences_none")]
    if confirming_titles:
        paragraphs.append(t(language, "pages.preferences_confirm", lists=", ".join(confirming_titles)))
    return _message(200, language, "pages.preferences_saved_title", *paragraphs, archive_url=archive_url)


# ------------------------------------------------------------------------------------------------ errors


def bad_token(language: str, *, archive_url: str | None = None) -> Page:
    """A missing, tampered with or expired token: 400, and the page says nothing changed."""
    return _message(400, language, "pages.bad_token_title", t(language, "pages.bad_token"), archive_url=archive_url)


def bad_request(language: str) -> Page:
    return _message(400, language, "pages.bad_request_title", t(language, "pages.bad_request"))


def not_found(language: str) -> Page:
    return _message(404, language, "pages.not_found_title", t(language, "pages.not_found"))


def server_error(language: str) -> Page:
    return _message(500, language, "pages.error_title", t(language, "pages.error"))
