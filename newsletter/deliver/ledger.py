"""How a campaign reads the send ledger (who holds what, what is settled, what was left ambiguous) and how one of
its workers writes to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from newsletter.errors import ConflictError
from newsletter.store.base import LedgerEntry, LedgerMark, LedgerState, SendLedger


def lease_end(entry: LedgerEntry, lease_seconds: float) -> datetime:
    return entry.updated_at + timedelta(seconds=lease_seconds) + timedelta(milliseconds=50)


def in_flight(entry: LedgerEntry) -> bool:
    """SENDING with no reason: a runner is (or was, until its lease ran out) handing it over right now. SENDING
    with a reason: the hand-over ended without an answer, so nobody is working on it."""
    return entry.state == LedgerState.SENDING and not entry.reason


def scan_ledger(
    store: SendLedger, issue_id: str, lease_seconds: float
) -> tuple[dict[str, datetime], dict[str, LedgerEntry], set[str]]:
    """Entries another runner may still be working on (RESERVED, or SENDING within its lease: wait for the lease
    to run out), entries left ambiguous (SENDING past the lease: the runner died mid-send), and the settled ones
    (SENT, FAILED: final, so a re-run skips them without a claim and a read each)."""
    held: dict[str, datetime] = {}
    ambiguous: dict[str, LedgerEntry] = {}
    settled: set[str] = set()
    now = datetime.now(UTC)
    for entry in store.entries(issue_id):
        expires = lease_end(entry, lease_seconds)
        if entry.state == LedgerState.RESERVED or (in_flight(entry) and expires > now):
            held[entry.email] = expires
        elif entry.state == LedgerState.SENDING:
            ambiguous[entry.email] = entry
        else:
            settled.add(entry.email)
    return held, ambiguous, settled


class Marks:
    """One worker's writes to the ledger. A message's SENT mark waits for the worker's next write (the next
    message's SENDING mark, one message build later) and goes in the same transaction: one commit per message
    instead of two. Until then the entry says SENDING, as a crash between sending and marking always left it:
    reported as ambiguous, never resent silently. ``done`` hears "sent" (or "skipped": the entry was no longer
    this runner's) once the mark is written."""

    def __init__(self, store: SendLedger, issue_id: str, runner: str, done: Callable[[str], None]) -> None:
        self.store = store
        self.issue_id = issue_id
        self.runner = runner
        self.done = done
        self.held: LedgerMark | None = None

    def sent(self, email: str, message_id: str) -> None:
        self.held = LedgerMark(email, LedgerState.SENT, message_id)

    def write(self, email: str, state: LedgerState, *, reason: str | None = None) -> None:
        """This mark, after the one held; ConflictError when this runner no longer holds ``email``."""
        if email in self._write(LedgerMark(email, state, None, reason)):
            raise ConflictError(f"send ledger: {self.runner} does not hold {self.issue_id} → {email}")

    def flush(self) -> None:
        """The held SENT mark, now: before anything that may wait."""
        self._write()

    def _write(self, *marks: LedgerMark) -> set[str]:
        held, self.held = self.held, None
        batch = [held, *marks] if held is not None else list(marks)
        if not batch:
            return set()
        lost = self.store.mark_many(self.issue_id, self.runner, batch)
        if held is not None:
            self.done("skipped" if held.email in lost else "sent")
        return lost
