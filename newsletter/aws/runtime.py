"""What the Lambda handlers share within one execution environment: settings (with the SSM secrets), the store,
senders, the archive and the SQS client, made once at cold start and reused by every invocation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from newsletter.archive import SiteArchive
from newsletter.aws.queue import RecipientBatch
from newsletter.aws.secrets import with_secrets
from newsletter.backends import Store, make_sender, open_archive, open_store
from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.deliver.campaign import CampaignResult, send_issue
from newsletter.deliver.service import SendableIssue, factory_for, issue_id, load_sendable, options_for
from newsletter.errors import ConfigError, NewsletterError
from newsletter.lists import load_list, load_lists
from newsletter.models import MailingList
from newsletter.store.base import IssueRecord
from newsletter.subscriptions import Tokens

_DONE = ("sending", "sent", "skipped")


@dataclass(frozen=True)
class Prepared:
    issue_id: str
    sendable: SendableIssue | None
    fresh: bool  # built (or rebuilt after a failed tick) by this call: its recipients still need enqueuing
    status: str


@dataclass
class Runtime:
    settings: Settings
    senders: dict[str, Sender] = field(default_factory=dict)

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings)

    @cached_property
    def archive(self) -> SiteArchive:
        return open_archive(self.settings)

    @cached_property
    def sqs(self) -> Any:
        import boto3  # only the tick needs it

        return boto3.client("sqs", region_name=self.settings.aws_region, endpoint_url=self.settings.aws_endpoint_url)

    @cached_property
    def tokens(self) -> Tokens:
        return Tokens(self.settings.require_secret())

    def queue_url(self) -> str:
        if not self.settings.send_queue_url:
            raise ConfigError("NEWSLETTER_SEND_QUEUE_URL is not set", hint="serverless.yml sets it to the send queue")
        return self.settings.send_queue_url

    def public_url(self) -> str:
        if not self.settings.public_url:
            raise ConfigError("NEWSLETTER_PUBLIC_URL is not set", hint="serverless.yml sets it to the HTTP API's URL")
        return self.settings.public_url

    def mailing_lists(self) -> dict[str, MailingList]:
        return load_lists(self.settings.lists_dir)

    def mailing_list(self, list_id: str) -> MailingList:
        return load_list(self.settings.lists_dir, list_id)

    def sender_for(self, mailing_list: MailingList) -> Sender:
        kind = mailing_list.delivery or self.settings.delivery
        if kind not in self.senders:
            self.senders[kind] = make_sender(self.settings, mailing_list.delivery)
        return self.senders[kind]

    # ------------------------------------------------------------------------------------------ the tick
    def prepare(self, mailing_list: MailingList, day: date) -> Prepared:
        """The issue of ``mailing_list`` for ``day``, built and archived once; ``fresh`` unless an earlier
        tick already enqueued (or skipped) it."""
        from newsletter.pipeline import build_sendable  # the pipeline pulls in every stage: only the tick needs it

        key = issue_id(mailing_list.id, day)
        record = self.store.get_issue(key)
        if record is not None and record.status in _DONE:
            return Prepared(key, load_sendable(self.store, key), False, record.status)
        sendable = build_sendable(mailing_list, day, settings=self.settings, store=self.store, archive=self.archive)
        now = datetime.now(UTC)
        fresh = IssueRecord(
            issue_id=key,
            list_id=mailing_list.id,
            date=day,
            status="built" if sendable else "skipped",
            subject=sendable.rendered.subject if sendable else None,
            archive_key=sendable.view_url if sendable else None,
            created_at=now,
            updated_at=now,
        )
        if not self.store.create_issue(fresh) and not sendable:
            self.store.update_issue(fresh)
        return Prepared(key, sendable, sendable is not None, fresh.status)

    def mark_enqueued(self, key: str, messages: int) -> None:
        record = self.store.get_issue(key)
        if record is None:
            return
        stats = {**record.stats, "sqs_messages": messages}
        self.store.update_issue(
            record.model_copy(update={"status": "sending", "stats": stats, "updated_at": datetime.now(UTC)})
        )

    # ------------------------------------------------------------------------------------------ a batch
    def send(self, batch: RecipientBatch) -> CampaignResult:
        sendable = load_sendable(self.store, batch.issue_id)
        if sendable is None:
            raise NewsletterError(f"issue {batch.issue_id} is not in the store", hint="was the store reset?")
        mailing_list = self.mailing_list(batch.list_id)
        sender = self.sender_for(mailing_list)
        factory = factory_for(mailing_list, sendable, settings=self.settings, tokens=self.tokens)
        options = options_for(self.settings, sender)
        # The account's rate is shared by every sender Lambda the queue runs at once.
        rate = options.rate / self.settings.sender_concurrency if options.rate else None
        options = dataclasses.replace(options, rate=rate, scan_ledger=False)
        return send_issue(
            batch.issue_id, iter(batch.recipients), store=self.store, sender=sender, factory=factory, options=options
        )


_CACHED: tuple[frozenset[tuple[str, str]], Runtime] | None = None


def runtime(env: Mapping[str, str]) -> Runtime:
    """The Runtime for this environment, made once (a Lambda's environment never changes between
    invocations; a test that changes it gets a new one)."""
    global _CACHED
    key = frozenset(env.items())
    if _CACHED is None or _CACHED[0] != key:
        _CACHED = (key, Runtime(Settings.from_env(with_secrets(env))))
    return _CACHED[1]
