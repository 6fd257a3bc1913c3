"""Which links a render may print: untrusted URLs (from commits, pull requests, settings) are shown only when
they are plain http(s) with a host and nothing that could break out of an attribute or smuggle a scheme."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Anything that could let a URL escape its attribute or smuggle a scheme: controls, spaces, quotes, brackets.
_URL_BAD = re.compile(r"[\x00-\x20\x7f\"'<>\\`]")
# http(s)://host[:port] then a path, query, fragment or nothing: urlsplit would find that scheme and a host.
_PLAIN_URL = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#]|\Z)")


# Where "view in browser" and "read the whole issue" lead when the issue has no archive page (``newsletter
# preview``, ``build``): the web version the preview writes beside the email (newsletter/render/preview.py).
LOCAL_WEB_VERSION = "web.html"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and nothing that could break out; else None."""
    if not url or _URL_BAD.search(url):
        return None
    if _PLAIN_URL.match(url):  # the common shape, decided without urlsplit (most of build_view's time)
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


def page_url(url: str | None) -> str | None:
    """The issue's page on the archive: a safe http(s) URL, or a local archive's ``file:///`` URL (the embedded
    default, before NEWSLETTER_ARCHIVE_URL says where the folder is served)."""
    if url and url.startswith("file:///") and not _URL_BAD.search(url):
        return url
    return safe_url(url)
