"""Send one issue to one list: every active recipient exactly once, never faster than allowed.

Per recipient the send ledger moves: (none) → RESERVED (conditional claim) → SENDING → SENT | FAILED, or
back to RESERVED while a transient failure is retried, and is released when retries run out (a later run
picks the recipient up again). Whoever holds the claim is the only runner that may send, so a Lambda retry
or a second cron never sends twice. The one state nobody can resolve by looking is SENDING left behind by
a runner that died: the provider may or may not have accepted the message. Those are reported, and resent
only when the operator says so (``resend_ambiguous``).
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from newsletter.deliver.base import Sender
from newsletter.deliver.ledger import Marks, in_flight, lease_end, scan_ledger
from newsletter.deliver.memory import keep_message_memory
from newsletter.deliver.message import MessageFactory, wire_address
from newsletter.errors import (
    AmbiguousDeliveryError,
    ConflictError,
    DeliveryError,
    PermanentDeliveryError,
    StoreError,
    TransientDeliveryError,
)
from newsletter.models import MailingList
from newsletter.store.base import LedgerEntry, LedgerState, Recipient, Recipients, SendLedger

Outcome = str  # "sent" | "skipped" | "failed" | "deferred" | "ambiguous" | "empty"
GROUP = 32  # recipients per worker task: one claim transaction, one task hand-over


class CampaignStore(Recipients, SendLedger, Protocol):
    """The part of the store a campaign needs."""


class Messages(Protocol):
    """Where a campaign's messages come from: one issue's MessageFactory, or one per segment of readers
    (newsletter/segments.py). None: nothing today matches what this reader asked for."""

    @property
    def list(self) -> MailingList: ...

    def build_for(self, recipient: Recipient) -> bytes | None: ...


@dataclass(frozen=True)
class CampaignOptions:
    rate: float | None = None  # messages per second across all workers; None: no limit
    concurrency: int = 8
    lease_seconds: float = 120.0
    max_attempts: int = 8  # per recipient, for transient failures
    backoff_base: float = 0.2
    backoff_cap: float = 30.0
    resend_ambiguous: bool = False
    dry_run: bool = False
    # Read the issue's whole ledger first (to wait for leases held by others and to report ambiguous sends).
    # A sender of one small batch out of thousands (SQS) skips it: claim() alone still never sends twice.
    scan_ledger: bool = True
    # Set from outside to wind down (a service shutting down): messages in flight finish and are recorded, every
    # other claim is released, so a later run sends to exactly the recipients this one did not.
    stop: threading.Event | None = None


@dataclass
class CampaignResult:
    issue_id: str
    sent: int = 0
    skipped: int = 0  # settled already: sent, or failed for good (by this runner before, or another)
    failed: int = 0  # permanently rejected in this run
    deferred: int = 0  # transient failures past the retry budget, or still held by another runner: a later run
    ambiguous: int = 0  # handed over without a clear answer (lost reply, or a runner that died); see send-status
    empty: int = 0  # readers whose preferences left nothing today: no mail, recorded in the ledger
    segments: int = 0  # segments of readers with their own preferences (besides the list's own)
    rendered: int = 0  # segment issues rendered by this run (the others were rendered by an earlier one)
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    duration: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (email, reason), the first 100
    # Stopped from outside (options.stop) before every recipient was looked at: not settled, whatever the counts.
    interrupted: bool = False

    @property
    def rate(self) -> float:
        return self.sent / self.duration if self.duration > 0 else 0.0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class TokenBucket:
    """At most ``rate`` acquisitions per second, shared by all workers, with no burst: SES counts a send
    rate per second, and pacing evenly keeps every one-second window under it."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Campaign:
    def __init__(
        self,
        issue_id: str,
        store: CampaignStore,
        sender: Sender,
        factory: Messages,
        options: CampaignOptions,
        progress: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.issue_id = issue_id
        self.store = store
        self.sender = sender
        self.factory = factory
        self.options = options
        self.progress = progress
        self.runner = runner_id()
        self.bucket = TokenBucket(options.rate)
        self.result = CampaignResult(issue_id)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------------------------------- run
    def _halted(self) -> bool:
        return self._stop.is_set() or (self.options.stop is not None and self.options.stop.is_set())

    def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the campaign is halted (by an error or from outside)."""
        end = time.monotonic() + seconds
        while not self._halted() and (left := end - time.monotonic()) > 0:
            self._stop.wait(min(left, 0.25))

    def run(self, recipients: Iterator[Recipient]) -> CampaignResult:
        keep_message_memory()
        held, ambiguous, settled = (
            scan_ledger(self.store, self.issue_id, self.options.lease_seconds)
            if self.options.scan_ledger
            else ({}, {}, set())
        )
        deferred: list[tuple[datetime, Recipient]] = []

        def fresh() -> Iterator[Recipient]:
            for recipient in recipients:
                if recipient.email in settled:  # sent or failed for good: the scan said so, no query each
                    self._done("skipped")
                elif recipient.email in held:
                    # Reserved by another runner (alive, or dead with a lease still running): retry at expiry.
                    deferred.append((held[recipient.email], recipient))
                else:
                    yield recipient

        slots = threading.BoundedSemaphore(self.options.concurrency * 2)  # recipients in memory stay bounded
        with ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="send") as pool:
            self._feed(pool, slots, fresh(), ambiguous)
            if deferred and not self._halted():
                # Wait until every lease seen has run out, then look again: what the other runner finished is
                # skipped by the claim, what it left RESERVED is taken, and what it left SENDING is ambiguous.
                wait = (max(expires for expires, _ in deferred) - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    self._pause(wait)
                _, ambiguous, _ = scan_ledger(self.store, self.issue_id, self.options.lease_seconds)
            self._feed(pool, slots, (recipient for _, recipient in deferred), ambiguous)
        self.result.duration = time.monotonic() - self.result.started
        self.result.interrupted = self.options.stop is not None and self.options.stop.is_set()
        if self._error is not None:
            raise self._error
        return self.result

    def _feed(
        self,
        pool: ThreadPoolExecutor,
        slots: threading.BoundedSemaphore,
        recipients: Iterator[Recipient],
        ambiguous: dict[str, LedgerEntry],
    ) -> None:
        """Hand ``recipients`` to the workers a group at a time: one task and one claim transaction per group."""
        size = self._group_size()
        group: list[tuple[Recipient, LedgerEntry | None]] = []
        for recipient in recipients:
            if self._halted():
                return
            entry = ambiguous.get(recipient.email)
            if entry is not None and not self.options.resend_ambiguous:
                self._done("ambiguous")
                continue
            group.append((recipient, entry))
            if len(group) == size:
                self._submit(pool, slots, group)
                group = []
        if group and not self._halted():
            self._submit(pool, slots, group)

    def _group_size(self) -> int:
        """Recipients per task. A group is claimed before its first message goes out, so under a send rate it
        shrinks until the groups queued (two per worker) go out within a quarter of a lease."""
        if not self.options.rate:
            return GROUP
        ahead = self.options.rate * self.options.lease_seconds / 4
        return max(1, min(GROUP, int(ahead / (2 * self.options.concurrency))))

    def _submit(
        self,
        pool: ThreadPoolExecutor,
        slots: threading.BoundedSemaphore,
        group: list[tuple[Recipient, LedgerEntry | None]],
    ) -> None:
        slots.acquire()
        future = pool.submit(self._deliver_group, group)
        future.add_done_callback(lambda f: self._finished(f, slots))

    def _finished(self, future: Future[None], slots: threading.BoundedSemaphore) -> None:
        slots.release()
        err = future.exception()
        if err is not None:
            with self._lock:
                self._error = self._error or err
            self._stop.set()

    def _done(self, outcome: Outcome) -> None:
        with self._lock:
            self.result.count(outcome)
        if self.progress is not None:
            self.progress(outcome)

    # ------------------------------------------------------------------------------------- one recipient
    def _deliver_group(self, group: list[tuple[Recipient, LedgerEntry | None]]) -> None:
        """One worker's task: the group's new recipients claimed in one go and sent to in turn, then the others
        (held by another runner, or ambiguous entries to resend) claimed one at a time, as they may wait."""
        new = [recipient.email for recipient, entry in group if entry is None]
        taken = self.store.claim_many(self.issue_id, new, self.runner, lease_seconds=self.options.lease_seconds)
        order = sorted(group, key=lambda item: item[0].email not in taken)
        marks = Marks(self.store, self.issue_id, self.runner, self._done)
        reached = 0
        try:
            for recipient, entry in order:
                if self._halted():
                    break
                reached += 1
                if (outcome := self._deliver(recipient, entry, marks, recipient.email in taken)) is not None:
                    self._done(outcome)
            marks.flush()
        except BaseException:
            with contextlib.suppress(StoreError):
                marks.flush()  # what went out is recorded as sent, whatever stopped the rest
            raise
        finally:
            for recipient, _ in order[reached:]:  # claimed, never reached: for a later run to take at once
                if recipient.email in taken:
                    self.store.release(self.issue_id, recipient.email, self.runner)
                self._done("deferred")

    def _deliver(
        self, recipient: Recipient, ambiguous: LedgerEntry | None, marks: Marks, claimed: bool
    ) -> Outcome | None:
        """What became of the recipient; None: sent, counted once its mark is written (``Marks``)."""
        email = recipient.email
        if not claimed:
            marks.flush()  # the claim may wait
            refused = self._claim(email, ambiguous)
            if refused is not None:
                return refused
        try:
            try:
                raw, rcpt = self._message(recipient)
            except PermanentDeliveryError as err:
                return self._failed(marks, email, err.message)
            if raw is None:
                marks.write(email, LedgerState.EMPTY)
                return "empty"
            for attempt in range(1, self.options.max_attempts + 1):
                if self._halted():
                    break
                if self.bucket.interval:
                    marks.flush()  # no SENT mark waits for a paced slot
                self.bucket.acquire()
                marks.write(email, LedgerState.SENDING)
                try:
                    message_id = self.sender.send(raw, sender=self.factory.list.sender, recipient=rcpt)
                except AmbiguousDeliveryError as err:
                    # Handed over, answer lost: the reader may have it. Left SENDING with the reason, which a later
                    # run reports as ambiguous at once (no lease to wait for) and resends only when told to.
                    marks.write(email, LedgerState.SENDING, reason=err.message)
                    return "ambiguous"
                except TransientDeliveryError:
                    marks.write(email, LedgerState.RESERVED)
                    with self._lock:
                        self.result.retries += 1
                    if attempt < self.options.max_attempts:
                        self._pause(self._backoff(attempt))
                    continue
                except PermanentDeliveryError as err:
                    return self._failed(marks, email, err.message)
                except DeliveryError:
                    # Account-wide trouble (credentials, unverified sender): nothing was accepted, stop here.
                    marks.write(email, LedgerState.RESERVED)
                    self.store.release(self.issue_id, email, self.runner)
                    raise
                marks.sent(email, message_id)
                return None
        except ConflictError:
            return "skipped"  # our lease ran out during a long backoff and another runner took over
        self.store.release(self.issue_id, email, self.runner)
        return "deferred"

    def _message(self, recipient: Recipient) -> tuple[bytes | None, str]:
        """The raw message (None: nothing for this reader today) and the envelope recipient. Whatever goes wrong
        building one recipient's message (an address no encoding can write, a name that breaks a header) fails
        that recipient alone, for good."""
        try:
            return self.factory.build_for(recipient), wire_address(recipient.email)
        except PermanentDeliveryError:
            raise
        except (ValueError, LookupError, TypeError) as err:  # UnicodeError is a ValueError
            raise PermanentDeliveryError(f"the message to {recipient.email} cannot be built: {err}") from err

    def _failed(self, marks: Marks, email: str, reason: str) -> Outcome:
        marks.write(email, LedgerState.FAILED, reason=reason)
        with self._lock:
            if len(self.result.failures) < 100:
                self.result.failures.append((email, reason))
        return "failed"

    def _take(self, email: str) -> bool:
        return self.store.claim(self.issue_id, email, self.runner, lease_seconds=self.options.lease_seconds)

    def _claim(self, email: str, ambiguous: LedgerEntry | None) -> Outcome | None:
        """None once this runner holds (issue, email); else what became of the recipient. A refused claim is
        looked into, because "skipped" must mean settled: a recipient held by a live runner that then gives it
        up (transient errors) would otherwise be mailed by nobody while both runs report success. A full run
        waits for such a holder as long as it keeps renewing its lease; an SQS batch (no ledger scan) defers at
        once, so that its message comes back later."""
        if ambiguous is not None:
            if self.store.reclaim(self.issue_id, email, self.runner, from_runner=ambiguous.runner):
                return None
        elif self._take(email):
            return None
        seen: datetime | None = None
        deadline, delay = time.monotonic() + self.options.lease_seconds + 0.05, 0.0
        while not self._halted():
            entry = self.store.entry(self.issue_id, email)
            if entry is None or entry.state == LedgerState.RESERVED:
                if self._take(email):  # released by its holder, or its lease ran out
                    return None
            elif entry.state == LedgerState.SENDING:
                if not in_flight(entry) or lease_end(entry, self.options.lease_seconds) <= datetime.now(UTC):
                    return "ambiguous"
            else:
                return "skipped"  # SENT or FAILED: settled
            if not self.options.scan_ledger:
                return "deferred"
            if entry is not None and entry.updated_at != seen:  # the holder is still at work: keep waiting
                seen, deadline = entry.updated_at, time.monotonic() + self.options.lease_seconds + 0.05
            if time.monotonic() >= deadline:
                return "deferred"
            delay = min(max(delay * 2, 0.05), 1.0)
            self._pause(delay)
        return "deferred"

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.options.backoff_cap, self.options.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def send_test(factory: MessageFactory, sender: Sender, email: str) -> str:
    """One message to one address (``send --to``), outside the ledger."""
    return sender.send(factory.build(email), sender=factory.list.sender, recipient=wire_address(email))
