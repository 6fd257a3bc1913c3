"""What the Lambda handlers share within one execution environment: a Context (settings with the SSM
secrets, the store, senders, the archive, tokens, the lists) plus the SQS queue, made once at cold start and
reused by every invocation."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from newsletter.aws.queue import SqsQueue
from newsletter.aws.secrets import with_secrets
from newsletter.config import Settings
from newsletter.context import Context
from newsletter.errors import ConfigError


class Runtime(Context):
    """The Context of a Lambda execution environment, plus what only the AWS fan-out needs."""

    @cached_property
    def queue(self) -> SqsQueue:
        """The recipient batches' queue (only the tick writes to it)."""
        if not self.settings.send_queue_url:
            raise ConfigError("NEWSLETTER_SEND_QUEUE_URL is not set", hint="serverless.yml sets it to the send queue")
        import boto3  # only the tick needs it

        sqs = boto3.client("sqs", region_name=self.settings.aws_region, endpoint_url=self.settings.aws_endpoint_url)
        return SqsQueue(sqs, self.settings.send_queue_url, batch=self.settings.send_batch_size)

    def public_url(self) -> str:
        if not self.settings.public_url:
            raise ConfigError("NEWSLETTER_PUBLIC_URL is not set", hint="serverless.yml sets it to the HTTP API's URL")
        return self.settings.public_url


_CACHED: tuple[frozenset[tuple[str, str]], Runtime] | None = None


def runtime(env: Mapping[str, str]) -> Runtime:
    """The Runtime for this environment, made once (a Lambda's environment never changes between
    invocations; a test that changes it gets a new one)."""
    global _CACHED
    key = frozenset(env.items())
    if _CACHED is None or _CACHED[0] != key:
        _CACHED = (key, Runtime(Settings.from_env(with_secrets(env))))
    return _CACHED[1]
