"""An issue's life, in one place: every status an issue record takes, and who moves it there.

::

    (none) ──prepare──► prepared ──start_sending──► sending ──settle / finish_batch──► sent
       └────prepare (an empty day the list skips)──► skipped

- ``prepare`` (``newsletter run``/``send`` and the scheduled tick) builds, archives and keeps the issue once:
  the issue record is created conditionally *with* the issue as it is sent (its body, compressed, in the
  record; a body too large for one store item goes beside the archive and the record holds its key), so the
  first writer wins, a retried run sends the very same bytes, and nothing a later step needs can be dropped.
- ``start_sending``: a campaign began (CLI), or every recipient batch is on the queue (AWS tick, with the
  number of batches).
- ``settle`` (CLI, after a campaign that left nobody deferred or ambiguous) and ``finish_batch`` (AWS, after
  each SQS batch, once every batch is done) → ``sent``, with the ledger's counts. Later runs and ticks leave a
  ``sent`` or ``skipped`` issue alone.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from newsletter.deliver.service import SendableIssue, issue_id
from newsletter.errors import StoreError
from newsletter.store.base import Cache, IssueRecord, IssueRecords, IssueStatus, LedgerState, SendLedger

__all__ = ["BodyStore", "IssueStatus", "Prepared", "finish_batch", "prepare", "settle", "start_sending"]

# A compressed body up to this size rides in the issue record (base64 in a DynamoDB item of at most 400 KB);
# larger ones go beside the archive. Typical days compress to 20–80 KB.
INLINE_LIMIT = 240_000
_LEGACY_KIND = "sent-issue"  # where issues were kept before they moved into the record


class LifecycleStore(IssueRecords, SendLedger, Cache, Protocol):
    """What an issue's life needs from the store (both backends provide it)."""


class BodyStore(Protocol):
    """Where a body too large for the record goes: the archive's storage (a folder, or S3)."""

    def keep_blob(self, key: str, data: bytes) -> None: ...

    def read_blob(self, key: str) -> bytes | None: ...


@dataclass(frozen=True)
class Prepared:
    issue_id: str
    sendable: SendableIssue | None  # None: an empty day the list skips
    status: IssueStatus
    built: bool = False  # built and archived by this call (else: the one kept in the store)

    @property
    def fresh(self) -> bool:
        """Nobody has started mailing it yet (no earlier tick enqueued it, no run started its campaign)."""
        return self.sendable is not None and self.status == IssueStatus.PREPARED


def prepare(
    store: LifecycleStore,
    bodies: BodyStore,
    list_id: str,
    day: date,
    build: Callable[[], SendableIssue | None],
    *,
    key: str | None = None,
) -> Prepared:
    """The issue of ``list_id`` for ``day``: the kept one (one store read), else ``build()`` kept with a new
    record (one conditional write; losing a race reads the winner's). ``build`` returns None for an empty day
    the list skips, which is recorded as ``skipped``. ``key``: another issue of that day than the daily one
    (the weekly issue, newsletter/weekly.py)."""
    key = key or issue_id(list_id, day)
    record = store.get_issue(key)
    if record is not None:
        sendable = _body(store, bodies, record)
        if sendable is not None or record.status == IssueStatus.SKIPPED:
            return Prepared(key, sendable, record.status)
        if record.status != IssueStatus.PREPARED:
            raise StoreError(f"issue {key} is {record.status} but its body is missing", hint="was the store reset?")
    sendable = build()
    now = datetime.now(UTC)
    fresh = IssueRecord(
        issue_id=key,
        list_id=list_id,
        date=day,
        status=IssueStatus.PREPARED if sendable else IssueStatus.SKIPPED,
        subject=sendable.rendered.subject if sendable else None,
        archive_key=sendable.view_url if sendable else None,
        created_at=now,
        updated_at=now,
    )
    if sendable is not None:
        fresh = _with_body(fresh, bodies, sendable)
    if record is not None:  # a record from before bodies lived in it, whose kept issue was lost: build it again
        store.update_issue(fresh)
        return Prepared(key, sendable, fresh.status, built=sendable is not None)
    if store.create_issue(fresh):
        return Prepared(key, sendable, fresh.status, built=sendable is not None)
    winner = store.get_issue(key)  # another runner created it first: theirs is the issue
    if winner is None:
        raise StoreError(f"issue {key} was created and is gone", hint="was the store reset?")
    return Prepared(key, _body(store, bodies, winner), winner.status)


