"""A campaign run again over a settled ledger reads the ledger once and writes nothing: no claim and no read per
recipient (DynamoDB through moto, behind a proxy that counts the calls as they go over the wire)."""

from __future__ import annotations

import http.client
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.service import deliver
from newsletter.store.dynamodb import DynamoStore
from newsletter.subscriptions import Tokens
from tests.deliver_support import SECRET, mailing_list, seed, sendable

PER_ITEM = {"PutItem", "UpdateItem", "GetItem", "DeleteItem", "TransactWriteItems"}


class CountingProxy:
    """Forwards every request to ``upstream`` and counts DynamoDB operations by their X-Amz-Target."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.calls: Counter[str] = Counter()
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                with lock:
                    proxy.calls[target] += 1
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                skip = {"connection", "content-length"}
                conn.request(
                    "POST",
                    self.path,
                    body=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() not in skip},
                )
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() in {"content-type", "x-amzn-requestid", "x-amz-crc32"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[CountingProxy]:
    counting = CountingProxy(moto_endpoint)
    yield counting
    counting.close()


def test_a_second_run_skips_settled_recipients_without_a_call_each(proxy: CountingProxy, tmp_path: Path) -> None:
    store = DynamoStore(f"t{uuid.uuid4().hex[:10]}", region="us-east-1", endpoint_url=proxy.url)
    store.init()
    emails = seed(store, 60)
    settings = Settings.from_env().model_copy(update={"send_rate": None, "send_concurrency": 4})

    def run() -> tuple[int, int]:
        result = deliver(
            mailing_list(),
            sendable(),
            settings=settings,
            store=store,
            sender=OutboxSender(tmp_path / "outbox"),
            tokens=Tokens(SECRET),
        )
        return result.sent, result.skipped

    assert run() == (len(emails), 0)
    proxy.calls.clear()
    assert run() == (0, len(emails))
    # The ledger and the recipients are read in pages; nothing is claimed, marked or read one recipient at a time.
    assert sum(proxy.calls[op] for op in PER_ITEM) == 0, proxy.calls
    assert sum(proxy.calls.values()) < 15, proxy.calls
    store.close()
