"""One run, stage by stage: (collect, done by the caller) → analyse → compose. Later stages add render,
deliver and archive here."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

from newsletter.analyze import Analyzer, Job, ProgressFn
from newsletter.backends import make_analyzer
from newsletter.compose import compose_issue
from newsletter.config import Settings
from newsletter.i18n import check_language, format_date, t
from newsletter.models import AnalyzedCommit, Importance, Issue, RepoCommits
from newsletter.progress import Progress
from newsletter.store.base import Cache


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
