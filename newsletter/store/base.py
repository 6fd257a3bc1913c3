"""The protocols the stages need from a store. Each is defined by the code that uses it and kept small,
so that a backend (SQLite, DynamoDB) implements a handful of methods, not a database API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel, Field, field_validator

from newsletter.models import ReaderPreferences
from newsletter.store.states import MemberStatus, SuppressionReason

__all__ = ["MemberStatus", "SuppressionReason"]  # defined in states.py, importable from here as ever


class Cache(Protocol):
    """Immutable JSON documents by (kind, key): commit details by SHA, analyses by (sha, model, prompt, lang).

    Values never change once written (a commit's contents never change), so there is no invalidation;
    a second ``put`` of the same key simply overwrites with an equal value.
    """

    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None: ...


# --- The contracts below are implemented by every backend (SQLite and DynamoDB). ----------------------
# Subscriber management (add, confirm, unsubscribe, import, export, forget …) lives in the store module
# that implements them; the delivery stage only needs what follows.


class Recipient(BaseModel):
    """An active member of a list who is not suppressed: someone we may mail today."""

    email: str
    name: str | None = None
    list_id: str


class Recipients(Protocol):
    def active_recipients(self, list_id: str) -> Iterator[Recipient]:
        """Active members of the list minus globally suppressed addresses, streamed (paged), in a
        stable order (by email), never all in memory at once."""
        ...

    def still_active(self, list_id: str, emails: Iterable[str]) -> set[str]:
        """Those of ``emails`` that are still active members of the list and not suppressed, looked up in
        one batch: a recipient list snapshotted earlier (an SQS batch) is checked again just before sending."""
        ...


class Suppressions(Protocol):
    def suppress(self, email: str, reason: str, source: str) -> None:
        """Globally suppress ``email`` (reason: bounced | complained | manual); wins over any list."""
        ...

    def is_suppressed(self, email: str) -> bool: ...


class LedgerState(StrEnum):
    RESERVED = "reserved"  # claimed by a runner, not yet handed to the provider: safe to retake after the lease
    SENDING = "sending"  # handed to the provider, no answer recorded: ambiguous if the runner died
    SENT = "sent"
    FAILED = "failed"  # permanently rejected, with a reason
    EMPTY = "empty"  # nothing today matched the reader's preferences: no mail, and not a failure


class LedgerEntry(BaseModel):
    issue_id: str
    email: str
    state: LedgerState
    runner: str
    updated_at: datetime
    message_id: str | None = None
    reason: str | None = None


class LedgerMark(NamedTuple):
    """One move of one entry, for ``SendLedger.mark_many``."""

    email: str
    state: LedgerState
    message_id: str | None = None
    reason: str | None = None


class SendLedger(Protocol):
    """One entry per (issue, recipient). Conditional writes make two runners never send to one recipient."""

    def claim(self, issue_id: str, email: str, runner: str, *, lease_seconds: float) -> bool:
        """Atomically take (issue, email) for ``runner``: true when there was no entry, or when the entry is
        RESERVED and its lease (updated_at + lease_seconds) has expired. Never takes SENDING, SENT, FAILED."""
        ...

    def mark(
        self,
        issue_id: str,
        email: str,
        runner: str,
        state: LedgerState,
        *,
        message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Move the entry to ``state``; raises ConflictError unless ``runner`` holds it."""
        ...

    def claim_many(self, issue_id: str, emails: Sequence[str], runner: str, *, lease_seconds: float) -> set[str]:
        """``claim`` for each of ``emails``, in one transaction where the store has them (a campaign claims its
        recipients a group at a time): those taken."""
        ...

    def mark_many(self, issue_id: str, runner: str, marks: Sequence[LedgerMark]) -> set[str]:
        """``mark`` for each of ``marks`` in order, in one transaction where the store has them: the addresses
        ``runner`` did not hold (their marks are not written; the others are)."""
        ...

    def release(self, issue_id: str, email: str, runner: str) -> None:
        """Delete a RESERVED entry held by ``runner`` (gave up on a transient failure: a later run retries)."""
        ...

    def entries(self, issue_id: str) -> Iterator[LedgerEntry]:
        """All entries of an issue, streamed."""
        ...

    def entry(self, issue_id: str, email: str) -> LedgerEntry | None:
        """The entry of (issue, email), read consistently: why a claim failed (settled, or held by whom)."""
        ...

    def reclaim(self, issue_id: str, email: str, runner: str, *, from_runner: str) -> bool:
        """Atomically move a SENDING entry held by ``from_runner`` (a runner that died mid-send) to RESERVED
        for ``runner``; false when the entry is in any other state or held by someone else. Used only when
        an operator asks to resend the ambiguous entries (``newsletter send --resend-ambiguous``)."""
        ...


class IssueStatus(StrEnum):
    """Where an issue is in its life; ``newsletter.lifecycle`` is the only module that moves it."""

    PREPARED = "prepared"  # built, archived and kept; nobody mailed yet
    SENDING = "sending"  # a campaign started (CLI), or every recipient batch is queued (AWS)
    SENT = "sent"  # every recipient settled: later runs and ticks leave it alone
    SKIPPED = "skipped"  # an empty day the list skips


class IssueRecord(BaseModel):
    """One issue of one list on one day: what was built, where it is archived, how sending went, and the issue
    as it is sent (``body``: compressed JSON, base64; or ``body_key``: where beside the archive it lies)."""

    issue_id: str  # f"{list_id}/{date}"
    list_id: str
    date: date
    status: IssueStatus = IssueStatus.PREPARED
    subject: str | None = None
    archive_key: str | None = None
    created_at: datetime
    updated_at: datetime
    stats: dict = Field(default_factory=dict)  # counts, usage and cost, html size, what was shed
    body: str | None = None
    body_key: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _built_is_prepared(cls, value: object) -> object:
        return IssueStatus.PREPARED if value == "built" else value  # records written before the enum


class IssueRecords(Protocol):
    def create_issue(self, record: IssueRecord) -> bool:
        """Insert if no record exists for ``record.issue_id`` (conditional); false when one does."""
        ...

    def get_issue(self, issue_id: str) -> IssueRecord | None: ...

    def update_issue(self, record: IssueRecord, *, expected: IssueStatus) -> bool:
        """Replace the record, conditionally: only while the stored one is still ``expected`` (one status
        moves to the next once, whoever races: a duplicated tick never writes *sending* over *sent*). False
        when another writer moved it first (or there is none); the caller reads it again."""
        ...

    def finish_batch(self, issue_id: str, batch: int) -> int:
        """Record that recipient batch number ``batch`` of the issue is done (idempotent: SQS may deliver a
        batch twice) and return how many distinct batches of it are done, read consistently."""
        ...

    def batches_done(self, issue_id: str) -> int:
        """How many distinct batches of the issue are done (consistent read)."""
        ...


class RateLimits(Protocol):
    """Conditional slots shared by every process using the store (Lambdas included)."""

    def take_slot(self, key: str, seconds: float) -> bool:
        """True, and the slot is taken, when ``key`` was last taken at least ``seconds`` ago (or never);
        false otherwise. Atomic: of two processes asking at once, one gets it. Keys hold no address."""
        ...


class BounceEvents(Protocol):
    """What ingesting SES notifications needs beyond suppression: idempotence and soft-bounce history."""

    def first_time(self, notification_id: str) -> bool:
        """Record ``notification_id`` (conditional insert); false when it was already processed."""
        ...

    def record_soft_bounce(self, email: str, at: datetime) -> list[datetime]:
        """Add a transient bounce and return every transient bounce on record for ``email``."""
        ...


# --- Subscriber management: what the subscriptions module and the CLI need. ---------------------------
# Addresses reaching the store are already normalised (subscriptions.normalise_email). Every change of a
# membership or a suppression appends a ConsentEvent (when, what, by which source): the consent record.


class Member(BaseModel):
    email: str
    list_id: str
    status: MemberStatus
    name: str | None = None
    source: str  # who or what made the last change: "cli", "import:file.csv", "web", "ses" …
    created_at: datetime
    updated_at: datetime


class Suppression(BaseModel):
    """Held under a hash of the address, so that it can outlive ``forget`` without keeping the address."""

    reason: SuppressionReason
    source: str
    at: datetime


class ConsentEvent(BaseModel):
    email: str
    list_id: str | None = None  # None for global events (suppression)
    action: str  # subscribed | confirmed | unsubscribed | removed | imported | added | suppressed | unsuppressed
    status: str | None = None  # the membership status after the change
    source: str
    at: datetime
    detail: str | None = None


class Transition(BaseModel):
    before: MemberStatus | None  # None: there was no membership
    after: MemberStatus | None
    changed: bool


class BatchOutcome(BaseModel):
    """One batch of an import: which addresses were added, already members (any status), or suppressed."""

    added: list[str] = Field(default_factory=list)
    present: list[str] = Field(default_factory=list)
    suppressed: list[str] = Field(default_factory=list)


class PreferenceStore(Protocol):
    """A reader's own choices per list (newsletter/preferences.py checks them). Only a member has them; they
    go with the membership (removed, exported and forgotten with it)."""

    def set_preferences(self, email: str, list_id: str, prefs: ReaderPreferences, *, source: str) -> bool:
        """Replace the member's preferences (the list's defaults when ``prefs`` is empty) and log a
        ``preferences`` ConsentEvent with what they are now; false when ``email`` is not a member."""
        ...

    def preferences(self, email: str, list_id: str) -> ReaderPreferences:
        """The member's choices; empty (the list's defaults) when none were made."""
        ...

    def list_preferences(self, list_id: str) -> Iterator[tuple[str, ReaderPreferences]]:
        """(email, preferences) of every member of the list who made a choice, streamed."""
        ...


class Subscribers(Protocol):
    def get_member(self, email: str, list_id: str) -> Member | None: ...

    def transition(
        self,
        email: str,
        list_id: str,
        to: MemberStatus,
        *,
        allowed_from: frozenset[MemberStatus | None],
        action: str,
        source: str,
        name: str | None = None,
        uniform: bool = False,
    ) -> Transition:
        """Move the membership to ``to`` when its current status (None: absent) is in ``allowed_from``;
        otherwise change nothing and return ``changed=False`` with the current status. Atomic against a
        concurrent change (compare-and-set on the status), and logged as a ConsentEvent when it changes.
        ``uniform``: a call that changes nothing makes the same round trips as one that does (a write its
        condition refuses), so that its duration tells nothing about the status (the public subscribe form)."""
        ...

    def remove_member(self, email: str, list_id: str, *, source: str) -> bool:
        """Delete the membership (the consent log keeps a ``removed`` event); false when there was none."""
        ...

    def add_members(
        self,
        rows: list[tuple[str, str | None]],
        list_id: str,
        *,
        status: MemberStatus,
        source: str,
        preferences: Mapping[str, ReaderPreferences] | None = None,
    ) -> BatchOutcome:
        """Add one batch of an import (up to ``roster.IMPORT_BATCH`` rows of (email, name)) as ``status``;
        existing members of any status are left alone (never re-subscribes someone who unsubscribed) and
        suppressed addresses are skipped. The people added get their ``preferences`` (by email) in the same
        writes, each logged as ``set_preferences`` logs it: an import with preference columns costs a batch,
        not a transaction per reader."""
        ...

    def members(self, list_id: str, status: MemberStatus | None = None) -> Iterator[Member]:
        """Members of the list, by email, streamed in pages."""
        ...

    def count_members(self, list_id: str) -> dict[MemberStatus, int]: ...

    def suppression(self, email: str) -> Suppression | None: ...

    def address(self, email_hash: str) -> str | None:
        """The address of the person held whose address hashes (``store.common.email_hash``) to ``email_hash``:
        what the opaque reference in a link stands for (newsletter/tokens.py). None when nobody is held."""
        ...

    def unsuppress(self, email: str, *, source: str) -> bool: ...

    def person(self, email: str) -> dict[str, Any]:
        """Everything held about one address (profile, memberships, suppression, consent log, bounces,
        send ledger), as JSON-ready data."""
        ...

    def erase_person(self, email: str) -> int:
        """Delete everything held about one address except a hashed suppression; returns items deleted."""
        ...

    def init(self) -> list[str]:
        """Create tables and indexes when missing (idempotent); returns what was created or checked."""
        ...
