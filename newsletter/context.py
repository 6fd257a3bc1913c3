"""The composition root: what one run shares between lists — settings, the store, the archive, the collector,
an analyzer per list, senders (one per delivery kind), the token signer and the list files. The one place that
wires backends — every CLI command opens one per invocation, a Lambda execution environment keeps one
(``newsletter.aws.runtime.Runtime``) across invocations; library functions receive it or what it made.

Each backend is opened on first use, so that a command (or a Lambda) that never sends opens no sender and one
that never archives never touches S3.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from newsletter.backends import Store, make_analyzer, make_sender, open_archive, open_store
from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.lists import load_list, load_lists
from newsletter.logs import install as install_log_redaction
from newsletter.logs import set_key
from newsletter.models import MailingList, RepoCommits, RepoSpec, Window
from newsletter.progress import Progress
from newsletter.subscriptions import Tokens

if TYPE_CHECKING:
    from newsletter.analyze import Analyzer
    from newsletter.archive import SiteArchive
    from newsletter.collect import CollectOptions

install_log_redaction()


@dataclass
class Context:
    settings: Settings
    # Overrides settings.secret: the sample run's per-data-folder secret (never used for real lists).
    secret: str | None = None
    senders: dict[str, Sender] = field(default_factory=dict)
    # Set to wind down (SIGTERM to `newsletter serve --schedule`): no new list is started and a campaign in
    # progress finishes the messages in flight and releases the rest in the ledger for the next run.
    stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    @contextmanager
    def open(cls, settings: Settings, *, secret: str | None = None) -> Iterator[Context]:
        ctx = cls(settings=settings, secret=secret)
        try:
            yield ctx
        finally:
            ctx.close()

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings)

    @cached_property
    def archive(self) -> SiteArchive:
        return open_archive(self.settings)

    @cached_property
    def tokens(self) -> Tokens:
        secret = self.secret or self.settings.require_secret()
        set_key(secret)
        return Tokens(secret)

    def public_url(self) -> str:
        """Base URL of the public pages (NEWSLETTER_PUBLIC_URL, else where `newsletter serve` listens)."""
        return self.settings.links_url()

    def mailing_lists(self) -> dict[str, MailingList]:
        return load_lists(self.settings.lists_dir)

    def mailing_list(self, list_id: str) -> MailingList:
        return load_list(self.settings.lists_dir, list_id)

    def analyzer(self, choice: str = "auto", *, model: str | None = None) -> Analyzer:
        """A new analyzer (each counts its own usage, which goes into one issue): ``choice`` auto, llm or
        heuristic; ``model`` instead of NEWSLETTER_MODEL."""
        settings = self.settings.model_copy(update={"openai_model": model}) if model else self.settings
        return make_analyzer(settings, choice, cache=self.store)

    def analyzer_for(self, mailing_list: MailingList) -> Analyzer:
        """The list's own ``analyzer`` and ``model`` settings over the environment's."""
        return self.analyzer(mailing_list.analyzer or "auto", model=mailing_list.model)

    def collect(
        self,
        specs: Sequence[RepoSpec],
        window: Window,
        *,
        options: CollectOptions | None = None,
        progress: Progress | None = None,
    ) -> list[RepoCommits]:
        """The collector: GitHub (REST and Atom) as configured, commit details cached in the store."""
        from newsletter.collect import collect_repos  # PyGithub and feedparser: only for commands that collect

        return collect_repos(
            list(specs), window, settings=self.settings, cache=self.store, options=options, progress=progress
        )

    def sender_for(self, mailing_list: MailingList) -> Sender:
        kind = mailing_list.delivery or self.settings.delivery
        if kind not in self.senders:
            self.senders[kind] = make_sender(self.settings, mailing_list.delivery)
        return self.senders[kind]

    def close(self) -> None:
        for sender in self.senders.values():
            sender.close()
        self.senders.clear()
        if "store" in self.__dict__:  # opened (cached_property keeps it in the instance dict)
            self.__dict__.pop("store").close()
