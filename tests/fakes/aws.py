"""AWS for tests: moto's real HTTP server on loopback (an ephemeral port), never its in-process decorators.

moto's DynamoDB is not safe under concurrent requests the way DynamoDB is: a TransactWriteItems that fails
its condition restores a copy of the whole table taken before it began, silently undoing whatever another
request wrote meanwhile, and a conditional write checks and writes without a lock. Real DynamoDB settles each
item atomically. So the server below is moto's own server application (what ``ThreadedMotoServer`` runs)
on a threaded werkzeug server, with DynamoDB requests taken one at a time; S3, SES and SQS stay concurrent.
Without this, the tests of two runners racing for one recipient fail now and then for moto's sake alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
