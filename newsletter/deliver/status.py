"""What the send ledger says about an issue, without sending: a dry run of a campaign, and its status."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from newsletter.deliver.campaign import CampaignResult, CampaignStore, Messages, Outcome
from newsletter.errors import PermanentDeliveryError
from newsletter.store.base import LedgerEntry, LedgerState, Recipient


def dry_run(
    issue_id: str,
    recipients: Iterator[Recipient],
    *,
    store: CampaignStore,
    factory: Messages,
    progress: Callable[[Outcome], None] | None = None,
) -> CampaignResult:
    """What a real run would do, without sending or writing: each message is still built (and so checked)."""
    done = {e.email: e.state for e in store.entries(issue_id)}
    result = CampaignResult(issue_id)
    for recipient in recipients:
        state = done.get(recipient.email)
        if state is None or state == LedgerState.RESERVED:
            try:
                outcome = "sent" if factory.build_for(recipient) is not None else "empty"
            except (PermanentDeliveryError, ValueError, LookupError, TypeError) as err:
                outcome = "failed"
                if len(result.failures) < 100:
                    result.failures.append((recipient.email, getattr(err, "message", str(err))))
        else:
            outcome = "ambiguous" if state == LedgerState.SENDING else "skipped"
        result.count(outcome)
        if progress is not None:
            progress(outcome)
    result.duration = time.monotonic() - result.started
    return result


@dataclass
class SendStatus:
    issue_id: str
    counts: dict[str, int]  # ledger state → entries
    pending: int  # active recipients with no ledger entry yet
    ambiguous: list[LedgerEntry]  # SENDING: handed to the provider, outcome unknown
    failed: list[LedgerEntry]


def send_status(issue_id: str, list_id: str, store: CampaignStore, *, limit: int = 50) -> SendStatus:
    counts = {state.value: 0 for state in LedgerState}
    seen: set[str] = set()
    ambiguous: list[LedgerEntry] = []
    failed: list[LedgerEntry] = []
    for entry in store.entries(issue_id):
        counts[entry.state.value] += 1
        seen.add(entry.email)
        if entry.state == LedgerState.SENDING and len(ambiguous) < limit:
            ambiguous.append(entry)
        elif entry.state == LedgerState.FAILED and len(failed) < limit:
            failed.append(entry)
    pending = sum(1 for r in store.active_recipients(list_id) if r.email not in seen)
    return SendStatus(issue_id, counts, pending, ambiguous, failed)
