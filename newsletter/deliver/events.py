"""SES bounce, complaint and delivery notifications, as SNS delivers them, turned into suppressions.

Accepted shapes: the SNS envelope (``{"Type": "Notification", "MessageId": …, "Message": "<SES JSON>"}``,
what an HTTP subscription receives and what a Lambda gets in ``Records[].Sns``), or the bare SES JSON
(``notificationType`` for identity notifications, ``eventType`` for configuration-set event publishing).
Permanent bounces and complaints suppress at once; transient bounces suppress after three in fourteen days.
Each notification is processed once, by its SNS MessageId (or the SES feedback id of a bare message).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from newsletter.errors import InputError
from newsletter.store.base import BounceEvents, Suppressions
from newsletter.subscriptions import normalise_email

SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=14)


class EventStore(Suppressions, BounceEvents, Protocol):
    """The part of the store that ingesting notifications needs."""


@dataclass
class Ingested:
    """What one notification did."""

    notification_id: str
    kind: str  # Bounce | Complaint | Delivery | …
    duplicate: bool = False
    suppressed: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # recipients that are no address, left alone
    soft_bounces: dict[str, int] = field(default_factory=dict)  # address → transient bounces in the window


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def _unwrap(document: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(SNS MessageId or None, the SES notification)."""
    if "Sns" in document and isinstance(document["Sns"], dict):  # one Lambda SNS record
        document = document["Sns"]
    if "Type" in document:
        if document["Type"] != "Notification":
            raise InputError(f"SNS message of type {document['Type']!r} is not a notification")
        try:
            inner = json.loads(document["Message"])
        except (KeyError, TypeError, json.JSONDecodeError) as err:
            raise InputError("the SNS notification's Message is not SES JSON") from err
        if not isinstance(inner, dict):
            raise InputError("the SNS notification's Message is not a JSON object")
        return str(document.get("MessageId") or "") or None, inner
    return None, document


def _addresses(items: Any, where: str, invalid: list[str]) -> list[str]:
    """The valid addresses of a recipients list, normalised as the store keys them (so that a suppression hits
    the member); anything else ("@", a line break, a name alone) goes to ``invalid`` and suppresses nothing."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise InputError(f"SES notification: {where} is not a list of recipients")
    out = []
    for item in items:
        address = item.get("emailAddress") if isinstance(item, dict) else None
        if not isinstance(address, str):
            invalid.append(repr(address)[:80])
            continue
        # SES reports addresses as they were written, sometimes "Name <a@b>".
        bare = address.rsplit("<", 1)[-1].removesuffix(">").strip() if address.rstrip().endswith(">") else address
        try:
            out.append(normalise_email(bare))
        except InputError:
            invalid.append(repr(address)[:80])
    return out


def ingest(document: dict[str, Any], store: EventStore) -> Ingested:
    """Apply one notification to the store; a notification seen before changes nothing."""
    sns_id, ses = _unwrap(document)
    kind = ses.get("notificationType") or ses.get("eventType")
    if not isinstance(kind, str):
        raise InputError("not an SES notification: no notificationType or eventType")
    detail = ses.get(kind[:1].lower() + kind[1:], {})
    if not isinstance(detail, dict):
        raise InputError(f"SES {kind} notification has no {kind.lower()} object")
    mail = ses.get("mail") or {}
    if not isinstance(mail, dict):
        raise InputError(f"SES {kind} notification: mail is not an object")
    feedback_id = detail.get("feedbackId")
    if feedback_id is not None and not isinstance(feedback_id, str):
        raise InputError(f"SES {kind} notification: feedbackId is not a string")
    notification_id = sns_id or feedback_id or f"{kind}:{mail.get('messageId', '')}:{detail.get('timestamp', '')}"
    result = Ingested(notification_id=notification_id, kind=kind)

    if kind == "Bounce" and detail.get("bounceType") == "Permanent":
        emails = _addresses(detail.get("bouncedRecipients"), "bouncedRecipients", result.invalid)
        # Suppressing is idempotent, so it happens before the notification is recorded: a crash in
        # between makes a retry suppress again, never lose the bounce.
        for email in emails:
            store.suppress(email, "bounced", f"ses:{detail.get('bounceSubType', 'General')}")
        result.duplicate = not store.first_time(notification_id)
        result.suppressed = emails
        return result
    if kind == "Complaint":
        emails = _addresses(detail.get("complainedRecipients"), "complainedRecipients", result.invalid)
        if detail.get("complaintFeedbackType") == "not-spam":
            emails = []  # the recipient told their provider this is *not* spam
        for email in emails:
            store.suppress(email, "complained", f"ses:{detail.get('complaintFeedbackType', 'abuse')}")
        result.duplicate = not store.first_time(notification_id)
        result.suppressed = emails
        return result

    if kind == "Bounce":  # Transient or Undetermined: count, suppress when they keep coming
        # Recorded before the notification is marked seen, like the cases above: a soft bounce is kept by
        # (address, time), so a retry after a crash in between counts it once, and never loses it.
        at = _parse_time(detail.get("timestamp"))
        for email in _addresses(detail.get("bouncedRecipients"), "bouncedRecipients", result.invalid):
            history = store.record_soft_bounce(email, at)
            recent = sum(1 for moment in history if at - SOFT_BOUNCE_WINDOW <= moment <= at)
            result.soft_bounces[email] = recent
            if recent >= SOFT_BOUNCE_LIMIT:
                store.suppress(email, "bounced", f"ses:{recent} transient bounces in 14 days")
                result.suppressed.append(email)
    result.duplicate = not store.first_time(notification_id)
    return result


@dataclass(frozen=True)
class Document:
    """One record of an input: a JSON object to ingest, or why it cannot be (``problem``)."""

    where: str  # "line 3", "record 2 of Records", "the document": for the report
    value: dict[str, Any] | None = None
    problem: str | None = None


def read_documents(text: str) -> Iterator[Document]:
    """One JSON document, a JSON array of them, a Lambda SNS event (``Records``), or JSON lines. A record that
    is not a JSON object is yielded with its problem, so that the records after it are still read."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
        lines: Iterable[str] = stripped.splitlines()
    except RecursionError:
        yield Document("the document", problem="JSON nested too deeply")
        return
    else:
        lines = ()
    if whole is not None:
        if isinstance(whole, list):
            yield from _objects(whole, "the JSON array")
        elif isinstance(whole, dict) and isinstance(whole.get("Records"), list):
            yield from _objects(whole["Records"], "Records")
        elif isinstance(whole, dict):
            yield Document("the document", whole)
        else:
            yield Document("the document", problem="expected a JSON object (an SNS or SES notification)")
        return
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            yield Document(f"line {number}", problem=f"not JSON: {err.msg} (one notification per line)")
            continue
        except RecursionError:
            yield Document(f"line {number}", problem="JSON nested too deeply")
            continue
        yield from _objects([value], f"line {number}")


def _objects(values: list[Any], where: str) -> Iterator[Document]:
    for number, value in enumerate(values, 1):
        place = where if where.startswith("line") else f"record {number} of {where}"
        if isinstance(value, dict):
            yield Document(place, value)
        else:
            yield Document(place, problem="expected a JSON object")
