"""What both backends share: one time format, one address hash, one clock type, and the backend-neutral
parts of an import batch and of a person's export."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from newsletter.store.base import BatchOutcome, Suppression

Clock = Callable[[], datetime]

# The fields of a membership and of a send-ledger entry in a person's export, in this order.
MEMBERSHIP_FIELDS = ("list_id", "status", "source", "created_at", "updated_at")
LEDGER_FIELDS = ("issue_id", "state", "runner", "updated_at", "message_id", "reason")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    # Fixed width in UTC (2026-01-13T07:00:00.000000+00:00), so that stored times sort lexicographically in
    # time order (DynamoDB sort keys, SQLite ORDER BY). isoformat, not strftime: the send ledger writes three
    # per message.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def email_hash(email: str) -> str:
    """Key of a suppression: lets ``forget`` erase the address while still never mailing it again."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()


def first_names(rows: list[tuple[str, str | None]]) -> dict[str, str | None]:
    """Each address of an import batch once, with its name: the first row of an address wins, as in the report."""
    names: dict[str, str | None] = {}
    for email, name in rows:
        names.setdefault(email, name)
    return names


def sort_batch(rows: list[tuple[str, str | None]], present: set[str], suppressed: set[str]) -> BatchOutcome:
    """Every row of an import batch, in order, as present (already a member, or repeated in the batch),
    suppressed, or added."""
    outcome = BatchOutcome()
    seen: set[str] = set()
    for email, _ in rows:
        if email in present or email in seen:
            outcome.present.append(email)
        elif email in suppressed:
            outcome.suppressed.append(email)
        else:
            outcome.added.append(email)
        seen.add(email)
    return outcome


def person_export(
    email: str,
    *,
    profile: dict[str, Any] | None,
    memberships: list[dict[str, Any]],
    suppression: Suppression | None,
    consent_log: list[dict[str, Any]],
    soft_bounces: list[str],
    send_ledger: list[dict[str, Any]],
    preferences: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The shape of ``Store.person`` (a subject-access export), the same for every backend."""
    return {
        "email": email,
        "profile": profile,
        "memberships": memberships,
        "suppression": suppression.model_dump(mode="json") if suppression else None,
        "consent_log": consent_log,
        "soft_bounces": soft_bounces,
        "send_ledger": send_ledger,
        "preferences": preferences or {},  # list id → the reader's own choices
    }
