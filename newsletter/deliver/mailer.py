"""Confirmation mails, sent after the answer and paced with the send rate.

A subscribe request builds its confirmation in the request (the same work whatever the address's state: see
``subscriptions.request_subscription``) and hands it here; it is sent later, so that neither the time a request
takes nor its answer depends on whether a mail went out, and at most NEWSLETTER_SEND_RATE per second, because
a burst of subscribe requests draws on the same provider quota as the digest.

- ``PacedMailer``: a thread of this process (``newsletter serve``, the local adapter, the CLI).
- ``SqsConfirmations``: the AWS send queue; the ``send_batch`` Lambdas, which pace everything they send to
  their share of the rate, send it (``newsletter.aws.handlers``).

A confirmation that must not go out (suppressed, already a member, asked again within the window) is built and
handed over all the same, marked ``go=False``, and dropped by the sending side without using the rate.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from newsletter.errors import DeliveryError, InputError

log = logging.getLogger("newsletter.deliver.mailer")

_KIND = "confirmation"
_VERSION = 1


@dataclass(frozen=True)
class Confirmation:
    list_id: str
    sender: str  # the envelope sender (the list's From)
    recipient: str  # the address's wire form
    raw: bytes
    go: bool = True  # False: built so that every request does the same work, never sent

    def to_json(self) -> str:
        data = {
            "v": _VERSION,
            "kind": _KIND,
            "list": self.list_id,
            "from": self.sender,
            "to": self.recipient,
            "raw": base64.b64encode(self.raw).decode("ascii"),
            "go": self.go,
        }
        return json.dumps(data)

    @classmethod
    def from_json(cls, body: str) -> Confirmation | None:
        """The confirmation a queue message carries, or None when it carries something else."""
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") != _KIND:
            return None
        try:
            return cls(
                str(data["list"]), str(data["from"]), str(data["to"]), base64.b64decode(data["raw"]), bool(data["go"])
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"not a confirmation: {err}") from err


class ConfirmationQueue(Protocol):
    def put(self, confirmation: Confirmation) -> None: ...

    def join(self) -> None:
        """Until what was handed over so far has left this process (sent, dropped, or queued on SQS)."""
        ...

    def close(self) -> None: ...


Send = Callable[[Confirmation], None]  # hands one confirmation to the list's sender (DeliveryError on failure)


class Pace:
    """At most ``rate`` calls of ``wait`` return per second, across threads (None: no limit)."""

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def deliver(confirmation: Confirmation, send: Send, pace: Pace) -> bool:
    """Send one confirmation at the pace; true when it went out. A delivery error is logged: the person who
    asked has long had their answer, the same as everyone's."""
    if not confirmation.go:
        return False
    pace.wait()
    try:
        send(confirmation)
    except DeliveryError as err:
        log.warning("confirmation for %s not sent (%s): %s", confirmation.recipient, type(err).__name__, err.message)
        return False
    return True


class PacedMailer:
    """Confirmations sent by one thread of this process, in the order they came, at the pace."""

    def __init__(self, send: Send, pace: Pace) -> None:
        self._send = send
        self._pace = pace
        self._queue: queue.Queue[Confirmation | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.handed = 0  # confirmations handed over, to go or not
        self.sent = 0

    def put(self, confirmation: Confirmation) -> None:
        with self._lock:
            self.handed += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="confirmations", daemon=True)
                self._thread.start()
        self._queue.put(confirmation)

    def join(self) -> None:
        """Until every confirmation handed over so far is sent or dropped."""
        self._queue.join()

    def close(self, timeout: float = 30.0) -> None:
        """Send what is waiting (within ``timeout``), then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if deliver(item, self._send, self._pace):
                    self.sent += 1
            except Exception:  # a fault nobody foresaw must not end the thread that sends everyone's mail
                log.exception("confirmation for %s: unexpected error", item.recipient if item else "?")
            finally:
                self._queue.task_done()


class SqsConfirmations:
    """Confirmations as messages on the send queue (the ``send_batch`` Lambdas send them)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def put(self, confirmation: Confirmation) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=confirmation.to_json())
        except (ClientError, BotoCoreError) as err:
            raise DeliveryError(f"cannot queue a confirmation on {self.queue_url}: {err}") from err

    def join(self) -> None:
        return None

    def close(self) -> None:
        return None
