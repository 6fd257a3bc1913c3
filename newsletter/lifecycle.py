"""An issue's life, in one place: every status an issue record takes, and who moves it there.

::

    (none) ──prepare──► prepared ──start_sending──► sending ──settle / finish_batch──► sent
       └────prepare (an empty day the list skips)──► skipped

- ``prepare`` (``newsletter run``/``send`` and the scheduled tick) builds, archives and keeps the issue once:
  the issue record is created conditionally *with* the issue as it is sent (its body, compressed, in the
  record; a body too large for one store item goes to the archive's private storage, outside the public site,
  and the record holds its key), so the first writer wins, a retried run sends the very same bytes, and nothing
  a later step needs can be dropped. The issue's parts (a segment's render, a language's base issue) are kept
  the same way (``keep_part``), as records of their own.
- ``start_sending``: a campaign began (CLI), or every recipient batch is on the queue (AWS tick, with the
  number of batches).
- ``settle`` (CLI, after a campaign that left nobody deferred or ambiguous) and ``finish_batch`` (AWS, after
  each SQS batch, once every batch is done) → ``sent``, with the ledger's counts. Later runs and ticks leave a
  ``sent`` or ``skipped`` issue alone.

Every move is a conditional write (``update_issue(…, expected=)``): it happens only while the record still has
the status it was read with, so two runners (a duplicated tick, the tick and the last sender batch) never move
an issue back — a stale *sending* can never be written over *sent*.
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

__all__ = [
    "BodyStore",
    "IssueStatus",
    "Prepared",
    "finish_batch",
    "keep_part",
    "load_part",
    "prepare",
    "settle",
    "start_sending",
]

# A compressed body up to this size rides in the issue record (base64 in a DynamoDB item of at most 400 KB);
# larger ones go beside the archive. Typical days compress to 20–80 KB.
INLINE_LIMIT = 240_000
_LEGACY_KIND = "sent-issue"  # where issues were kept before they moved into the record
_RACES = 5  # a record moves at most prepared → sending → sent: a few re-reads always settle it


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
) -> Prepared:
    """The issue of ``list_id`` for ``day``: the kept one (one store read), else ``build()`` kept with a new
    record (one conditional write; losing a race reads the winner's). ``build`` returns None for an empty day
    the list skips, which is recorded as ``skipped``."""
    key = issue_id(list_id, day)
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
        fresh = _with_body(fresh, bodies, sendable.model_dump_json().encode("utf-8"))
    if record is not None:  # a record from before bodies lived in it, whose kept issue was lost: build it again
        if store.update_issue(fresh, expected=IssueStatus.PREPARED):
            return Prepared(key, sendable, fresh.status, built=sendable is not None)
    elif store.create_issue(fresh):
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
    if not store.update_issue(sending, expected=IssueStatus.PREPARED):
        moved = store.get_issue(key)  # another runner started it first (and may have finished it)
        return moved.status if moved else None
    if batches is not None and store.batches_done(key) >= batches:
        return _to_sent(store, key)
    return IssueStatus.SENDING


def settle(store: LifecycleStore, key: str) -> IssueStatus | None:
    """→ sent, with the ledger's counts: every recipient is settled (sent, or refused for good). Called after a
    campaign that left nobody deferred or ambiguous; a later ``newsletter run`` or tick leaves the issue alone."""
    return _to_sent(store, key)


def finish_batch(store: LifecycleStore, key: str, batch: int) -> IssueStatus | None:
    """One SQS batch of ``key`` is done (nobody in it deferred or ambiguous). When every batch the tick queued
    is done, the issue is sent. Idempotent: SQS may deliver a batch twice."""
    done = store.finish_batch(key, batch)
    record = store.get_issue(key)
    if record is None:
        return None
    expected = record.stats.get("sqs_messages")
    if record.status == IssueStatus.SENDING and isinstance(expected, int) and done >= expected:
        return _to_sent(store, key)
    return record.status


# ------------------------------------------------------------------------------------------------ helpers


def _moved(record: IssueRecord, status: IssueStatus, stats: dict) -> IssueRecord:
    return record.model_copy(update={"status": status, "stats": stats, "updated_at": datetime.now(UTC)})


def _to_sent(store: LifecycleStore, key: str) -> IssueStatus | None:
    """→ sent with the ledger's counts, from whatever the record says now (prepared or sending); a record that
    another writer moves in between is read again, so that its move (and its counts) are kept."""
    for _ in range(_RACES):
        record = store.get_issue(key)
        if record is None or record.status in (IssueStatus.SENT, IssueStatus.SKIPPED):
            return record.status if record else None
        counts = Counter(entry.state for entry in store.entries(key))
        stats = {**record.stats, "sent": counts[LedgerState.SENT], "failed": counts[LedgerState.FAILED]}
        if store.update_issue(_moved(record, IssueStatus.SENT, stats), expected=record.status):
            return IssueStatus.SENT
    raise StoreError(f"issue {key} kept changing while it was being settled", hint="run it again")


def _with_body(record: IssueRecord, bodies: BodyStore, data: bytes) -> IssueRecord:
    blob = zlib.compress(data, 6)
    if len(blob) <= INLINE_LIMIT:
        return record.model_copy(update={"body": base64.b64encode(blob).decode("ascii")})
    # Named by its content: two runners racing write the same key or two keys, and the record names the winner.
    blob_key = f"sendable/{record.list_id}/{record.date}-{hashlib.sha256(blob).hexdigest()[:16]}.json.z"
    bodies.keep_blob(blob_key, blob)
    return record.model_copy(update={"body_key": blob_key})


def _blob(bodies: BodyStore, record: IssueRecord) -> bytes | None:
    """The record's body (JSON), from the record or the private storage; None when it has none."""
    if record.body:
        return zlib.decompress(base64.b64decode(record.body))
    if record.body_key:
        blob = bodies.read_blob(record.body_key)
        if blob is None:
            raise StoreError(f"the body of {record.issue_id} ({record.body_key}) is missing from the archive")
        return zlib.decompress(blob)
    return None


def _body(store: LifecycleStore, bodies: BodyStore, record: IssueRecord) -> SendableIssue | None:
    data = _blob(bodies, record)
    if data is None:
        legacy = store.get(_LEGACY_KIND, record.issue_id)
        return SendableIssue.model_validate(legacy) if legacy else None
    return SendableIssue.model_validate_json(data)


# ------------------------------------------------------------------------------------------ an issue's parts


def keep_part(store: LifecycleStore, bodies: BodyStore, key: str, list_id: str, day: date, data: bytes) -> bytes:
    """Keep ``data`` (JSON: a segment's render of the issue, a language's base issue) under ``key`` the way the
    issue itself is kept — a record created conditionally with the body in it, or beside it in the private
    storage when too large — so that nothing a later batch or run needs can be dropped. The first writer wins:
    the kept bytes are returned (a resumed run sends what the first one rendered)."""
    now = datetime.now(UTC)
    record = IssueRecord(issue_id=key, list_id=list_id, date=day, created_at=now, updated_at=now)
    if store.create_issue(_with_body(record, bodies, data)):
        return data
    kept = load_part(store, bodies, key)
    if kept is None:
        raise StoreError(f"{key} was kept and is gone", hint="was the store reset?")
    return kept


def load_part(store: LifecycleStore, bodies: BodyStore, key: str) -> bytes | None:
    """What ``keep_part`` kept under ``key``, or None."""
    record = store.get_issue(key)
    return _blob(bodies, record) if record is not None else None
