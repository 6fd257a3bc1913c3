"""AWS Lambda entry points (serverless.yml): parse the event, call the library, format the answer.

- ``scheduled``: the EventBridge Scheduler tick. Every list due now gets its issue built and archived once
  (pipeline), then its active recipients are written to SQS in batches.
- ``send_batch``: the SQS consumer. Each message is one batch of recipients of one stored issue, sent through
  the campaign (ledger, rate, retries), or one confirmation mail queued by a subscribe request, sent at the
  same pace; only the records that must be retried are reported as failures.
- ``http``: API Gateway HTTP API (payload 2.0): subscribe, confirm, unsubscribe (RFC 8058 one-click too),
  preferences. Logic in ``newsletter.aws.web``.
- ``ses_events``: SES notifications delivered by SNS, into the same ingest code as ``newsletter events``.

Settings, secrets (SSM) and clients are made once per cold start and reused by later invocations.

Every function runs as its own Lambda, so each imports what it uses when first called: the module itself
loads nothing heavy, ``http`` never loads the campaign, ``send_batch`` never loads the pages
(bench/startup.py measures the import).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from newsletter.errors import InputError, NewsletterError

if TYPE_CHECKING:
    from newsletter.aws.runtime import Runtime

log = logging.getLogger("newsletter.aws")
log.setLevel(logging.INFO)


def _current() -> Runtime:
    from newsletter.aws.runtime import runtime

    return runtime(os.environ)


# ---------------------------------------------------------------------------------------------- scheduled


def _event_time(event: dict[str, Any]) -> datetime:
    """The moment the tick stands for: the event's own time (a retried event keeps it), else now."""
    for key in ("time", "scheduledTime", "scheduled_time"):
        value = event.get(key) if isinstance(event, dict) else None
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
            except ValueError:
                log.warning("ignoring unreadable %s %r in the schedule event", key, value)
    return datetime.now(UTC)


def scheduled(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    from newsletter import fanout
    from newsletter.schedule import due_lists

    rt = _current()
    now = _event_time(event)
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    for due in due_lists(rt.mailing_lists().values(), now):
        # The day's issue, and on the list's weekly day the week's (for its weekly readers): each on its own.
        for kind, enqueue in (("day", fanout.enqueue_issue), ("week", fanout.enqueue_week)):
            try:
                enqueued = enqueue(due.mailing_list, due.day, rt, rt.queue)
            except Exception as err:
                # One issue's trouble, foreseen or not, must not hold up the others; the tick fails at the end
                # so the scheduler retries it, and what already went out is not repeated (issue records, ledger).
                if isinstance(err, NewsletterError):
                    log.error("list %s, %s of %s: %s", due.mailing_list.id, kind, due.day, err.message)
                else:
                    log.exception("list %s, %s of %s: unexpected error", due.mailing_list.id, kind, due.day)
                failed.append(f"{due.mailing_list.id} ({kind})")
                continue
            if enqueued is not None:
                done.append({"issue": enqueued.issue_id, "status": str(enqueued.status), "messages": enqueued.batches})
    for line in done:
        log.info("tick %s", line)
    if failed:
        raise RuntimeError(f"the tick of {now:%Y-%m-%d %H:%M} UTC failed for: {', '.join(failed)}")
    return {"time": now.isoformat(), "issues": done}


# ---------------------------------------------------------------------------------------------- send_batch


def send_batch(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    from newsletter import fanout
    from newsletter.aws.queue import RecipientBatch
    from newsletter.deliver.mailer import Confirmation
    from newsletter.deliver.mailer import deliver as deliver_confirmation

    rt = _current()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        try:
            confirmation = Confirmation.from_json(record.get("body", ""))
            if confirmation is not None:  # queued by a subscribe request: sent at this sender's share of the rate
                deliver_confirmation(confirmation, rt.send_confirmation, rt.confirmation_pace)
                continue
            batch = RecipientBatch.from_json(record.get("body", ""))
            result = fanout.deliver_batch(
                rt,
                batch.issue_id,
                batch.list_id,
                batch.recipients,
                number=batch.number,
                share=rt.settings.sender_concurrency,  # the account's rate is shared by the senders running at once
            )
        except NewsletterError as err:
            log.error("SQS message %s: %s", message_id, err.message)
            failures.append({"itemIdentifier": message_id})
            continue
        except Exception:
            # A fault nobody foresaw stays with its own record: the other records of the event still count, and
            # this one comes back (then goes to the dead-letter queue) instead of failing the whole invocation.
            log.exception("SQS message %s: unexpected error", message_id)
            failures.append({"itemIdentifier": message_id})
            continue
        log.info(
            "issue %s: %d sent, %d skipped, %d failed, %d deferred, %d ambiguous",
            batch.issue_id,
            result.sent,
            result.skipped,
            result.failed,
            result.deferred,
            result.ambiguous,
        )
        if result.deferred:
            # Transient failures past the retry budget were released in the ledger: the whole message comes
            # back after the visibility timeout and only those recipients are claimable again.
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


# ---------------------------------------------------------------------------------------------- http


def http(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    from newsletter.aws import web

    return web.handle(_current(), event)


# ---------------------------------------------------------------------------------------------- ses_events


def ses_events(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    from newsletter.deliver.events import ingest

    rt = _current()
    suppressed: list[str] = []
    duplicates = 0
    for record in event.get("Records", []):
        try:
            result = ingest(record, rt.store)
        except InputError as err:
            # Not an SES notification (e.g. an SNS subscription confirmation): nothing to retry. Anything else
            # (the store unreachable) fails the invocation, so that the complaint or bounce is retried, not lost.
            log.warning("SNS message %s: %s", record.get("Sns", {}).get("MessageId"), err.message)
            continue
        suppressed += result.suppressed
        duplicates += result.duplicate
    log.info("SES events: %d suppressed, %d duplicates", len(suppressed), duplicates)
    return {"suppressed": len(suppressed), "duplicates": duplicates}
