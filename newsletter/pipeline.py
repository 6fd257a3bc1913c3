"""One run of one list for one date, stage by stage: collect → analyse → compose → render → deliver → archive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from newsletter import lifecycle
from newsletter.analyze import Analyzer, Job, ProgressFn, facts
from newsletter.backends import make_analyzer
from newsletter.collect import CollectOptions
from newsletter.compose import compose_issue, find_threads
from newsletter.config import Settings
from newsletter.context import Context
from newsletter.deliver.campaign import CampaignResult, Outcome, send_test
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.service import SendableIssue, deliver, factory_for, issue_id
from newsletter.errors import InputError, NewsletterError
from newsletter.i18n import check_language, t
from newsletter.lifecycle import Prepared
from newsletter.models import (
    AnalyzedCommit,
    Importance,
    Issue,
    MailingList,
    RepoCommits,
    RepoSpec,
    Thread,
    Usage,
    Window,
    zone,
)
from newsletter.progress import Progress
from newsletter.render.email import render_issue
from newsletter.samples import SAMPLE_READER, SAMPLE_SOURCE, sample_day, sample_list
from newsletter.schedule import due_lists
from newsletter.segments import keep_base, list_segment, load_base, narrow, segment_messages
from newsletter.store.base import Cache, IssueStatus, LedgerState, MemberStatus
from newsletter.subscriptions import normalise_email

log = logging.getLogger("newsletter.pipeline")

__all__ = [
    "Context",
    "ListRun",
    "Prepared",
    "build_day",
    "build_issue",
    "build_sendable",
    "deliver_issue",
    "issue_id",
    "prepare",
    "prepare_issue",
    "run_due",
    "run_list",
    "run_sample",
    "send_day",
    "test_send",
]


def build_issue(
    repos: Sequence[RepoCommits],
    *,
    language: str,
    settings: Settings,
    store: Cache,
    analyzer_choice: str = "auto",
    title: str | None = None,
    list_id: str | None = None,
    progress: Progress | None = None,
    min_importance: Importance = Importance.LOW,
    day: date | None = None,
    timezone: str | None = None,
    analyzer: Analyzer | None = None,
    postal_address: str | None = None,
    web_url: str | None = None,
) -> Issue:
    """Analyse every commit of ``repos`` (one analysis each, cached in ``store``), write each repository's
    day overview and compose the Issue. ``day``/``timezone`` default to the first repository's window."""
    check_language(language)
    if day is None or timezone is None:
        if not repos:
            raise ValueError("build_issue needs day and timezone when there is no repository")
        day = day or repos[0].window.local_date
        timezone = timezone or repos[0].window.timezone
    started = time.monotonic()
    analyzer = analyzer or make_analyzer(settings, analyzer_choice, cache=store)
    with facts.memo():
        threads, analysed, overviews = _analyse(repos, analyzer, language, progress)
    usage = analyzer.usage.model_copy(update={"seconds": round(time.monotonic() - started, 3)})
    return compose_issue(
        repos,
        analysed,
        title=title or t(language, "issue.title"),
        language=language,
        day=day,
        timezone=timezone,
        overviews=overviews,
        threads=threads,
        usage=usage,
        list_id=list_id,
        min_importance=min_importance,
        postal_address=postal_address,
        web_url=web_url,
    )


def _analyse(
    repos: Sequence[RepoCommits], analyzer: Analyzer, language: str, progress: Progress | None
) -> tuple[dict[str, list[Thread]], dict[str, list[AnalyzedCommit]], dict[str, str | None]]:
    """Threads, one analysis per commit, each thread's analysis and each repository's overview."""
    threads = {repo.repo: find_threads(repo.commits) for repo in repos}
    thread_of = {sha: thread for found in threads.values() for thread in found for sha in thread.shas}
    jobs = [Job(repo.repo, commit, thread_of.get(commit.sha)) for repo in repos for commit in repo.commits]
    analyses = analyzer.analyze(jobs, language=language, progress=_bar(progress, len(jobs)))
    analysed: dict[str, list[AnalyzedCommit]] = {repo.repo: [] for repo in repos}
    for job, analysis in zip(jobs, analyses, strict=True):
        analysed[job.repo].append(AnalyzedCommit(commit=job.commit, analysis=analysis))
    for repo in repos:
        threads[repo.repo] = analyzer.threads(threads[repo.repo], analysed[repo.repo], language=language)
    overviews = {
        repo.repo: analyzer.overview(repo.repo, analysed[repo.repo], language=language, threads=threads[repo.repo])
        for repo in repos
    }
    return threads, analysed, overviews


