"""Recipient batches on SQS (moto server behind a proxy that makes SQS fail some entries on its side)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from newsletter.aws.queue import RETRY_BASE, RecipientBatch, backoff, enqueue
from newsletter.store.base import Recipient
from tests.fakes.aws import Answer, RelayProxy, moto_server


class FailingSqs(RelayProxy):
    """Forwards to moto; the first ``fail_calls`` SendMessageBatch calls lose their first entry the way SQS
    reports its own trouble (``Failed`` with ``SenderFault: false``), so the caller must send it again."""

    def __init__(self, upstream: str, fail_calls: int) -> None:
        super().__init__(upstream)
        self.fail_calls = fail_calls
        self.batch_calls: list[float] = []  # monotonic time of each SendMessageBatch call

    def exchange(self, target: str, body: bytes, forward: Callable[[bytes], Answer]) -> Answer:
        dropped: list[dict[str, Any]] = []
        if target == "SendMessageBatch":
            with self.lock:
                self.batch_calls.append(time.monotonic())
                failing = len(self.batch_calls) <= self.fail_calls
            if failing:
                request = json.loads(body)
                dropped, request["Entries"] = request["Entries"][:1], request["Entries"][1:]
                body = json.dumps(request).encode()
        if dropped and not json.loads(body)["Entries"]:
            status, headers, data = 200, [("Content-Type", "application/x-amz-json-1.0")], b"{}"
        else:
            status, headers, data = forward(body)
        if dropped:
            answer = json.loads(data)
            answer.setdefault("Failed", []).extend(
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"} for e in dropped
            )
            data = json.dumps(answer).encode()
        return status, [(k, v) for k, v in headers if k.lower() != "x-amz-crc32"], data


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
