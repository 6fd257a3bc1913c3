"""Recipient batches on SQS: the scheduled tick writes them, ``send_batch`` reads them.

One message carries one issue id and up to ``BATCH`` recipients (about 3 KB), ten messages go per
SendMessageBatch call. A message sent twice (a retried tick) is harmless: the send ledger lets each
(issue, recipient) through once.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from newsletter.errors import DeliveryError, InputError
from newsletter.store.base import Recipient

BATCH = 50  # recipients per SQS message
ENTRIES = 10  # messages per SendMessageBatch (the SQS maximum)
_VERSION = 1
ATTEMPTS = 5  # SendMessageBatch calls per group of messages before the tick gives up (it can be retried)
RETRY_BASE = 0.1  # seconds before the first re-send; doubles with each attempt
RETRY_CAP = 5.0


@dataclass(frozen=True)
class RecipientBatch:
    issue_id: str
    list_id: str
    recipients: list[Recipient]
    number: int | None = None  # the batch's place in the tick's sequence: the issue is sent when all are done

    def to_json(self) -> str:
        people = [[r.email, r.name] if r.name else [r.email] for r in self.recipients]
        data = {"v": _VERSION, "issue": self.issue_id, "list": self.list_id, "n": self.number, "to": people}
        return json.dumps(data)

    @classmethod
    def from_json(cls, body: str) -> RecipientBatch:
        try:
            data = json.loads(body)
            if data.get("v") != _VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            list_id = str(data["list"])
            recipients = [Recipient(email=p[0], name=p[1] if len(p) > 1 else None, list_id=list_id) for p in data["to"]]
            number = data.get("n")  # absent in batches queued before batches were numbered
            if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 0):
                raise ValueError(f"batch number {number!r}")
            return cls(str(data["issue"]), list_id, recipients, number)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
            raise InputError(f"not a recipient batch: {err}") from err


def backoff(attempt: int) -> float:
    """Seconds to wait before re-send ``attempt`` (1, 2, …): exponential, capped, with jitter (half of the
    step fixed, half random), so that SQS gets time to recover and ticks retrying at once spread out."""
    step = min(RETRY_CAP, RETRY_BASE * 2 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


def enqueue(
    sqs: Any,
    queue_url: str,
    issue_id: str,
    list_id: str,
    recipients: Iterable[Recipient],
    *,
    batch: int = BATCH,
) -> int:
    """Write ``recipients`` (streamed) as batches of ``batch``; returns the number of SQS messages sent.
    Entries SQS failed on its side are sent again after ``backoff``."""
    from botocore.exceptions import BotoCoreError, ClientError  # here, not at start-up: see newsletter.backends

    from newsletter.deliver.service import chunks  # the campaign's modules: only the tick enqueues

    sent = 0
    batches = (RecipientBatch(issue_id, list_id, chunk, n) for n, chunk in enumerate(chunks(recipients, batch)))
    for group in chunks(batches, ENTRIES):
        entries = {str(i): b.to_json() for i, b in enumerate(group)}
        for attempt in range(1, ATTEMPTS + 1):
            if attempt > 1:
                time.sleep(backoff(attempt - 1))
            try:
                answer = sqs.send_message_batch(
                    QueueUrl=queue_url, Entries=[{"Id": k, "MessageBody": v} for k, v in entries.items()]
                )
            except (ClientError, BotoCoreError) as err:
                raise DeliveryError(f"cannot enqueue recipient batches on {queue_url}: {err}") from err
            failed = answer.get("Failed", [])
            # Only entries SQS itself failed (SenderFault false) are worth retrying; ours are bugs.
            if any(f.get("SenderFault") for f in failed):
                raise DeliveryError(f"SQS refused a recipient batch: {failed[0].get('Message', failed[0])}")
            sent += len(entries) - len(failed)
            entries = {f["Id"]: entries[f["Id"]] for f in failed}
            if not entries:
                break
        else:
            raise DeliveryError(f"SQS kept failing {len(entries)} recipient batches", hint="the tick can be retried")
    return sent


class SqsQueue:
    """The tick's queue of recipient batches (``newsletter.fanout.BatchQueue``) on SQS."""

    def __init__(self, sqs: Any, queue_url: str, *, batch: int = BATCH) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.batch = batch

    def put(self, issue_id: str, list_id: str, recipients: Iterable[Recipient]) -> int:
        return enqueue(self.sqs, self.queue_url, issue_id, list_id, recipients, batch=self.batch)
