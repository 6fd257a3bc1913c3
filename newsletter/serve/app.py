"""The WSGI application of ``newsletter serve``: the public endpoints and the web archive.

A request for one of the endpoints (subscribe, confirm, unsubscribe, preferences) goes, as an ``HttpRequest``,
through ``newsletter.aws.web.respond`` — the very function the Lambda ``http`` handler calls — so both answer
alike. Any other GET or HEAD is a file of the archive (local folder or S3 prefix, read through the archive's
storage), and what is neither gets the endpoints' own 404 page.

The access log names the method, the path (never the query, which carries the tokens), the status, the size and
the time taken; never an address, a header or a body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from newsletter.archive.site import content_type_for
from newsletter.archive.storage import Storage
from newsletter.aws import web
from newsletter.context import Context
from newsletter.errors import NewsletterError
from newsletter.web.http import HttpRequest, HttpResponse

access_log = logging.getLogger("newsletter.access")
log = logging.getLogger("newsletter.serve")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

# A segment of an archive path: what safe_list_id and the issue files allow (no dot first: no hidden files,
# no "..", no half-written ".tmp-" file).
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ARCHIVE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # The pages are the emails: styles and images, never a script.
    "Content-Security-Policy": "script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


def archive_key(path: str) -> tuple[str | None, bool]:
    """The storage key a path names, and whether it names a folder without its trailing slash (to redirect).
    ``(None, False)`` for anything that is not a well-formed archive path."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) > 3 or not all(_SEGMENT.match(p) for p in parts):
        return None, False
    if not parts or path.endswith("/"):
        return "/".join([*parts, "index.html"]), False
    if "." not in parts[-1]:
        return "/".join([*parts, "index.html"]), True
    return "/".join(parts), False


class App:
    """``App(ctx, storage)`` is a WSGI callable. ``ctx`` is shared by every request thread (its store is
    thread-safe and opened before the first request); ``storage`` is the archive's, or None for no archive."""

    def __init__(self, ctx: Context, storage: Storage | None) -> None:
        self.ctx = ctx
        self.storage = storage

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request = from_environ(environ)
        try:
            response = self.answer(request)
        except NewsletterError as err:  # the archive's storage failing (S3 down, a folder unreadable)
            log.error("%s %s: %s", request.method, _printable(request.path), err.message)
            response = HttpResponse(503, {"Content-Type": "text/plain; charset=utf-8"}, b"unavailable\n")
        headers = [*response.headers.items(), ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_reason(response.status)}", headers)
        access_log.info(
            '"%s %s" %d %d %.1fms',
            request.method,
            _printable(request.path),
            response.status,
            len(response.body),
            (time.perf_counter() - started) * 1000,
        )
        return [b"" if request.method == "HEAD" else response.body]

    def answer(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and request.path not in web.PATHS and self.storage is not None:
            found = self.archive_file(request.path)
            if found is not None:
                return found
        return web.respond(self.ctx, request)

    def archive_file(self, path: str) -> HttpResponse | None:
        assert self.storage is not None
        key, folder = archive_key(path)
        content_type = content_type_for(key) if key else None
        if key is None or content_type is None:
            return None
        data = self.storage.read(key)
        if data is None:
            return None
        if folder:
            # The list page links its issues relatively: it must be read as a folder.
            return HttpResponse(301, {"Location": quote(path) + "/", "Cache-Control": "public, max-age=3600"})
        cache = "no-cache" if key.endswith(".json") else "public, max-age=300"
        return HttpResponse(200, {"Content-Type": content_type, "Cache-Control": cache, **_ARCHIVE_HEADERS}, data)


def from_environ(environ: dict[str, Any]) -> HttpRequest:
    """A WSGI request as a plain one. The server has already bounded the body (max_request_body_size) and
    undone chunked encoding; REMOTE_ADDR is the proxy's forwarded address only when the proxy is trusted."""
    headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key[:5] == "HTTP_"}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    # PEP 3333 hands the path over as latin-1 decoded bytes; the routes and archive keys are UTF-8.
    path = str(environ.get("PATH_INFO") or "/").encode("latin-1", "replace").decode("utf-8", "replace")
    return HttpRequest(
        method=str(environ.get("REQUEST_METHOD") or "GET").upper(),
        path=path or "/",
        query=str(environ.get("QUERY_STRING") or ""),
        headers=headers,
        body=body,
        client=environ.get("REMOTE_ADDR"),
    )


def _printable(path: str) -> str:
    """A path fit for one log line: control characters and spaces percent-encoded."""
    return quote(path, safe="/._-~!$&'()*+,;=:@")[:300]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
