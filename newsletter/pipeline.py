"""One run of one list for one date, stage by stage: collect → analyse → compose → render → deliver → archive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from newsletter.backends import make_sender, open_store
from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.deliver.campaign import CampaignResult, Outcome, send_test
from newsletter.deliver.service import SendableIssue, deliver, factory_for, issue_id, load_sendable
from newsletter.errors import NewsletterError
from newsletter.lists import load_list, load_lists
from newsletter.models import MailingList
from newsletter.subscriptions import Tokens

__all__ = ["Context", "deliver_issue", "issue_id", "prepare_issue", "test_send"]


@dataclass
class Context:
    """What one invocation shares between lists: settings, the store, senders (one per delivery kind)."""

    settings: Settings
    store: object
    senders: dict[str, Sender] = field(default_factory=dict)
    secret: str | None = None

    @classmethod
    @contextmanager
    def open(cls, settings: Settings) -> Iterator[Context]:
        ctx = cls(settings=settings, store=open_store(settings), secret=settings.secret)
        try:
            yield ctx
        finally:
            for sender in ctx.senders.values():
                sender.close()
            ctx.store.close()  # type: ignore[attr-defined]

    def mailing_list(self, list_id: str) -> MailingList:
        return load_list(self.settings.lists_dir, list_id)

    def mailing_lists(self) -> dict[str, MailingList]:
        return load_lists(self.settings.lists_dir)

    def sender_for(self, mailing_list: MailingList) -> Sender:
        kind = mailing_list.delivery or self.settings.delivery
        if kind not in self.senders:
            self.senders[kind] = make_sender(self.settings, mailing_list.delivery)
        return self.senders[kind]

    def tokens(self) -> Tokens:
        return Tokens(self.secret or self.settings.require_secret())


def prepare_issue(mailing_list: MailingList, day: date, ctx: Context) -> SendableIssue | None:
    """The issue as it is (or was) sent; None for an empty day the list skips."""
    sendable = load_sendable(ctx.store, issue_id(mailing_list.id, day))  # type: ignore[arg-type]
    if sendable is not None:
        return sendable
    raise NewsletterError(f"no issue built for {mailing_list.id} on {day}", hint="run `newsletter run` first")


def deliver_issue(
    mailing_list: MailingList,
    sendable: SendableIssue,
    ctx: Context,
    *,
    dry_run: bool = False,
    resend_ambiguous: bool = False,
    progress: Callable[[Outcome], None] | None = None,
) -> CampaignResult:
    return deliver(
        mailing_list,
        sendable,
        settings=ctx.settings,
        store=ctx.store,  # type: ignore[arg-type]
        sender=ctx.sender_for(mailing_list),
        tokens=ctx.tokens(),
        dry_run=dry_run,
        resend_ambiguous=resend_ambiguous,
        progress=progress,
    )


def test_send(mailing_list: MailingList, sendable: SendableIssue, ctx: Context, email: str) -> str:
    factory = factory_for(mailing_list, sendable, settings=ctx.settings, tokens=ctx.tokens())
    return send_test(factory, ctx.sender_for(mailing_list), email)