def build_day(
    ctx: Context,
    specs: Sequence[RepoSpec],
    window: Window,
    *,
    language: str,
    analyzer: Analyzer,
    title: str | None = None,
    list_id: str | None = None,
    options: CollectOptions | None = None,
    min_importance: Importance = Importance.LOW,
    postal_address: str | None = None,
    web_url: str | None = None,
    repos: Sequence[RepoCommits] | None = None,
    progress: Progress | None = None,
) -> Issue:
    """collect → analyse → compose: the Issue of ``specs`` over ``window``, complete (what ``newsletter build``
    writes, what ``preview`` renders, what a list's run mails). ``repos``: the day's commits when already known
    (the sample day); else they are collected through the context's collector."""
    check_language(language)
    if repos is None:
        repos = ctx.collect(specs, window, options=options, progress=progress)
    return build_issue(
        repos,
        language=language,
        settings=ctx.settings,
        store=ctx.store,
        title=title,
        list_id=list_id,
        progress=progress,
        min_importance=min_importance,
        day=window.local_date,
        timezone=window.timezone,
        analyzer=analyzer,
        postal_address=postal_address,
        web_url=web_url,
    )


def _bar(progress: Progress | None, total: int) -> ProgressFn | None:
    """The analyzers report (done, total); the stage progress wants start + advance."""
    if progress is None:
        return None
    progress.start("analysing commits", total)
    shown = 0

    def report(done: int, _total: int) -> None:
        nonlocal shown
        progress.advance(done - shown)
        shown = done

    return report


def _collect(mailing_list: MailingList, day: date, ctx: Context, *, progress: Progress | None) -> list[RepoCommits]:
    options = CollectOptions(
        exclude_merges=mailing_list.exclude_merges,
        exclude_bots=mailing_list.exclude_bots,
        bot_logins=ctx.settings.github_bot_logins,
    )
    window = Window.for_day(day, mailing_list.timezone)
    return ctx.collect(list(mailing_list.repos), window, options=options, progress=progress)


def _base(
    mailing_list: MailingList,
    day: date,
    repos: Sequence[RepoCommits],
    language: str,
    ctx: Context,
    *,
    progress: Progress | None = None,
) -> Issue:
    """The day's issue in ``language`` with every commit, kept: what every segment of readers is narrowed from."""
    base = build_day(
        ctx,
        list(mailing_list.repos),
        Window.for_day(day, mailing_list.timezone),  # the list's day, even for commits handed in (``repos``)
        language=language,
        analyzer=ctx.analyzer_for(mailing_list),
        title=mailing_list.title,  # the subject adds the date: a dated default title would say it twice
        list_id=mailing_list.id,
        min_importance=Importance.LOW,
        # CAN-SPAM: the sender's postal address in every footer (email, text twin and archived page).
        postal_address=mailing_list.postal_address,
        web_url=ctx.archive.url_for(mailing_list.id, day),
        repos=repos,
        progress=progress,
    )
    return keep_base(ctx.store, issue_id(mailing_list.id, day), base)


def base_issue(
    mailing_list: MailingList,
    day: date,
    language: str,
    ctx: Context,
    *,
    repos: Sequence[RepoCommits] | None = None,
    progress: Progress | None = None,
) -> Issue:
    """The kept base issue of ``language``; the first reader of a second language has it collected (commit
    details come from the store's cache) and analysed in that language (analyses cached per language).
    ``repos``: the day's commits when already known."""
    kept = load_base(ctx.store, issue_id(mailing_list.id, day), language)
    if kept is not None:
        return kept
    if repos is None:
        repos = _collect(mailing_list, day, ctx, progress=progress)
    return _base(mailing_list, day, repos, language, ctx, progress=progress)


