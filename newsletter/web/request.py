"""A request as the public endpoints read it (``newsletter.aws.web``): the query, the form or JSON body — small,
UTF-8, flat — and the language the reader's browser asks for. Anything else is one ``BadRequest``, which the
endpoints answer with the same 400 page whichever server is in front."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs

from newsletter.web import pages
from newsletter.web.http import HttpRequest

MAX_BODY = 16 * 1024  # a subscribe or preferences form is a few hundred bytes


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    is_json: bool
    language: str  # from Accept-Language, for pages not tied to a list

    def one(self, name: str, *, where: str = "form") -> str:
        values = (self.form if where == "form" else self.query).get(name) or [""]
        return values[0].strip()


class BadRequest(Exception):
    pass


def parse(http: HttpRequest) -> Request:
    headers = http.headers
    query = parse_qs(http.query, keep_blank_values=True)
    raw = http.body
    if len(raw) > MAX_BODY:
        raise BadRequest("body too large")
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    form: dict[str, list[str]] = {}
    is_json = content_type == "application/json"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest("body is not UTF-8") from err
    if is_json and text.strip():
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise BadRequest("body is not JSON") from err
        except RecursionError as err:  # a few KiB of "[[[[…" is enough to exhaust the parser's stack
            raise BadRequest("JSON nested too deeply") from err
        if not isinstance(data, dict):
            raise BadRequest("JSON body is not an object")
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            form[str(key)] = [str(v) for v in values if isinstance(v, str | int)]
    elif text:
        form = parse_qs(text, keep_blank_values=True)
    return Request(
        http.method,
        "/" + http.path.strip("/"),
        query,
        form,
        is_json,
        pages.pick_language(headers.get("accept-language")),
    )
