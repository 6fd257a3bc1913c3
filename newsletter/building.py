"""The day's issue: collect → analyse → compose (``build_day``, what ``newsletter build`` and ``preview`` show),
and for a list also render → archive (``build_sendable``, what ``newsletter.sending.prepare`` keeps and mails).
The base issue (every commit, per language) that reader segments are narrowed from is kept here too."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from newsletter.analyze import Analyzer, Job, ProgressFn, facts
from newsletter.backends import make_analyzer
from newsletter.collect import CollectOptions
from newsletter.compose import compose_issue, find_threads
from newsletter.config import Settings
from newsletter.context import Context
from newsletter.i18n import check_language, t
from newsletter.issue import Issue
from newsletter.models import AnalyzedCommit, Importance, MailingList, RepoCommits, RepoSpec, Thread, Window
from newsletter.progress import Progress
from newsletter.store.base import Cache

if TYPE_CHECKING:
    from newsletter.deliver.service import SendableIssue

__all__ = ["base_issue", "build_day", "build_issue", "build_sendable", "collect_list"]


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


def collect_list(mailing_list: MailingList, day: date, ctx: Context, *, progress: Progress | None) -> list[RepoCommits]:
    """The list's repositories over the list's day, with the list's filters (merges, bots)."""
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
    from newsletter.deliver.service import issue_id  # these stages: only for a list's issue, not for ``build``
    from newsletter.segments import keep_base

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
    return keep_base(ctx.store, ctx.archive, issue_id(mailing_list.id, day), base)


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
    from newsletter.deliver.service import issue_id
    from newsletter.segments import load_base

    kept = load_base(ctx.store, ctx.archive, issue_id(mailing_list.id, day), language)
    if kept is not None:
        return kept
    if repos is None:
        repos = collect_list(mailing_list, day, ctx, progress=progress)
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
    from newsletter.deliver.service import SendableIssue, issue_id
    from newsletter.render.email import render_issue
    from newsletter.segments import list_segment, narrow

    if repos is None:
        repos = collect_list(mailing_list, day, ctx, progress=progress)
    if mailing_list.skip_empty_days and not any(repo.commits for repo in repos):
        return None
    base = _base(mailing_list, day, repos, mailing_list.language, ctx, progress=progress)
    issue = narrow(base, list_segment(mailing_list))
    rendered = render_issue(issue)
    view_url = ctx.archive.publish(issue, rendered)
    return SendableIssue(
        issue_id=issue_id(mailing_list.id, day), rendered=rendered, view_url=view_url, usage=issue.usage
    )
