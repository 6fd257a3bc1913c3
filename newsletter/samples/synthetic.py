"""A busy day made up on the spot: an analysed Issue of any size, for the size budget's tests and bench/render.py.

Texts are as long as a language model's answers tend to be (the sample report's high cards run to a few
kilobytes), so the byte counts say something about real days. Deterministic: same arguments, same Issue.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from newsletter.issue import Issue, RepoDigest, RepoStats
from newsletter.models import (
    Analysis,
    AnalyzedCommit,
    ChangeType,
    Commit,
    FileChange,
    Importance,
    Insights,
    Person,
    PullRequest,
    Window,
)

_AREAS = ["scheduler", "router", "kv-cache", "attention", "tokenizer", "gateway", "quantization", "ci", "docs"]
_TYPES = [ChangeType.FEATURE, ChangeType.FIX, ChangeType.REFACTOR, ChangeType.PERF, ChangeType.TEST]
_AUTHORS = ["alice-dev", "bob", "chen-wei", "dmitri", "eve-ml", "fatima", "gopal", "hana", "ivan", "jun"]


def _sentence(area: str, n: int, words: int) -> str:
    base = (
        f"The {area} path now handles case {n} through `python/pkg/{area}/module_{n}.py`, which changes how "
        f"requests are batched, retried and reported, and keeps the previous behaviour behind a flag for one "
        f"release so that downstream users can migrate"
    ).split()
    return " ".join((base * (words // len(base) + 1))[:words]) + "."


def _analysis(importance: Importance, kind: ChangeType, area: str, n: int) -> Analysis:
    if importance is Importance.HIGH:
        return Analysis(
            change_type=kind,
            importance=importance,
            headline=f"Reworks the {area} engine so that case {n} no longer blocks the event loop",
            summary=[_sentence(area, n + i, 26) for i in range(4)],
            impact=_sentence(area, n, 40),
            insights=Insights(
                architecture=_sentence(area, n, 45),
                performance=_sentence(area, n + 1, 45),
                security=_sentence(area, n + 2, 30),
                maintainability=_sentence(area, n + 3, 35),
            ),
            risks=[_sentence(area, n + i, 24) for i in range(3)],
            recommendations=[_sentence(area, n + i, 22) for i in range(3)],
            breaking_change=n % 3 == 0,
        )
    if importance is Importance.MEDIUM:
        return Analysis(
            change_type=kind,
            importance=importance,
            headline=f"Adds an option to the {area} for case {n}",
            summary=[_sentence(area, n + i, 22) for i in range(2)],
            impact=_sentence(area, n, 28),
            recommendations=[_sentence(area, n + i, 18) for i in range(2)],
        )
    return Analysis(change_type=kind, importance=importance, headline=f"Tidies the {area} ({n})")


def busy_issue(commits: int = 100, *, language: str = "en", day: date = date(2026, 1, 13)) -> Issue:
    """One repository, ``commits`` analysed commits: 15% high, 40% medium, the rest low."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    window = Window(start=start, end=start + timedelta(days=1), timezone="UTC")
    items: list[AnalyzedCommit] = []
    for n in range(commits):
        sha = hashlib.sha1(f"busy-{n}".encode()).hexdigest()
        area = _AREAS[n % len(_AREAS)]
        kind = _TYPES[n % len(_TYPES)]
        share = (n * 37) % 100  # spread the importances over the day instead of in blocks
        importance = Importance.HIGH if share < 15 else Importance.MEDIUM if share < 55 else Importance.LOW
        when = start + timedelta(days=1) - timedelta(minutes=7 * (n + 1))
        author = _AUTHORS[n % len(_AUTHORS)]
        pr = 17000 + n
        commit = Commit(
            sha=sha,
            url=f"https://github.com/example-org/inference-engine/commit/{sha}",
            title=f"[{area}] {kind.value}: handle case {n} in the {area} without blocking (#{pr})",
            message=f"[{area}] handle case {n}",
            author=Person(name=author.title(), login=author),
            committed_at=when,
            authored_at=when,
            pr=PullRequest(number=pr, url=f"https://github.com/example-org/inference-engine/pull/{pr}"),
            additions=10 + n * 3,
            deletions=n,
            files=[FileChange(path=f"python/pkg/{area}/module_{n}.py", status="modified", additions=10, deletions=1)],
        )
        items.append(AnalyzedCommit(commit=commit, analysis=_analysis(importance, kind, area, n)))
    digest = RepoDigest(
        repo="example-org/inference-engine",
        branch="main",
        window=window,
        overview=_sentence("release", 1, 60),
        commits=items,
        stats=RepoStats(commits=commits),
    )
    return Issue(
        list_id="busy",
        title="Inference engine daily",
        date=day,
        timezone="UTC",
        language=language,
        repos=[digest],
        stats=RepoStats(commits=commits),
        generated_at=start + timedelta(days=1, hours=1),
        web_url=f"https://digest.example.com/busy/{day.isoformat()}/",
        postal_address="Example Org, 1 Market Street, Springfield 12345, USA",
    )
