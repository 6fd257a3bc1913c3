"""The issue as it is mailed: kept once (``prepare``), then sent through the campaign to every reader, each the
issue of their segment (``campaign``: the one place that hands the context's parts to ``deliver()``, for
``newsletter run``/``send`` and the AWS sender Lambdas alike), or as one test message (``test_send``).

The building stages are imported where they are needed: a sender Lambda that mails a kept issue never loads
the analyzers or the renderer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from newsletter import lifecycle
from newsletter.context import Context
from newsletter.deliver.campaign import CampaignResult, Outcome, send_test
from newsletter.deliver.service import SendableIssue, deliver, factory_for, issue_id
from newsletter.errors import InputError
from newsletter.issue import Issue
from newsletter.lifecycle import Prepared
from newsletter.models import MailingList, ReaderPreferences, RepoCommits
from newsletter.progress import Progress
from newsletter.segments import segment_messages
from newsletter.store.base import Recipient
from newsletter.subscriptions import normalise_email
from newsletter.weekly import is_weekly, parse_issue_id, week_base, weekly_segment

__all__ = ["Prepared", "SendRun", "campaign", "deliver_issue", "prepare", "prepare_issue", "send_day", "test_send"]


def prepare(
    mailing_list: MailingList,
    day: date,
    ctx: Context,
    *,
    repos: Sequence[RepoCommits] | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """The issue of ``mailing_list`` for ``day``, built and archived once and kept with its issue record (see
    ``newsletter.lifecycle``): shared by ``newsletter run``/``send`` and the scheduled Lambda."""

    def build() -> SendableIssue | None:
        from newsletter.building import build_sendable  # every stage: only when no run has built the issue

        return build_sendable(mailing_list, day, ctx, progress=progress, repos=repos)

    return lifecycle.prepare(ctx.store, ctx.archive, mailing_list.id, day, build)


def prepare_issue(mailing_list: MailingList, day: date, ctx: Context) -> SendableIssue | None:
    """The issue as it is (or was) sent — built, archived and kept first when no run has built it yet, so that
    ``newsletter send`` and ``newsletter run`` always send the same issue. None for an empty day the list skips."""
    return prepare(mailing_list, day, ctx).sendable


def campaign(
    ctx: Context,
    mailing_list: MailingList,
    sendable: SendableIssue,
    *,
    recipients: Sequence[Recipient] | None = None,
    share: int = 1,
    dry_run: bool = False,
    resend_ambiguous: bool = False,
    progress: Callable[[Outcome], None] | None = None,
    repos: Sequence[RepoCommits] | None = None,
) -> CampaignResult:
    """Mail the kept issue ``sendable`` to the list's active readers, or to one batch of them (``recipients``),
    each the issue of their segment (newsletter/segments.py), through the context's store, sender and tokens.
    ``share``: how many senders run at once on the account's rate. ``repos``: the day's commits when already
    known (a segment in another language builds the base issue from them). The issue's status is the caller's."""
    _, day, is_week = parse_issue_id(sendable.issue_id)
    choices: Iterable[tuple[str, ReaderPreferences]]
    if recipients is None:
        choices = ctx.store.list_preferences(mailing_list.id)
    else:  # the batch's readers' own choices (one read each), not the whole list's: a batch is 50 of 100,000
        choices = ((r.email, ctx.store.preferences(r.email, mailing_list.id)) for r in recipients)

    def base(language: str) -> Issue:
        if is_week:
            return week_base(mailing_list, day, language, ctx)
        from newsletter.building import base_issue  # only readers of another language need it

        return base_issue(mailing_list, day, language, ctx, repos=repos)

    # A day's issue is for everyone but the weekly readers, a week's for them alone (newsletter/weekly.py).
    weekly: set[str] = set()

    def this_cadence(choices: Iterable[tuple[str, ReaderPreferences]]) -> Iterator[tuple[str, ReaderPreferences]]:
        for email, prefs in choices:
            if is_weekly(prefs):
                weekly.add(email)
            if is_weekly(prefs) == is_week:
                yield email, prefs

    messages, counts = segment_messages(  # reads every choice before it returns: ``weekly`` is complete
        mailing_list,
        sendable,
        settings=ctx.settings,
        tokens=ctx.tokens,
        store=ctx.store,
        bodies=ctx.archive,
        choices=this_cadence(choices),
        base=base,
        default=weekly_segment(mailing_list) if is_week else None,
    )
    who: Callable[[str], bool] | None = weekly.__contains__ if is_week else None
    if weekly and not is_week:
        who = lambda email: email not in weekly  # noqa: E731
    result = deliver(
        mailing_list,
        sendable,
        settings=ctx.settings,
        store=ctx.store,
        sender=ctx.sender_for(mailing_list),
        tokens=ctx.tokens,
        recipients=recipients,
        share=share,
        dry_run=dry_run,
        resend_ambiguous=resend_ambiguous,
        progress=progress,
        messages=messages,
        stop=ctx.stop,
        who=who,
    )
    result.segments, result.rendered = counts.segments, counts.rendered
    return result


def deliver_issue(
    mailing_list: MailingList,
    sendable: SendableIssue,
    ctx: Context,
    *,
    dry_run: bool = False,
    resend_ambiguous: bool = False,
    progress: Callable[[Outcome], None] | None = None,
    repos: Sequence[RepoCommits] | None = None,
) -> CampaignResult:
    """The whole campaign of the list's issue (``newsletter run``/``send``): prepared → sending → sent, the issue
    settled when nobody was left deferred or ambiguous."""
    if not dry_run:
        lifecycle.start_sending(ctx.store, sendable.issue_id)
    result = campaign(
        ctx,
        mailing_list,
        sendable,
        dry_run=dry_run,
        resend_ambiguous=resend_ambiguous,
        progress=progress,
        repos=repos,
    )
    if not dry_run and not result.deferred and not result.ambiguous and not result.interrupted:
        lifecycle.settle(ctx.store, sendable.issue_id)
    return result


@dataclass
class SendRun:
    """How ``newsletter send`` went: plain data for the summary."""

    issue_id: str
    delivery: str  # where the messages went (the sender's description); "": nothing to send, no sender opened
    campaign: CampaignResult | None = None  # None: an empty day the list skips, or a test message
    test_message: str | None = None  # the provider's id of the one test message (``to``)


def send_day(
    mailing_list: MailingList,
    day: date,
    ctx: Context,
    *,
    dry_run: bool = False,
    resend_ambiguous: bool = False,
    to: str | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> SendRun:
    """``newsletter send``: the list's issue of ``day`` (built, archived and kept first when no run did) to every
    active member, or one test message to ``to``. The campaign runs even for a sent issue (the ledger skips
    everyone already settled)."""
    key = issue_id(mailing_list.id, day)
    sendable = prepare_issue(mailing_list, day, ctx)
    if sendable is None:
        return SendRun(key, "")
    delivery = ctx.sender_for(mailing_list).describe()
    if to:
        return SendRun(key, delivery, test_message=test_send(mailing_list, sendable, ctx, to))
    result = deliver_issue(
        mailing_list, sendable, ctx, dry_run=dry_run, resend_ambiguous=resend_ambiguous, progress=progress
    )
    return SendRun(key, delivery, result)


def test_send(mailing_list: MailingList, sendable: SendableIssue, ctx: Context, email: str) -> str:
    """``send --to``: outside the ledger, but never to a suppressed address (a bounce or a complaint is for good)."""
    address = normalise_email(email)
    suppression = ctx.store.suppression(address)
    if suppression is not None:
        why = f"{suppression.reason.value} on {suppression.at:%Y-%m-%d}, by {suppression.source}"
        raise InputError(
            f"{address} is suppressed ({why})",
            hint="send the test to another address",
        )
    factory = factory_for(mailing_list, sendable, settings=ctx.settings, tokens=ctx.tokens)
    return send_test(factory, ctx.sender_for(mailing_list), address)
