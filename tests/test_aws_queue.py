"""Recipient batches on SQS (moto server behind a proxy that makes SQS fail some entries on its side)."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from newsletter.aws.queue import RETRY_BASE, RecipientBatch, backoff, enqueue
from newsletter.store.base import Recipient
from tests.fakes.aws import moto_server


class FailingSqs:
    """Forwards to moto; the first ``fail_calls`` SendMessageBatch calls lose their first entry the way SQS
    reports its own trouble (``Failed`` with ``SenderFault: false``), so the caller must send it again."""

    def __init__(self, upstream: str, fail_calls: int) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.fail_calls = fail_calls
        self.batch_calls: list[float] = []  # monotonic time of each SendMessageBatch call
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                dropped: list[dict[str, Any]] = []
                if self.headers.get("X-Amz-Target") == "AmazonSQS.SendMessageBatch":
                    with lock:
                        proxy.batch_calls.append(time.monotonic())
                        failing = len(proxy.batch_calls) <= proxy.fail_calls
                    if failing:
                        request = json.loads(body)
                        dropped, request["Entries"] = request["Entries"][:1], request["Entries"][1:]
                        body = json.dumps(request).encode()
                if dropped and not json.loads(body)["Entries"]:
                    status, headers, data = 200, [("Content-Type", "application/x-amz-json-1.0")], b"{}"
                else:
                    status, headers, data = self._relay(body)
                if dropped:
                    answer = json.loads(data)
                    answer.setdefault("Failed", []).extend(
                        {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                        for e in dropped
                    )
                    data = json.dumps(answer).encode()
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _relay(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
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
                keep = [(k, v) for k, v in answer.getheaders() if k.lower() in {"content-type", "x-amzn-requestid"}]
                return answer.status, keep, data

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def client(url: str) -> Any:
    return boto3.client(
        "sqs", region_name="us-east-1", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test"
    )


def drain(sqs: Any, queue_url: str) -> list[RecipientBatch]:
    found: list[RecipientBatch] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(RecipientBatch.from_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_entries_sqs_failed_are_sent_again_after_a_growing_pause(endpoint: str) -> None:
    queue_url = client(endpoint).create_queue(QueueName="recipients")["QueueUrl"]
    proxy = FailingSqs(endpoint, fail_calls=3)
    try:
        people = [Recipient(email=f"r{i}@example.com", name=None, list_id="digest") for i in range(5)]
        sent = enqueue(client(proxy.url), queue_url, "digest/2026-03-08", "digest", people, batch=1)
    finally:
        proxy.close()
    assert sent == 5
    # Every recipient is on the queue exactly once: the failed entries went again, nothing twice.
    batches = drain(client(endpoint), queue_url)
    assert sorted(r.email for b in batches for r in b.recipients) == sorted(p.email for p in people)
    # One call that lost an entry, then three re-sends: each waited at least half its backoff step.
    calls = proxy.batch_calls
    assert len(calls) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    for attempt, gap in enumerate(gaps, start=1):
        assert gap >= RETRY_BASE * 2 ** (attempt - 1) / 2, gaps


def test_backoff_grows_is_capped_and_jittered() -> None:
    for attempt in range(1, 12):
        step = min(5.0, RETRY_BASE * 2 ** (attempt - 1))
        waits = {backoff(attempt) for _ in range(50)}
        assert all(step / 2 <= w <= step for w in waits)
        assert len(waits) > 1  # jitter: retries of many ticks do not line up
