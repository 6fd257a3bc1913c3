"""The ``http`` Lambda handler behind a local HTTP server: each request becomes an API Gateway HTTP API
(payload 2.0) event, each answer a response. For trying the pages in a browser and for the browser test."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Handler = Callable[[dict[str, Any], object], dict[str, Any]]
MAX_REQUEST = 1024 * 1024  # far above any form; the handler itself takes at most 16 KiB


def to_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    url = urlsplit(target)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {"http": {"method": method, "path": url.path, "protocol": "HTTP/1.1"}, "stage": "$default"},
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``server.server_address`` has the port; ``server.shutdown()`` stops."""

    class Request(BaseHTTPRequestHandler):
        def _run(self) -> None:
            # API Gateway refuses a malformed or oversized body before the Lambda runs; so does this adapter,
            # at once (a negative or absurd length must not hang the connection or crash the thread).
            text = (self.headers.get("Content-Length") or "0").strip()
            if not text.isdigit() or not text.isascii():
                self.send_error(400, "bad Content-Length")
                return
            length = int(text)
            if length > MAX_REQUEST:
                self.send_error(413, "request body too large")
                return
            body = self.rfile.read(length) if length else b""
            answer = handler(to_event(self.command, self.path, dict(self.headers.items()), body), None)
            payload = str(answer.get("body") or "").encode("utf-8")
            self.send_response(int(answer["statusCode"]))
            for name, value in (answer.get("headers") or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _run
        do_POST = _run

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Request)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