def load(store: LifecycleStore, bodies: BodyStore, key: str) -> SendableIssue | None:
    """The kept issue ``key`` (what a sender Lambda mails), or None when there is none."""
    record = store.get_issue(key)
    return _body(store, bodies, record) if record is not None else None


def start_sending(store: LifecycleStore, key: str, *, batches: int | None = None) -> IssueStatus | None:
    """prepared → sending: a campaign starts, or (``batches``) every recipient batch is on the queue. On AWS
    the senders may already have finished every batch: then the issue is settled here (see ``finish_batch``)."""
    record = store.get_issue(key)
    if record is None or record.status != IssueStatus.PREPARED:
        return record.status if record else None
    stats = dict(record.stats)
    if batches is not None:
        stats["sqs_messages"] = batches
    sending = _moved(record, IssueStatus.SENDING, stats)
    store.update_issue(sending)
    if batches is not None and store.batches_done(key) >= batches:
        return _to_sent(store, sending)
    return IssueStatus.SENDING


def settle(store: LifecycleStore, key: str) -> IssueStatus | None:
    """→ sent, with the ledger's counts: every recipient is settled (sent, or refused for good). Called after a
    campaign that left nobody deferred or ambiguous; a later ``newsletter run`` or tick leaves the issue alone."""
    record = store.get_issue(key)
    if record is None or record.status in (IssueStatus.SENT, IssueStatus.SKIPPED):
        return record.status if record else None
    return _to_sent(store, record)


def finish_batch(store: LifecycleStore, key: str, batch: int) -> IssueStatus | None:
    """One SQS batch of ``key`` is done (nobody in it deferred or ambiguous). When every batch the tick queued
    is done, the issue is sent. Idempotent: SQS may deliver a batch twice."""
    done = store.finish_batch(key, batch)
    record = store.get_issue(key)
    if record is None:
        return None
    expected = record.stats.get("sqs_messages")
    if record.status == IssueStatus.SENDING and isinstance(expected, int) and done >= expected:
        return _to_sent(store, record)
    return record.status


# ------------------------------------------------------------------------------------------------ helpers


def _moved(record: IssueRecord, status: IssueStatus, stats: dict) -> IssueRecord:
    return record.model_copy(update={"status": status, "stats": stats, "updated_at": datetime.now(UTC)})


def _to_sent(store: LifecycleStore, record: IssueRecord) -> IssueStatus:
    counts = Counter(entry.state for entry in store.entries(record.issue_id))
    stats = {**record.stats, "sent": counts[LedgerState.SENT], "failed": counts[LedgerState.FAILED]}
    store.update_issue(_moved(record, IssueStatus.SENT, stats))
    return IssueStatus.SENT


def _with_body(record: IssueRecord, bodies: BodyStore, sendable: SendableIssue) -> IssueRecord:
    blob = zlib.compress(sendable.model_dump_json().encode("utf-8"), 6)
    if len(blob) <= INLINE_LIMIT:
        return record.model_copy(update={"body": base64.b64encode(blob).decode("ascii")})
    # Named by its content: two runners racing write the same key or two keys, and the record names the winner.
    blob_key = f"_sendable/{record.list_id}/{record.date}-{hashlib.sha256(blob).hexdigest()[:16]}.json.z"
    bodies.keep_blob(blob_key, blob)
    return record.model_copy(update={"body_key": blob_key})


def _body(store: LifecycleStore, bodies: BodyStore, record: IssueRecord) -> SendableIssue | None:
    if record.body:
        blob: bytes | None = base64.b64decode(record.body)
    elif record.body_key:
        blob = bodies.read_blob(record.body_key)
        if blob is None:
            raise StoreError(f"the body of issue {record.issue_id} ({record.body_key}) is missing from the archive")
    else:
        legacy = store.get(_LEGACY_KIND, record.issue_id)
        return SendableIssue.model_validate(legacy) if legacy else None
    return SendableIssue.model_validate_json(zlib.decompress(blob))
