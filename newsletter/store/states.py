"""The states of a member and the reasons for a suppression: plain enums, importable without pydantic (the
CLI offers them as choices before it loads anything else)."""

from __future__ import annotations

from enum import StrEnum


class MemberStatus(StrEnum):
    PENDING = "pending"  # subscribed, not yet confirmed (double opt-in): never mailed the digest
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class SuppressionReason(StrEnum):
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"
