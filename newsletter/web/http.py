"""A request and a response with nothing of the server or the cloud in them.

The public endpoints (``newsletter.aws.web``) take an ``HttpRequest`` and give an ``HttpResponse``; the Lambda
handler turns API Gateway's event into the one and the other into its answer, ``newsletter serve`` does the
same from WSGI. So both run one code path, and a bad request gets the same answer from either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpRequest:
    method: str  # upper case
    path: str  # decoded, without the query
    query: str = ""  # the raw query string, as sent
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    # The peer's address (a trusted proxy's forwarded one): for limits per client, never logged.
    client: str | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    @classmethod
    def text(cls, status: int, body: str, headers: Mapping[str, str]) -> HttpResponse:
        return cls(status, dict(headers), body.encode("utf-8"))
