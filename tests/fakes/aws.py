"""AWS for tests: moto's real HTTP server on loopback (an ephemeral port), never its in-process decorators.

moto's DynamoDB is not safe under concurrent requests the way DynamoDB is: a TransactWriteItems that fails
its condition restores a copy of the whole table taken before it began, silently undoing whatever another
request wrote meanwhile, and a conditional write checks and writes without a lock. Real DynamoDB settles each
item atomically. So the server below is moto's own server application (what ``ThreadedMotoServer`` runs)
on a threaded werkzeug server, with DynamoDB requests taken one at a time; S3, SES and SQS stay concurrent.
Without this, the tests of two runners racing for one recipient fail now and then for moto's sake alone.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

_DYNAMODB_TARGET = "DynamoDB_"  # X-Amz-Target of every DynamoDB API call ("DynamoDB_20120810.PutItem")


class _OneDynamoDBRequestAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_DYNAMODB_TARGET):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))  # the whole answer is made inside the lock


@contextmanager
def moto_server() -> Iterator[str]:
    """Start a moto server on 127.0.0.1:<free port>; yield its endpoint URL (for AWS_ENDPOINT_URL)."""
    app = _OneDynamoDBRequestAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body


class RelayProxy:
    """A loopback HTTP proxy in front of a moto server: each POST goes to ``exchange(target, body, forward)``,
    which by default forwards it as it is; subclasses count, alter or answer calls (``target``: the operation
    named by X-Amz-Target, e.g. ``PutItem``). ``calls`` counts every operation that went through."""

    KEEP = frozenset({"content-type", "x-amzn-requestid", "x-amz-crc32"})  # answer headers passed back

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                with proxy.lock:
                    proxy.calls[target] += 1
                status, headers, data = proxy.exchange(target, body, lambda b: self._forward(b))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _forward(self, body: bytes) -> Answer:
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"connection", "content-length"}}
                conn.request("POST", self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                return answer.status, [(k, v) for k, v in answer.getheaders() if k.lower() in proxy.KEEP], data

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def exchange(self, target: str, body: bytes, forward: Callable[[bytes], Answer]) -> Answer:
        return forward(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
