"""The one place where configuration chooses implementations (store, analyzer, sender, archive).

Everything else receives a ready object that satisfies a small protocol and never looks at a URL scheme
or a backend name again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlparse

from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.deliver.outbox import OutboxSender
from newsletter.errors import ConfigError
from newsletter.store.base import Cache
from newsletter.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from newsletter.analyze import Analyzer
    from newsletter.archive import SiteArchive
    from newsletter.store.dynamodb import DynamoStore

# Backends on AWS import boto3 only when configuration chooses them (it is most of a cold start otherwise).
Store: TypeAlias = "SqliteStore | DynamoStore"


def open_store(settings: Settings) -> Store:
    """``sqlite:///path`` (the default, in the data folder) or ``dynamodb://<table-prefix>``."""
    url = urlparse(settings.store_url)
    if url.scheme == "sqlite":
        # sqlite:///abs/path and sqlite:////abs/path → "/abs/path"; sqlite://rel/path → "rel/path" (relative
        # to the working directory); sqlite:///:memory: → ":memory:"
        path = url.netloc + url.path if url.netloc else "/" + url.path.lstrip("/")
        if url.path == "/:memory:":
            path = ":memory:"
        if path in ("", "/"):
            raise ConfigError(
                f"NEWSLETTER_STORE={settings.store_url!r} has no path", hint="use sqlite:///path/to/file.db"
            )
        return SqliteStore(path)
    if url.scheme == "dynamodb":
        prefix = url.netloc + url.path.rstrip("/")
        if not prefix or not all(c.isalnum() or c in "-_." for c in prefix):
            raise ConfigError(
                f"NEWSLETTER_STORE={settings.store_url!r} needs a table prefix of letters, digits, '-', '_', '.'",
                hint="e.g. dynamodb://newsletter",
            )
        from newsletter.store.dynamodb import DynamoStore

        return DynamoStore(prefix, region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    raise ConfigError(
        f"NEWSLETTER_STORE={settings.store_url!r} has an unknown scheme",
        hint="use sqlite:///path/to/file.db or dynamodb://table-prefix",
    )


ANALYZERS = ("auto", "llm", "heuristic")


def check_analyzer(choice: str) -> str:
    """``choice`` when it names an analyzer (for commands to check before any work)."""
    if choice not in ANALYZERS:
        raise ConfigError(f"unknown analyzer {choice!r}", hint=f"use one of {', '.join(ANALYZERS)}")
    return choice


def make_analyzer(settings: Settings, choice: str = "auto", *, cache: Cache | None = None) -> Analyzer:
    """ "auto" is the language model when OPENAI_API_KEY is set, else the heuristic. ``cache`` holds the
    analyses (the store by default)."""
    check_analyzer(choice)
    if choice == "heuristic" or (choice == "auto" and not settings.openai_api_key):
        from newsletter.analyze import HeuristicAnalyzer  # the facts and rules: only for commands that analyse

        return HeuristicAnalyzer()
    if not settings.openai_api_key:
        raise ConfigError("--analyzer llm needs OPENAI_API_KEY", hint="set it, or use --analyzer heuristic")
    from newsletter.analyze.llm import LlmAnalyzer  # imports the openai SDK only when it is used

    return LlmAnalyzer(settings, cache if cache is not None else open_store(settings))


def make_sender(settings: Settings, override: str | None = None) -> Sender:
    """The mail provider: NEWSLETTER_DELIVERY (outbox, smtp, ses), or a list's own ``delivery``."""
    choice = (override or settings.delivery or "outbox").strip().lower()
    if choice == "outbox":
        return OutboxSender(settings.outbox_dir or settings.data_dir / "outbox")
    if choice in ("smtp", "ses") and not settings.public_url:
        # Mail to real people must carry working unsubscribe links (RFC 8058, Gmail and Yahoo's rules).
        raise ConfigError(
            f"delivery is {choice} but NEWSLETTER_PUBLIC_URL is not set",
            hint="set it to the base URL of the unsubscribe / preferences endpoints",
        )
    if choice == "smtp":
        if not settings.smtp_host:
            raise ConfigError("delivery is smtp but SMTP_HOST is not set", hint="set SMTP_HOST (and SMTP_PORT …)")
        from newsletter.deliver.smtp import SmtpSender  # ssl and smtplib: only when mail goes out by SMTP

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


def open_archive(settings: Settings) -> SiteArchive:
    """NEWSLETTER_ARCHIVE: ``local:///path`` (default ``<data dir>/archive``) or ``s3://bucket/prefix``;
    NEWSLETTER_ARCHIVE_URL is the public base URL the site is served from."""
    # The site's templates (jinja2): only for what archives or reads the archive.
    from newsletter.archive import LocalArchive, S3Archive

    url = urlparse(settings.archive_url)
    if url.scheme == "local" and (url.netloc or url.path):
        return LocalArchive(Path(url.netloc + url.path), settings.archive_public_url, public_url=settings.public_url)
    if url.scheme == "s3" and url.netloc:
        return S3Archive(
            url.netloc,
            url.path.strip("/"),
            settings.archive_public_url,
            public_url=settings.public_url,
            endpoint_url=settings.aws_endpoint_url,
            region=settings.aws_region,
        )
    raise ConfigError(
        f"NEWSLETTER_ARCHIVE={settings.archive_url!r} is not an archive location",
        hint="use local:///path/to/folder or s3://bucket/prefix",
    )
