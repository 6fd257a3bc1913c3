"""The public subscription endpoints: ``respond(ctx, HttpRequest) -> HttpResponse``, one code path for every
server in front — the Lambda ``http`` handler (``handle``: API Gateway HTTP API events, payload format 2.0) and
``newsletter serve`` (WSGI, ``newsletter.serve.app``).

Routes: GET/POST /subscribe, GET /confirm?token=, GET /unsubscribe?token=, POST /unsubscribe?token= (RFC 8058
``List-Unsubscribe=One-Click``, or ``undo=1`` from the result page), GET/POST /preferences?token=.
Decisions are the subscriptions module's; pages are ``newsletter.web.pages``; the request is read (and a bad one
refused) by ``newsletter.web.request``. Nothing from the request is echoed back and every link or form action is
built from the configured public URL.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from newsletter import preferences, subscriptions
from newsletter.errors import InputError, NewsletterError, TokenError
from newsletter.models import Cadence, MailingList, zone
from newsletter.store.base import MemberStatus
from newsletter.web import pages
from newsletter.web.http import HttpRequest, HttpResponse
from newsletter.web.pages import HEADERS, ListChoice, Page, ReaderForm
from newsletter.web.request import BadRequest, Request, parse

if TYPE_CHECKING:
    from newsletter.context import Context

log = logging.getLogger("newsletter.aws.http")

_SOURCE = "web"


def from_event(event: dict[str, Any]) -> HttpRequest:
    """API Gateway's HTTP API event (payload 2.0) as a plain request."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "GET").upper()
    route = str(event.get("routeKey") or "")
    # "POST /subscribe" names the route even when a stage prefixes the raw path; $default has no name.
    path = route.split(" ", 1)[1] if " " in route else str(event.get("rawPath") or http.get("path") or "/")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as err:
            raise BadRequest("body is not base64") from err
    else:
        raw = body.encode("utf-8") if isinstance(body, str) else b""
    client = http.get("sourceIp")
    return HttpRequest(
        method, path, str(event.get("rawQueryString") or ""), headers, raw, str(client) if client else None
    )


def to_event_answer(response: HttpResponse) -> dict[str, Any]:
    """A response as the Lambda integration returns it (every body here is UTF-8 text)."""
    return {"statusCode": response.status, "headers": dict(response.headers), "body": response.body.decode("utf-8")}


