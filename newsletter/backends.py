"""The one place where configuration chooses implementations (store, analyzer, sender, archive).

Everything else receives a ready object that satisfies a small protocol and never looks at a URL scheme
or a backend name again.
"""

from __future__ import annotations

from urllib.parse import urlparse

from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.smtp import SmtpSender
from newsletter.errors import ConfigError
from newsletter.store.sqlite import SqliteStore


def open_store(settings: Settings) -> SqliteStore:
    url = urlparse(settings.store_url)
    if url.scheme == "sqlite":
        # sqlite:///abs/path → "/abs/path"; sqlite:///:memory: → ":memory:"
        path = url.path if url.path != "/:memory:" else ":memory:"
        return SqliteStore(path)
    raise ConfigError(
        f"NEWSLETTER_STORE={settings.store_url!r} has an unknown scheme",
        hint="use sqlite:///path/to/file.db",
    )


def make_sender(settings: Settings, override: str | None = None) -> Sender:
    """The mail provider: NEWSLETTER_DELIVERY (outbox, smtp, ses), or a list's own ``delivery``."""
    choice = (override or settings.delivery or "outbox").strip().lower()
    if choice == "outbox":
        return OutboxSender(settings.outbox_dir or settings.data_dir / "outbox")
    if choice == "smtp":
        if not settings.smtp_host:
            raise ConfigError("delivery is smtp but SMTP_HOST is not set", hint="set SMTP_HOST (and SMTP_PORT …)")
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            tls=settings.smtp_tls,
        )
    if choice == "ses":
        from newsletter.deliver.ses import SesSender  # boto3 is slow to import; only when asked for

        return SesSender(
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            configuration_set=settings.ses_configuration_set,
        )
    raise ConfigError(f"unknown delivery {choice!r}", hint="use NEWSLETTER_DELIVERY=outbox, smtp or ses")
