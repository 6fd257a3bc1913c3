"""What the Lambda handlers share within one execution environment: a Context (settings with the SSM
secrets, the store, senders, the archive, tokens, the lists) plus the SQS client, made once at cold start and
reused by every invocation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from newsletter import lifecycle
from newsletter.aws.queue import RecipientBatch
from newsletter.aws.secrets import with_secrets
from newsletter.config import Settings
from newsletter.context import Context
from newsletter.deliver.campaign import CampaignResult, send_issue
from newsletter.deliver.service import factory_for, options_for, still_current
from newsletter.errors import ConfigError, NewsletterError
from newsletter.models import MailingList
from newsletter.store.base import IssueStatus

if TYPE_CHECKING:
    from newsletter.pipeline import Prepared


class Runtime(Context):
    """The Context of a Lambda execution environment, plus what only the AWS fan-out needs."""

    @cached_property
    def sqs(self) -> Any:
        import boto3  # only the tick needs it

        return boto3.client("sqs", region_name=self.settings.aws_region, endpoint_url=self.settings.aws_endpoint_url)

    def queue_url(self) -> str:
        if not self.settings.send_queue_url:
            raise ConfigError("NEWSLETTER_SEND_QUEUE_URL is not set", hint="serverless.yml sets it to the send queue")
        return self.settings.send_queue_url

    def public_url(self) -> str:
        if not self.settings.public_url:
            raise ConfigError("NEWSLETTER_PUBLIC_URL is not set", hint="serverless.yml sets it to the HTTP API's URL")
        return self.settings.public_url

    # ------------------------------------------------------------------------------------------ the tick
    def prepare(self, mailing_list: MailingList, day: date) -> Prepared:
        """The issue of ``mailing_list`` for ``day``, built and archived once; ``fresh`` unless an earlier
        tick (or a local run) already enqueued, sent or skipped it."""
        from newsletter.pipeline import prepare  # the pipeline pulls in every stage: only the tick needs it

        return prepare(mailing_list, day, self)

    def mark_enqueued(self, key: str, messages: int) -> IssueStatus | None:
        return lifecycle.start_sending(self.store, key, batches=messages)

    # ------------------------------------------------------------------------------------------ a batch
    def send(self, batch: RecipientBatch) -> CampaignResult:
        sendable = lifecycle.load(self.store, self.archive, batch.issue_id)
        if sendable is None:
            raise NewsletterError(f"issue {batch.issue_id} is not in the store", hint="was the store reset?")
        mailing_list = self.mailing_list(batch.list_id)
        sender = self.sender_for(mailing_list)
        factory = factory_for(mailing_list, sendable, settings=self.settings, tokens=self.tokens)
        options = options_for(self.settings, sender)
        # The account's rate is shared by every sender Lambda the queue runs at once.
        rate = options.rate / self.settings.sender_concurrency if options.rate else None
        options = dataclasses.replace(options, rate=rate, scan_ledger=False)
        # The batch was snapshotted at tick time: whoever unsubscribed, bounced or complained since is dropped.
        recipients = list(still_current(self.store, batch.list_id, batch.recipients))
        result = send_issue(
            batch.issue_id, iter(recipients), store=self.store, sender=sender, factory=factory, options=options
        )
        result.skipped += len(batch.recipients) - len(recipients)
        if batch.number is not None and not result.deferred and not result.ambiguous:
            lifecycle.finish_batch(self.store, batch.issue_id, batch.number)
        return result


_CACHED: tuple[frozenset[tuple[str, str]], Runtime] | None = None


def runtime(env: Mapping[str, str]) -> Runtime:
    """The Runtime for this environment, made once (a Lambda's environment never changes between
    invocations; a test that changes it gets a new one)."""
    global _CACHED
    key = frozenset(env.items())
    if _CACHED is None or _CACHED[0] != key:
        _CACHED = (key, Runtime(Settings.from_env(with_secrets(env))))
    return _CACHED[1]