def build_sendable(
    mailing_list: MailingList,
    day: date,
    ctx: Context,
    *,
    progress: Progress | None = None,
    repos: Sequence[RepoCommits] | None = None,
) -> SendableIssue | None:
    """collect → analyse → compose → render → archive for one list and day. Callers go through ``prepare``,
    which keeps what this returns, or returns the issue already kept (a retried run sends what the first built).
    None: an empty day the list skips. ``repos``: the day's commits when already known (the sample day)."""
    if repos is None:
        repos = _collect(mailing_list, day, ctx, progress=progress)
    if mailing_list.skip_empty_days and not any(repo.commits for repo in repos):
        return None
    base = _base(mailing_list, day, repos, mailing_list.language, ctx, progress=progress)
    issue = narrow(base, list_segment(mailing_list))
    rendered = render_issue(issue)
    view_url = ctx.archive.publish(issue, rendered)
    return SendableIssue(
        issue_id=issue_id(mailing_list.id, day), rendered=rendered, view_url=view_url, usage=issue.usage
    )


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
        return build_sendable(mailing_list, day, ctx, progress=progress, repos=repos)

    return lifecycle.prepare(ctx.store, ctx.archive, mailing_list.id, day, build)


def prepare_issue(mailing_list: MailingList, day: date, ctx: Context) -> SendableIssue | None:
    """The issue as it is (or was) sent — built, archived and kept first when no run has built it yet, so that
    ``newsletter send`` and ``newsletter run`` always send the same issue. None for an empty day the list skips."""
    return prepare(mailing_list, day, ctx).sendable


def deliver_issue(
    mailing_list: MailingList,
    sendable: SendableIssue,
    ctx: Context,
    *,
    dry_run: bool = False,
    resend_ambiguous: bool = False,
    progress: Callable[[Outcome], None] | None = None,
    day: date | None = None,
    repos: Sequence[RepoCommits] | None = None,
) -> CampaignResult:
    """Send the list's issue to every active reader, each the issue of their segment. ``day`` defaults to the
    one in the issue id; ``repos``: the day's commits when already known."""
    day = day or date.fromisoformat(sendable.issue_id.rsplit("/", 1)[-1])
    messages, counts = segment_messages(
        mailing_list,
        sendable,
        settings=ctx.settings,
        tokens=ctx.tokens,
        store=ctx.store,
        choices=ctx.store.list_preferences(mailing_list.id),
        base=lambda language: base_issue(mailing_list, day, language, ctx, repos=repos),
    )
    if not dry_run:
        lifecycle.start_sending(ctx.store, sendable.issue_id)
    result = deliver(
        mailing_list,
        sendable,
        settings=ctx.settings,
        store=ctx.store,
        sender=ctx.sender_for(mailing_list),
        tokens=ctx.tokens,
        dry_run=dry_run,
        resend_ambiguous=resend_ambiguous,
        progress=progress,
        messages=messages,
        stop=ctx.stop,
    )
    result.segments, result.rendered = counts.segments, counts.rendered
    if not dry_run and not result.deferred and not result.ambiguous and not result.interrupted:
        lifecycle.settle(ctx.store, sendable.issue_id)
    return result


@dataclass
class SendRun:
    """How ``newsletter send`` went: plain data for the summary."""

    issue_id: str
    delivery: str  # where the messages went (the sender's description)
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
    delivery = ctx.sender_for(mailing_list).describe()
    if sendable is None:
        return SendRun(key, delivery)
    if to:
        return SendRun(key, delivery, test_message=test_send(mailing_list, sendable, ctx, to))
    campaign = deliver_issue(
        mailing_list, sendable, ctx, dry_run=dry_run, resend_ambiguous=resend_ambiguous, progress=progress
    )
    return SendRun(key, delivery, campaign)


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


# ---------------------------------------------------------------------------------------------- the job


@dataclass
class ListRun:
    """How ``newsletter run`` went for one list and day: plain data for the summary."""

    list_id: str
    day: date
    issue_id: str
    outcome: str  # delivered | already-sent | empty | failed
    built: bool = False  # the issue was built by this run (else: reused from the store)
    archived: str | None = None  # the issue's public page
    delivery: str | None = None  # where the messages went (the sender's description: outbox folder, server …)
    campaign: CampaignResult | None = None
    error: str | None = None
    usage: Usage | None = None  # what building the issue cost (when this run built it)

    @property
    def ok(self) -> bool:
        c = self.campaign
        return self.outcome != "failed" and not (c and (c.failed or c.deferred or c.interrupted))


