"""A campaign run again over a settled ledger reads the ledger once and writes nothing: no claim and no read per
recipient (DynamoDB through moto, behind a proxy that counts the calls as they go over the wire)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.service import deliver
from newsletter.store.dynamodb import DynamoStore
from newsletter.subscriptions import Tokens
from tests.deliver_support import SECRET, mailing_list, seed, sendable
from tests.fakes.aws import RelayProxy

PER_ITEM = {"PutItem", "UpdateItem", "GetItem", "DeleteItem", "TransactWriteItems"}


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[RelayProxy]:
    counting = RelayProxy(moto_endpoint)
    yield counting
    counting.close()


def test_a_second_run_skips_settled_recipients_without_a_call_each(proxy: RelayProxy, tmp_path: Path) -> None:
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
