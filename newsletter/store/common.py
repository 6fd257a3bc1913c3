"""Small helpers both backends share: one time format, one address hash, one clock type."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]

# Fixed width, so that stored times sort lexicographically in time order (DynamoDB sort keys, SQLite ORDER BY).
_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime(_FORMAT)


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def email_hash(email: str) -> str:
    """Key of a suppression: lets ``forget`` erase the address while still never mailing it again."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()
