"""Glue between the pipeline and a campaign: the issue as it is sent (kept with its issue record by
``newsletter.lifecycle``, so that a resumed run sends byte-for-byte the same issue), the message factory, and
the send rate."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from pydantic import BaseModel

from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.deliver.campaign import (
    Campaign,
    CampaignOptions,
    CampaignResult,
    CampaignStore,
    Messages,
    Outcome,
)
from newsletter.deliver.message import MessageFactory, TokenMaker
from newsletter.deliver.status import dry_run
from newsletter.models import MailingList, RenderedIssue, Usage
from newsletter.store.base import Recipient, Recipients

# Links in outbox messages when no public endpoint is configured (make_sender requires one for real mail).
LOCAL_PUBLIC_URL = "http://localhost:8000"


class SendableIssue(BaseModel):
    """What every recipient of one issue gets (before personalisation), fixed at the first send."""

    issue_id: str
    rendered: RenderedIssue
    view_url: str
    usage: Usage | None = None  # what building it cost, and what the checks of the model's answers changed


def issue_id(list_id: str, day: object) -> str:
    return f"{list_id}/{day}"


def factory_for(
    mailing_list: MailingList, sendable: SendableIssue, *, settings: Settings, tokens: TokenMaker
) -> MessageFactory:
    return MessageFactory(
        sendable.rendered,
        mailing_list,
        tokens=tokens,
        public_url=settings.links_url(),
        view_url=sendable.view_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )


def options_for(
    settings: Settings, sender: Sender, *, dry_run: bool = False, resend_ambiguous: bool = False
) -> CampaignOptions:
    """Rate: NEWSLETTER_SEND_RATE when set, else what the provider says its ceiling is (SES), else none."""
    rate = settings.send_rate
    if rate is None and not dry_run:
        rate = sender.max_send_rate()
    return CampaignOptions(
        rate=rate,
        concurrency=settings.send_concurrency,
        lease_seconds=settings.send_lease_seconds,
        dry_run=dry_run,
        resend_ambiguous=resend_ambiguous,
    )


def deliver(
    mailing_list: MailingList,
    sendable: SendableIssue,
    *,
    settings: Settings,
    store: CampaignStore,
    sender: Sender,
    tokens: TokenMaker,
    recipients: Sequence[Recipient] | None = None,
    share: int = 1,
    dry_run: bool = False,
    resend_ambiguous: bool = False,
    progress: Callable[[Outcome], None] | None = None,
    messages: Messages | None = None,
    stop: threading.Event | None = None,
    who: Callable[[str], bool] | None = None,
) -> CampaignResult:
    """Send one stored issue to the list's active recipients, or to one batch of them (``recipients``, read
    earlier: each is checked again, and those no longer current count as skipped). ``messages``: where each
    reader's message comes from when readers chose differently (newsletter/segments.py), else every reader gets
    ``sendable``. ``share``: how many senders run at once on the account's rate (the AWS sender Lambdas).
    ``who``: which addresses this issue is for (daily or weekly readers, newsletter/weekly.py); the others are
    left alone, not claimed in the ledger."""
    factory = messages or factory_for(mailing_list, sendable, settings=settings, tokens=tokens)
    options = options_for(settings, sender, dry_run=dry_run, resend_ambiguous=resend_ambiguous)
    options = dataclasses.replace(options, stop=stop)  # ``stop``: see CampaignOptions
    if share > 1 and options.rate:
        options = dataclasses.replace(options, rate=options.rate / share)
    if recipients is None:
        everyone = current_recipients(store, mailing_list.id)
        return send_issue(
            sendable.issue_id,
            (r for r in everyone if who(r.email)) if who else everyone,
            store=store,
            sender=sender,
            factory=factory,
            options=options,
            progress=progress,
        )
    # One small batch out of many: reading the issue's whole ledger first would cost more than the batch.
    options = dataclasses.replace(options, scan_ledger=False)
    current = list(still_current(store, mailing_list.id, recipients))
    mine = [r for r in current if who(r.email)] if who else current
    result = send_issue(
        sendable.issue_id,
        iter(mine),
        store=store,
        sender=sender,
        factory=factory,
        options=options,
        progress=progress,
    )
    result.skipped += len(recipients) - len(mine)
    return result


def send_issue(
    issue_id: str,
    recipients: Iterator[Recipient],
    *,
    store: CampaignStore,
    sender: Sender,
    factory: Messages,
    options: CampaignOptions,
    progress: Callable[[Outcome], None] | None = None,
) -> CampaignResult:
    """Send ``factory``'s issue to ``recipients`` (streamed) through ``sender``, recorded in the ledger."""
    if options.dry_run:
        return dry_run(issue_id, recipients, store=store, factory=factory, progress=progress)
    return Campaign(issue_id, store, sender, factory, options, progress).run(recipients)


def current_recipients(store: Recipients, list_id: str, *, chunk: int = 100) -> Iterator[Recipient]:
    """The list's active recipients, each chunk checked again just before the campaign takes it.

    The campaign pulls recipients only as fast as it sends, so on a long send (100,000 at 14/s take two hours)
    an unsubscribe, bounce or complaint that arrives mid-campaign is honoured within one chunk, not after the
    whole list has gone out.
    """
    return still_current(store, list_id, store.active_recipients(list_id), chunk=chunk)


def still_current(
    store: Recipients, list_id: str, recipients: Iterable[Recipient], *, chunk: int = 100
) -> Iterator[Recipient]:
    """``recipients`` without those who stopped being active members or became suppressed since they were read
    (one batched ``still_active`` read per chunk): a recipient list is a snapshot, consent is not."""
    for group in chunks(recipients, chunk):
        still = store.still_active(list_id, [r.email for r in group])
        yield from (r for r in group if r.email in still)


T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
