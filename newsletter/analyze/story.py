"""The key-less story of a day: one analysis per thread (a change of several commits) and the overview —
the shape of the day (bulk import or history rewrite, release, long-lived branch merged) and its main
changes, not a chain of titles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta

from newsletter.analyze import facts, writing
from newsletter.analyze.paths import Kind, directory, kind_of
from newsletter.i18n import t
from newsletter.models import Analysis, AnalyzedCommit, BulkImport, Commit, Importance, Thread, ThreadKind

BULK_WINDOW = timedelta(minutes=10)  # committed together …
BULK_SPREAD = timedelta(days=2)  # … but authored over this much time: not a day's work
BULK_MIN = 10
LONG_LIVED = timedelta(days=14)
THEMES = 3


def _highest(members: Sequence[AnalyzedCommit]) -> Importance:
    return min((Importance(m.analysis.importance) for m in members), key=lambda i: i.rank)


def analyse_threads(
    threads: Sequence[Thread],
    commits: Sequence[AnalyzedCommit],
    language: str,
    *,
    wholes: Mapping[str, Analysis] | None = None,
) -> list[Thread]:
    """Each thread with one importance (the highest of its commits) and one analysis of the whole (the
    model's, by thread id in ``wholes``, when it analysed the thread as a whole), most important first."""
    by_sha = {c.commit.sha: c for c in commits}
    done = []
    for thread in threads:
        members = [by_sha[sha] for sha in thread.shas if sha in by_sha]
        if members:
            whole = (wholes or {}).get(thread.id)
            level = min(_highest(members), Importance(whole.importance), key=lambda i: i.rank) if whole else None
            analysis = (
                whole.model_copy(update={"importance": level})
                if whole and level
                else thread_analysis(thread, members, language)
            )
            done.append(thread.model_copy(update={"importance": analysis.importance, "analysis": analysis}))
    return sorted(done, key=lambda th: (th.importance.rank if th.importance else 3, -len(th.shas)))


def thread_analysis(thread: Thread, members: Sequence[AnalyzedCommit], language: str) -> Analysis:
    """A PR's analysis is its merge's (the merge's diff is the whole PR); a series is written from the facts
    of all its commits. Either way at the highest importance of its commits."""
    lead = next((m for m in members if m.commit.sha == thread.lead), members[0])
    level = _highest(members)
    top = min(members, key=lambda m: (Importance(m.analysis.importance).rank, m.commit.sha != thread.lead))
    base = lead.analysis if lead.analysis.analyzer == "llm" or thread.kind is ThreadKind.PR else None
    kinds = ", ".join(
        t(language, f"change_type.{kind}")
        for kind, _ in Counter(m.analysis.change_type.value for m in members).most_common(4)
    )
    intro = {
        ThreadKind.PR: t(language, "facts.thread_pr"),
        ThreadKind.SERIES: t(language, "facts.thread_series", author=lead.commit.author.name),
        ThreadKind.REVERT: t(language, "facts.thread_revert"),
        ThreadKind.BRANCH: t(language, "facts.thread_branch", branch=thread.title.rsplit(" ", 1)[-1]),
    }[thread.kind]
    mix = t(language, "facts.thread_mix", kinds=kinds)
    if base is not None:
        summary = [intro, *base.summary] if thread.kind is not ThreadKind.PR else [*base.summary, mix]
        return base.model_copy(update={"importance": level, "summary": summary[:8]})
    found = facts.combine(facts.extract(m.commit) for m in members)
    paths = [f.path for m in members for f in m.commit.files]
    type_label = t(language, f"change_type.{top.analysis.change_type.value}")
    return Analysis(
        change_type=top.analysis.change_type,
        importance=level,
        headline=t(language, "heuristic.headline", type=type_label, title=thread.title),
        summary=[intro, mix, *writing.summary(found, language)][:8],
        impact=writing.impact(found, paths, language),
        risks=writing.risks(found, language),
        recommendations=writing.recommendations(found, language),
        breaking_change=any(m.analysis.breaking_change for m in members),
        security_relevant=any(m.analysis.security_relevant for m in members),
        analyzer="heuristic",
    )


def bulk_import(commits: Sequence[Commit]) -> BulkImport | None:
    """The largest group of commits committed within BULK_WINDOW, when it is at least BULK_MIN commits
    authored over at least BULK_SPREAD."""
    ordered = sorted(commits, key=lambda c: c.committed_at)
    best: list[Commit] = []
    start = 0
    for end, commit in enumerate(ordered):
        while commit.committed_at - ordered[start].committed_at > BULK_WINDOW:
            start += 1
        if end - start + 1 > len(best):
            best = ordered[start : end + 1]
    if len(best) < BULK_MIN:
        return None
    authored = sorted(c.authored_at for c in best)
    if authored[-1] - authored[0] < BULK_SPREAD:
        return None
    minutes = max(1, round((best[-1].committed_at - best[0].committed_at).total_seconds() / 60))
    return BulkImport(
        commits=len(best), minutes=minutes, first_authored=authored[0].date(), last_authored=authored[-1].date()
    )


def shape(commits: Sequence[Commit], threads: Sequence[Thread], language: str) -> list[str]:
    """What kind of day it was, when it was not an ordinary one."""
    lines: list[str] = []
    bulk = bulk_import(commits)
    if bulk is not None:
        lines.append(
            t(
                language,
                "facts.shape_bulk",
                count=bulk.commits,
                minutes=bulk.minutes,
                first=bulk.first_authored.isoformat(),
                last=bulk.last_authored.isoformat(),
            )
        )
    for commit in commits:
        versions = facts.extract(commit).of(facts.FactKind.VERSION_CHANGED)
        if versions and any(kind_of(f.path) is Kind.DOCS and "change" in f.path.lower() for f in commit.files):
            lines.append(t(language, "facts.shape_release", version=versions[0].new))
            break
    by_sha = {c.sha: c for c in commits}
    for thread in threads:
        members = [by_sha[s] for s in thread.shas if s in by_sha]
        if thread.kind is ThreadKind.PR and len(members) > 1:
            lead = by_sha.get(thread.lead)
            oldest = min(m.authored_at for m in members)
            if lead and lead.committed_at - oldest >= LONG_LIVED:
                lines.append(t(language, "facts.shape_branch", title=thread.title))
    return lines


def overview(repo: str, commits: Sequence[AnalyzedCommit], language: str, threads: Sequence[Thread] = ()) -> str | None:
    """The day's shape, then its main changes (the most important threads and commits) and where the work
    happened."""
    if not commits:
        return None
    plain = [c.commit for c in commits]
    parts = shape(plain, threads, language)
    threaded = {sha for th in threads for sha in th.shas}
    ranked = [(th.importance or Importance.LOW, th.title) for th in threads]
    ranked += [
        (Importance(c.analysis.importance), c.commit.speaking_title) for c in commits if c.commit.sha not in threaded
    ]
    top = [title for level, title in sorted(ranked, key=lambda r: r[0].rank) if level is Importance.HIGH][:THEMES]
    dirs = Counter(directory(f.path) for c in plain for f in c.files if kind_of(f.path) is Kind.SOURCE)
    areas = ", ".join(d for d, _ in dirs.most_common(3))  # plain: folders, not identifiers of the code
    if top:
        parts.append(t(language, "facts.overview_themes", items=t(language, "heuristic.list_separator").join(top)))
        if areas:
            parts.append(t(language, "facts.overview_areas", areas=areas))
    elif areas:
        parts.append(t(language, "facts.overview_quiet", areas=areas))
    return " ".join(parts) or None
