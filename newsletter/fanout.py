"""Sending at scale, as the AWS deployment runs it: the scheduled tick queues an issue's recipients in batches
(``enqueue_issue``), sender Lambdas each mail one batch (``deliver_batch``). Library code: the queue is a small
protocol (SQS in ``newsletter.aws.queue``), the Lambda handlers only parse events and call these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from newsletter import lifecycle, weekly
from newsletter.context import Context
from newsletter.deliver.campaign import CampaignResult
from newsletter.errors import NewsletterError
from newsletter.models import MailingList
from newsletter.sending import campaign, prepare
from newsletter.store.base import IssueStatus, Recipient


class BatchQueue(Protocol):
    def put(self, issue_id: str, list_id: str, recipients: Iterable[Recipient]) -> int:
        """Queue ``recipients`` (streamed) in numbered batches; returns how many batches were queued."""
        ...


@dataclass(frozen=True)
class Enqueued:
    issue_id: str
    status: IssueStatus
    batches: int  # queued by this call (0: the issue was already queued, sent or skipped)


def enqueue_issue(mailing_list: MailingList, day: date, ctx: Context, queue: BatchQueue) -> Enqueued:
    """The tick for one due list: the issue built and archived once (``lifecycle.prepare``), then — unless an
    earlier tick or run already took it — every active recipient queued, and the issue moved to *sending*."""
    prepared = prepare(mailing_list, day, ctx)
    if not prepared.fresh:
        return Enqueued(prepared.issue_id, prepared.status, 0)
    daily = weekly.daily_only(ctx, mailing_list.id)  # weekly readers get the week instead
    everyone = ctx.store.active_recipients(mailing_list.id)
    recipients = (r for r in everyone if daily(r.email)) if daily else everyone
    return _queued(ctx, queue, prepared.issue_id, mailing_list.id, recipients)


def enqueue_week(mailing_list: MailingList, day: date, ctx: Context, queue: BatchQueue) -> Enqueued | None:
    """The weekly part of the tick: when the issue of ``day`` goes out on the list's weekly day and the list has
    weekly readers, the week ending on ``day`` is built and archived once and its readers queued. None when
    there is no week to send at this tick. The senders mail it like any issue (``deliver_batch``)."""
    if not weekly.ends_week(mailing_list, day):
        return None
    readers = weekly.weekly_readers(ctx.store.list_preferences(mailing_list.id))
    if not readers:
        return None
    prepared = weekly.prepare_week(mailing_list, day, ctx)
    if not prepared.fresh:
        return Enqueued(prepared.issue_id, prepared.status, 0)
    recipients = (r for r in ctx.store.active_recipients(mailing_list.id) if r.email in readers)
    return _queued(ctx, queue, prepared.issue_id, mailing_list.id, recipients)


def _queued(ctx: Context, queue: BatchQueue, key: str, list_id: str, recipients: Iterable[Recipient]) -> Enqueued:
    batches = queue.put(key, list_id, recipients)
    status = lifecycle.start_sending(ctx.store, key, batches=batches)
    return Enqueued(key, status or IssueStatus.SENDING, batches)


def deliver_batch(
    ctx: Context,
    issue_id: str,
    list_id: str,
    recipients: Sequence[Recipient],
    *,
    number: int | None = None,
    share: int = 1,
) -> CampaignResult:
    """Mail one queued batch of the kept issue ``issue_id`` (ledger, rate, retries as any campaign). Those who
    unsubscribed, bounced or complained since the tick are skipped. When nobody in it is left deferred or
    ambiguous, the batch (``number``) is done, and the issue becomes *sent* with its last batch."""
    sendable = lifecycle.load(ctx.store, ctx.archive, issue_id)
    if sendable is None:
        raise NewsletterError(f"issue {issue_id} is not in the store", hint="was the store reset?")
    result = campaign(ctx, ctx.mailing_list(list_id), sendable, recipients=recipients, share=share)
    if number is not None and not result.deferred and not result.ambiguous:
        lifecycle.finish_batch(ctx.store, issue_id, number)
    return result