def _response(page: Page) -> HttpResponse:
    return HttpResponse.text(page.status, page.html, HEADERS)


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse.text(status, text, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"})


def _json(status: int, data: dict[str, Any]) -> HttpResponse:
    return HttpResponse.text(
        status, json.dumps(data), {"Content-Type": "application/json", "Cache-Control": "no-store"}
    )


def handle(rt: Context, event: dict[str, Any]) -> dict[str, Any]:
    """The Lambda integration: event in, answer out, through ``respond`` like every other server."""
    try:
        http = from_event(event)
    except BadRequest as err:
        log.info("bad request: %s", err)
        return to_event_answer(_response(pages.bad_request("en")))
    return to_event_answer(respond(rt, http))


def respond(rt: Context, http: HttpRequest) -> HttpResponse:
    try:
        request = parse(http)
    except BadRequest as err:
        log.info("bad request: %s", err)
        return _response(pages.bad_request("en"))
    route = _ROUTES.get((request.method, request.path))
    if route is None:
        return _response(pages.not_found(request.language))
    try:
        return route(rt, request)
    except NewsletterError as err:
        log.error("%s %s: %s", request.method, request.path, err.message)
        return _response(pages.server_error(request.language))


# ------------------------------------------------------------------------------------------------ helpers


class _Pages:
    """The page arguments every page of one list shares."""

    def __init__(self, rt: Context, mailing_list: MailingList | None, fallback: str) -> None:
        self.language = mailing_list.language if mailing_list else fallback
        self.archive_url = rt.settings.archive_public_url
        self.public_url = rt.public_url()


def _list_or_none(rt: Context, list_id: str) -> MailingList | None:
    if not list_id:
        return None
    return rt.mailing_lists().get(list_id)


def _claims(rt: Context, request: Request, purpose: str) -> subscriptions.TokenClaims | None:
    token = request.one("token", where="query")
    if not token:
        return None
    try:
        return subscriptions.read_link(rt.store, rt.tokens, token, purpose)
    except TokenError as err:
        log.info("%s token refused: %s", purpose, err.message)
        return None


# ------------------------------------------------------------------------------------------------ subscribe


def _subscribe_form(rt: Context, request: Request) -> HttpResponse:
    lists = rt.mailing_lists()
    list_id = request.one("list", where="query") or (next(iter(lists)) if len(lists) == 1 else "")
    mailing_list = lists.get(list_id)
    if mailing_list is None:
        return _response(pages.not_found(request.language))
    p = _Pages(rt, mailing_list, request.language)
    return _response(
        pages.subscribe_form(
            p.language,
            public_url=p.public_url,
            list_id=mailing_list.id,
            list_title=mailing_list.title,
            archive_url=p.archive_url,
        )
    )


def _subscribe(rt: Context, request: Request) -> HttpResponse:
    mailing_list = _list_or_none(rt, request.one("list"))
    if mailing_list is None:
        return _json(400, {"error": "unknown list"}) if request.is_json else _response(pages.bad_request("en"))
    p = _Pages(rt, mailing_list, request.language)
    try:
        subscriptions.request_subscription(
            rt.store,
            rt.tokens,
            rt.confirmations,
            mailing_list,
            request.one("email"),
            public_url=p.public_url,
            name=request.one("name")[:100] or None,
            source=_SOURCE,
        )
    except InputError:
        if request.is_json:
            return _json(400, {"error": "invalid email address"})
        # The address is not shown again: nothing a request carries is reflected.
        return _response(
            pages.subscribe_form(
                p.language,
                public_url=p.public_url,
                list_id=mailing_list.id,
                list_title=mailing_list.title,
                invalid=True,
                archive_url=p.archive_url,
            )
        )
    if request.is_json:
        return _json(202, {"status": "pending"})
    return _response(pages.subscribe_pending(p.language, archive_url=p.archive_url))


# ------------------------------------------------------------------------------------------------ confirm


def _confirm(rt: Context, request: Request) -> HttpResponse:
    claims = _claims(rt, request, "confirm")
    mailing_list = _list_or_none(rt, claims.list_id) if claims else None
    p = _Pages(rt, mailing_list, request.language)
    if claims is None or mailing_list is None:
        return _response(pages.bad_token(p.language, archive_url=p.archive_url))
    try:
        done = subscriptions.confirm(rt.store, rt.tokens, request.one("token", where="query"), source=_SOURCE)
    except InputError as err:  # removed, or unsubscribed since the link was sent: nothing changes
        log.info("confirm refused: %s", err.message)
        return _response(pages.bad_token(p.language, archive_url=p.archive_url))
    return _response(
        pages.confirmed(
            p.language, list_title=mailing_list.title, already=not done.transition.changed, archive_url=p.archive_url
        )
    )


# ------------------------------------------------------------------------------------------------ unsubscribe


def _unsubscribe(rt: Context, request: Request) -> HttpResponse:
    """GET (the link in the mail body, which scanners prefetch) only asks, with one button that POSTs. A POST
    unsubscribes: from that button (``confirm=1``, answered with a page and an undo) or from a mail client's
    RFC 8058 one-click, whose body (often multipart) is not read: the method says it all, answered in plain
    text. The change is made from the token alone, before anything else (list files, settings) is looked at."""
    if request.method == "POST" and "undo" in request.form:
        return _undo(rt, request)
    claims = _claims(rt, request, "unsubscribe")
    one_click = request.method == "POST" and request.one("confirm") != "1"
    if claims is None:
        if one_click:
            return _plain(400, "invalid unsubscribe link\n")
        return _response(pages.bad_token(request.language, archive_url=rt.settings.archive_public_url))
    undo: str | None = None
    if request.method == "POST":
        undo = subscriptions.unsubscribe_from_link(
            rt.store, rt.tokens, claims, source="web:one-click" if one_click else _SOURCE
        )
        if one_click:
            return _plain(200, "unsubscribed\n")
    try:
        # A list retired since the mail was sent can still be left: the token alone names the membership.
        mailing_list = _list_or_none(rt, claims.list_id)
        p = _Pages(rt, mailing_list, request.language)
    except NewsletterError as err:
        log.error("%s /unsubscribe: %s", request.method, err.message)
        if request.method == "POST":
            return _plain(200, "unsubscribed\n")  # done all the same; only the page cannot be drawn
        return _response(pages.server_error(request.language))
    title = mailing_list.title if mailing_list else claims.list_id
    if request.method == "GET":
        token = request.one("token", where="query")
        return _response(
            pages.unsubscribe_ask(
                p.language, list_title=title, public_url=p.public_url, token=token, archive_url=p.archive_url
            )
        )
    return _response(
        pages.unsubscribed(
            p.language, list_title=title, public_url=p.public_url, undo_token=undo, archive_url=p.archive_url
        )
    )


def _undo(rt: Context, request: Request) -> HttpResponse:
    try:
        claims = subscriptions.undo_unsubscribe(rt.store, rt.tokens, request.one("undo"), source=_SOURCE)
    except TokenError as err:
        log.info("undo refused: %s", err.message)
        return _response(pages.bad_token(request.language, archive_url=rt.settings.archive_public_url))
    mailing_list = _list_or_none(rt, claims.list_id)
    p = _Pages(rt, mailing_list, request.language)
    title = mailing_list.title if mailing_list else claims.list_id
    return _response(pages.resubscribed(p.language, list_title=title, archive_url=p.archive_url))


# ------------------------------------------------------------------------------------------------ preferences


def _preferences(rt: Context, request: Request) -> HttpResponse:
    claims = _claims(rt, request, "preferences")
    lists = rt.mailing_lists()
    p = _Pages(rt, lists.get(claims.list_id) if claims else None, request.language)
    if claims is None:
        return _response(pages.bad_token(p.language, archive_url=p.archive_url))
    if rt.store.get_member(claims.email, claims.list_id) is None:
        # Removed, or forgotten: an old link must not bring the person back.
        return _response(pages.bad_token(p.language, archive_url=p.archive_url))
    wanted = request.form.get("lists", []) if request.method == "POST" else None
    joining = []
    for list_id in wanted or []:
        member = rt.store.get_member(claims.email, list_id)
        if list_id in lists and (member is None or member.status != MemberStatus.ACTIVE):
            # Joining waits for a confirmation link, like any subscribe.
            subscriptions.request_subscription(
                rt.store,
                rt.tokens,
                rt.confirmations,
                lists[list_id],
                claims.email,
                public_url=p.public_url,
                source=_SOURCE,
            )
            joining.append(lists[list_id].title)
    current = subscriptions.preferences(rt.store, claims.email, list(lists), wanted=wanted, source=_SOURCE)
    mine = lists.get(claims.list_id) if current.get(claims.list_id) else None  # the link's list, if still on it
    if request.method == "POST" and mine is not None and request.form.get("reader"):
        try:
            preferences.update(
                rt.store,
                mine,
                claims.email,
                source=_SOURCE,
                min_importance=request.one("min_importance", where="form") or "",
                areas=request.form.get("areas", []),
                language=request.one("language", where="form") or "",
                # None: a page from before the choice existed leaves the cadence alone.
                cadence=request.one("cadence", where="form") if "cadence" in request.form else None,
            )
        except InputError:
            return _response(pages.bad_request(p.language))
    if request.method == "POST":
        titles = [lists[i].title for i in lists if current[i]]
        return _response(
            pages.preferences_saved(
                p.language, subscribed_titles=titles, confirming_titles=joining, archive_url=p.archive_url
            )
        )
    choices = [ListChoice(list_id, m.title, current[list_id]) for list_id, m in lists.items()]
    return _response(
        pages.preferences_form(
            p.language,
            choices=choices,
            public_url=p.public_url,
            token=request.one("token", where="query"),
            archive_url=p.archive_url,
            reader=_reader_form(rt, mine, claims.email) if mine is not None else None,
        )
    )


def _reader_form(rt: Context, mailing_list: MailingList, email: str) -> ReaderForm:
    from newsletter.segments import recent_areas  # the issues' shapes (compose, campaign): only for this form

    chosen = rt.store.preferences(email, mailing_list.id)
    today = datetime.now(UTC).astimezone(zone(mailing_list.timezone)).date()
    # A checkbox per top-level folder the recent issues touched, and any area chosen before (kept checked).
    offered = sorted({*recent_areas(rt.store, rt.archive, mailing_list, today), *chosen.areas})
    return ReaderForm(
        title=mailing_list.title,
        importance=(chosen.min_importance or mailing_list.min_importance).value,
        areas=[(area, area in chosen.areas) for area in offered],
        languages=mailing_list.offered_languages,
        language=chosen.language or mailing_list.language,
        cadence=(chosen.cadence or Cadence.DAILY).value,
        weekly_day=mailing_list.weekly_day.number,
    )


_ROUTES = {
    ("GET", "/subscribe"): _subscribe_form,
    ("POST", "/subscribe"): _subscribe,
    ("GET", "/confirm"): _confirm,
    ("GET", "/unsubscribe"): _unsubscribe,
    ("POST", "/unsubscribe"): _unsubscribe,
    ("GET", "/preferences"): _preferences,
    ("POST", "/preferences"): _preferences,
}
PATHS = frozenset(path for _, path in _ROUTES)  # what a server in front sends here rather than to the archive
