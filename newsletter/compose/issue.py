"""The day's Issue from the analysed commits: per repository newest first, statistics, groups by importance.

Plain data in, plain data out; every renderer reads the result and nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from newsletter.analyze import story
from newsletter.analyze.paths import directory
from newsletter.issue import Issue, RepoDigest, RepoStats
from newsletter.models import AnalyzedCommit, ChangeType, Importance, RepoCommits, Thread, Usage

TOP_DIRS = 5


def stats(commits: Sequence[AnalyzedCommit]) -> RepoStats:
    by_importance = Counter(Importance(c.analysis.importance) for c in commits)
    by_type = Counter(ChangeType(c.analysis.change_type) for c in commits)
    dirs: Counter[str] = Counter()
    files: set[str] = set()
    for c in commits:
        touched = {f.path for f in c.commit.files}
        files |= touched
        # A folder counts once per commit: "where did the day's work happen", not "how many files".
        dirs.update({directory(path) for path in touched})
    return RepoStats(
        commits=len(commits),
        by_importance={level: by_importance.get(level, 0) for level in Importance},
        by_type=dict(sorted(by_type.items(), key=lambda item: (-item[1], item[0].value))),
        authors=len({c.commit.author.login or c.commit.author.email or c.commit.author.name for c in commits}),
        additions=sum(c.commit.additions for c in commits),
        deletions=sum(c.commit.deletions for c in commits),
        files_changed=len(files),
        top_dirs=sorted(dirs.items(), key=lambda item: (-item[1], item[0]))[:TOP_DIRS],
    )


def digest(
    repo: RepoCommits,
    analysed: Sequence[AnalyzedCommit],
    *,
    overview: str | None = None,
    min_importance: Importance = Importance.LOW,
    threads: Sequence[Thread] = (),
) -> RepoDigest:
    """One repository's part of the issue. Statistics count every commit of the day; the commit list keeps
    those at or above ``min_importance``, newest first."""
    newest_first = sorted(analysed, key=lambda c: c.commit.committed_at, reverse=True)
    # A thread's commits are shown with it: by the thread's importance, not each their own.
    level = {sha: t.importance for t in threads if t.importance for sha in t.shas}
    shown = [
        c
        for c in newest_first
        if Importance(level.get(c.commit.sha, c.analysis.importance)).rank <= min_importance.rank
    ]
    shown_shas = {c.commit.sha for c in shown}
    return RepoDigest(
        repo=repo.repo,
        branch=repo.branch,
        window=repo.window,
        overview=overview,
        commits=shown,
        threads=[t for t in threads if t.shas[0] in shown_shas],
        stats=stats(newest_first),
        bulk_import=story.bulk_import(repo.commits),
        degraded=repo.degraded,
        warnings=list(repo.warnings),
    )


def compose_issue(
    repos: Sequence[RepoCommits],
    analysed: Mapping[str, Sequence[AnalyzedCommit]],
    *,
    title: str,
    language: str,
    day: date,
    timezone: str,
    overviews: Mapping[str, str | None] | None = None,
    threads: Mapping[str, Sequence[Thread]] | None = None,
    usage: Usage | None = None,
    list_id: str | None = None,
    min_importance: Importance = Importance.LOW,
    generated_at: datetime | None = None,
    postal_address: str | None = None,
    web_url: str | None = None,
) -> Issue:
    """``analysed`` maps a repository's full name to its analysed commits (any order). ``postal_address`` and
    ``web_url`` (the issue's page on the archive) come from the list and the archive: the Issue is complete."""
    overviews = overviews or {}
    digests = [
        digest(
            r,
            analysed.get(r.repo, []),
            overview=overviews.get(r.repo),
            min_importance=min_importance,
            threads=(threads or {}).get(r.repo, ()),
        )
        for r in repos
    ]
    everything = [c for r in repos for c in analysed.get(r.repo, [])]
    return Issue(
        list_id=list_id,
        title=title,
        date=day,
        timezone=timezone,
        language=language,
        repos=digests,
        stats=stats(everything),
        usage=usage or Usage(),
        generated_at=generated_at or datetime.now(UTC),
        postal_address=postal_address,
        web_url=web_url,
    )