def run_list(
    mailing_list: MailingList,
    day: date,
    ctx: Context,
    *,
    repos: Sequence[RepoCommits] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ListRun:
    """collect → analyse → compose → render → archive → deliver for one list and day. Idempotent: the issue is
    built once (issue record + stored issue), each recipient is mailed once (send ledger), and an issue whose
    every recipient is settled is not looked at again. An expected failure is reported in the result."""
    key = issue_id(mailing_list.id, day)
    try:
        # What sending needs is checked first: a missing secret or SMTP host stops the list before any work.
        sender = ctx.sender_for(mailing_list)
        _ = ctx.tokens
        prepared = prepare(mailing_list, day, ctx, repos=repos, progress=progress)
        if prepared.sendable is None:
            return ListRun(mailing_list.id, day, key, "empty")
        done = ListRun(
            mailing_list.id,
            day,
            key,
            "delivered",
            built=prepared.built,
            archived=prepared.sendable.view_url,
            delivery=sender.describe(),
            usage=prepared.sendable.usage if prepared.built else None,
        )
        if prepared.status == IssueStatus.SENT:
            done.outcome = "already-sent"
            return done
        done.campaign = deliver_issue(
            mailing_list,
            prepared.sendable,
            ctx,
            dry_run=dry_run,
            progress=_sending(progress, ctx, mailing_list, key),
            day=day,
            repos=repos,
        )
        return done
    except NewsletterError as err:
        return ListRun(mailing_list.id, day, key, "failed", error=str(err))
    except Exception as err:
        # A fault nobody foresaw fails this list alone: the next list of the same run still goes out.
        log.exception("list %s, day %s: unexpected error", mailing_list.id, day)
        return ListRun(mailing_list.id, day, key, "failed", error=f"unexpected error: {type(err).__name__}: {err}")


def _sending(progress: Progress | None, ctx: Context, mailing_list: MailingList, key: str) -> Callable[[Outcome], None]:
    if progress is None:
        return lambda _outcome: None
    counts = ctx.store.count_members(mailing_list.id)
    progress.start(f"sending {key}", counts.get(MemberStatus.ACTIVE, 0))
    return lambda _outcome: progress.advance()


def last_complete_day(mailing_list: MailingList, now: datetime) -> date:
    """Yesterday in the list's timezone: the day a run without --date digests."""
    return now.astimezone(zone(mailing_list.timezone)).date() - timedelta(days=1)


def run_due(
    ctx: Context,
    now: datetime,
    *,
    list_id: str | None = None,
    day: date | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[ListRun]:
    """The scheduled job. Without ``list_id`` and ``day``: every list whose send time has come (schedule.py).
    With ``list_id``: that list only, now; with ``day``: that day (default: the list's last complete day)."""
    lists = [ctx.mailing_list(list_id)] if list_id else list(ctx.mailing_lists().values())
    if list_id is None and day is None:
        targets = [(due.mailing_list, due.day) for due in due_lists(lists, now)]
    else:
        targets = [(ml, day or last_complete_day(ml, now)) for ml in lists]
    runs = []
    for ml, when in targets:
        if ctx.stop.is_set():  # serve shutting down: the list in progress winds down, no other starts
            break
        runs.append(run_list(ml, when, ctx, dry_run=dry_run, progress=progress))
    return runs


@dataclass
class SampleRun:
    run: ListRun
    reader: str
    messages: list[Path]  # the sample reader's .eml files of this issue in the outbox (one, once sent)
    outbox: Path


def run_sample(ctx: Context, *, progress: Progress | None = None) -> SampleRun:
    """``newsletter run --sample``: the sample day, mailed to the sample list's one sample reader through the
    outbox. The reader is added (active, source "sample") unless already a member: someone who unsubscribed
    through a sample message stays unsubscribed."""
    repos, day, timezone = sample_day()
    mailing_list = sample_list(timezone)
    email, name = SAMPLE_READER
    ctx.store.add_members([(email, name)], mailing_list.id, status=MemberStatus.ACTIVE, source=SAMPLE_SOURCE)
    run = run_list(mailing_list, day, ctx, repos=repos, progress=progress)
    sender = ctx.sender_for(mailing_list)
    if not isinstance(sender, OutboxSender):  # sample_list() always says outbox
        raise NewsletterError("the sample list must deliver to the outbox")
    messages = [
        sender.path_for(entry.message_id, entry.email)
        for entry in ctx.store.entries(run.issue_id)
        if entry.state == LedgerState.SENT and entry.message_id and entry.email == email
    ]
    return SampleRun(run=run, reader=email, messages=messages, outbox=sender.folder)
