"""One run of one list for one date, stage by stage: collect → analyse → compose → render → deliver → archive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from newsletter.analyze import Analyzer, Job, ProgressFn
from newsletter.backends import make_analyzer, make_sender, open_store
from newsletter.collect import CollectOptions, collect_repos
from newsletter.compose import compose_issue
from newsletter.config import Settings
from newsletter.deliver.base import Sender
from newsletter.deliver.campaign import CampaignResult, Outcome, send_test
from newsletter.deliver.service import SendableIssue, deliver, factory_for, issue_id, keep_sendable, load_sendable
from newsletter.errors import NewsletterError
from newsletter.i18n import check_language, format_date, t
from newsletter.lists import load_list, load_lists
from newsletter.models import AnalyzedCommit, Importance, Issue, MailingList, RepoCommits, Window
from newsletter.progress import Progress
from newsletter.render.email import render_issue
from newsletter.store.base import Cache
from newsletter.subscriptions import Tokens

if TYPE_CHECKING:
    from newsletter.archive import Archive

__all__ = ["Context", "build_issue", "build_sendable", "deliver_issue", "issue_id", "prepare_issue", "test_send"]


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
    jobs = [Job(repo.repo, commit) for repo in repos for commit in repo.commits]
    analyses = analyzer.analyze(jobs, language=language, progress=_bar(progress, len(jobs)))
    analysed: dict[str, list[AnalyzedCommit]] = {repo.repo: [] for repo in repos}
    for job, analysis in zip(jobs, analyses, strict=True):
        analysed[job.repo].append(AnalyzedCommit(commit=job.commit, analysis=analysis))
    overviews = {repo.repo: analyzer.overview(repo.repo, analysed[repo.repo], language=language) for repo in repos}
    usage = analyzer.usage.model_copy(update={"seconds": round(time.monotonic() - started, 3)})
    return compose_issue(
        repos,
        analysed,
        title=title or t(language, "issue.title", date=format_date(language, day)),
        language=language,
        day=day,
        timezone=timezone,
        overviews=overviews,
        usage=usage,
        list_id=list_id,
        min_importance=min_importance,
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


def build_sendable(
    mailing_list: MailingList,
    day: date,
    *,
    settings: Settings,
    store: Cache,
    archive: Archive,
    progress: Progress | None = None,
) -> SendableIssue | None:
    """collect → analyse → compose → render → archive for one list and day, once: an issue already kept in
    the store is returned as it is (a retried run sends what the first one built). None: an empty day the
    list skips."""
    stored = load_sendable(store, issue_id(mailing_list.id, day))
    if stored is not None:
        return stored
    window = Window.for_day(day, mailing_list.timezone)
    options = CollectOptions(
        exclude_merges=mailing_list.exclude_merges,
        exclude_bots=mailing_list.exclude_bots,
        bot_logins=settings.github_bot_logins,
    )
    repos = collect_repos(
        list(mailing_list.repos), window, settings=settings, cache=store, options=options, progress=progress
    )
    if mailing_list.skip_empty_days and not any(repo.commits for repo in repos):
        return None
    issue = build_issue(
        repos,
        language=mailing_list.language,
        settings=settings,
        store=store,
        analyzer_choice=mailing_list.analyzer or "auto",
        list_id=mailing_list.id,
        progress=progress,
        min_importance=mailing_list.min_importance,
        day=day,
        timezone=mailing_list.timezone,
    )
    rendered = render_issue(issue)
    view_url = archive.publish(issue, rendered)
    return keep_sendable(
        store, SendableIssue(issue_id=issue_id(mailing_list.id, day), rendered=rendered, view_url=view_url)
    )
