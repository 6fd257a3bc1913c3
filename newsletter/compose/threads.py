"""The day's commits grouped into changes ("threads"): a pull request's merge with the commits it brings in,
merges of the default branch into one feature branch, a commit and its same-day revert, and one author's
series (a run of consecutive commits, or commits under one scope such as "qwen3.5/M1"). Single commits stay
single. A plain function of the commits (their parents, authors, titles and PRs): the analysis reads the
threads, compose shows them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from newsletter.analyze.paths import Kind, kind_of
from newsletter.models import Commit, Thread, ThreadKind

_PR_MERGE = re.compile(r"^Merge pull request #(?P<number>\d+)\b")
_BRANCH_MERGE = re.compile(r"^Merge (?:remote-tracking )?branch '[^']+'(?: of \S+)? into (?P<target>\S+)")
_REVERT = re.compile(r'^Revert "(?P<title>.+)"\s*$')
_REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})")
_PR_SUFFIX = re.compile(r"\(#\d+\)\s*$")
_CONVENTIONAL = re.compile(r"^\s*[A-Za-z]+\((?P<scope>[^)]+)\)!?:")
_TAGS = re.compile(r"^\s*\[(?P<tag>[^\]]+)\]")
# Squash-merged pull requests of one author land as a series when they land close together.
SQUASHED_GAP = timedelta(hours=3)


def author_key(commit: Commit) -> str:
    return (commit.author.login or commit.author.email or commit.author.name).lower()


def scope_of(title: str) -> str | None:
    """The scope a title names: "qwen3.5/M1" of "feat(qwen3.5/M1): P3", "DataFlow runtime" of
    "[DataFlow runtime] Phase B2"."""
    match = _CONVENTIONAL.match(title) or _TAGS.match(title)
    if not match:
        return None
    return (match.groupdict().get("scope") or match.groupdict().get("tag") or "").strip() or None


def pr_number(commit: Commit) -> int | None:
    match = _PR_MERGE.match(commit.title)
    if match:
        return int(match["number"])
    return commit.pr.number if commit.pr and commit.is_merge else None


def pr_title(commit: Commit) -> str:
    """A merge's PR title: the PR's own, else the line GitHub writes under "Merge pull request #N from …"."""
    if commit.pr and commit.pr.title:
        return commit.pr.title
    body = [line.strip() for line in commit.message.splitlines()[1:] if line.strip()]
    return body[0] if body else commit.title


def _ancestors(starts: Iterable[str], by_sha: dict[str, Commit]) -> set[str]:
    seen: set[str] = set()
    stack = [sha for sha in starts if sha in by_sha]
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        stack.extend(p for p in by_sha[sha].parents if p in by_sha and p not in seen)
    return seen


def _weight(commit: Commit) -> int:
    """How much of the change is code users run: the lead of a series is its largest such commit."""
    return sum(f.additions + f.deletions for f in commit.files if kind_of(f.path) in {Kind.SOURCE, Kind.EXAMPLE})


class _Union:
    def __init__(self, items: Iterable[str]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: str) -> str:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for item in self.parent:
            found[self.find(item)].append(item)
        return list(found.values())


def find_threads(commits: Sequence[Commit]) -> list[Thread]:
    """The threads of one repository's day; commits that belong to none are not in any."""
    by_sha = {c.sha: c for c in commits}
    order = {c.sha: c.committed_at for c in commits}
    claimed: set[str] = set()
    threads: list[Thread] = []

    def newest_first(shas: Iterable[str]) -> list[str]:
        return sorted(shas, key=lambda s: (order[s], s), reverse=True)

    # 1. Pull requests: what the merge's other parents bring that its first parent does not have.
    for merge in sorted((c for c in commits if c.is_merge or len(c.parents) > 1), key=lambda c: c.committed_at):
        number = pr_number(merge)
        if number is None or len(merge.parents) < 2:
            continue
        side = _ancestors(merge.parents[1:], by_sha) - _ancestors(merge.parents[:1], by_sha) - claimed
        members = [merge.sha, *side]
        claimed |= set(members)
        if side:
            title = pr_title(merge)
            title = title if _PR_SUFFIX.search(title) else f"{title} (#{number})"
            threads.append(
                Thread(
                    id=f"pr-{number}",
                    kind=ThreadKind.PR,
                    title=title,
                    shas=newest_first(members),
                    lead=merge.sha,
                    pr=number,
                )
            )

    # 2. The default branch merged into one feature branch, more than once.
    targets: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in commits:
        match = _BRANCH_MERGE.match(c.title)
        if c.sha not in claimed and match and len(c.parents) > 1:
            targets[(match["target"], author_key(c))].append(c.sha)
    for (target, _), shas in targets.items():
        if len(shas) > 1:
            claimed |= set(shas)
            ordered = newest_first(shas)
            threads.append(
                Thread(
                    id=f"branch-{target}",
                    kind=ThreadKind.BRANCH,
                    title=by_sha[ordered[-1]].title,
                    shas=ordered,
                    lead=ordered[-1],
                )
            )

    # 3. Same-day reverts.
    by_title = {c.title.strip(): c for c in commits}
    for c in commits:
        if c.sha in claimed:
            continue
        match = _REVERT.match(c.title)
        sha_match = _REVERTS_SHA.search(c.message)
        original = (by_title.get(match["title"].strip()) if match else None) or next(
            (o for o in commits if sha_match and o.sha.startswith(sha_match["sha"])), None
        )
        if original is not None and original.sha not in claimed and original.sha != c.sha:
            claimed |= {c.sha, original.sha}
            threads.append(
                Thread(
                    id=f"revert-{original.short_sha}",
                    kind=ThreadKind.REVERT,
                    title=original.title,
                    shas=newest_first([c.sha, original.sha]),
                    lead=original.sha,
                )
            )

    # 4. One author's series: consecutive commits, or commits under one scope.
    rest = [c for c in commits if c.sha not in claimed and len(c.parents) <= 1]
    union = _Union(c.sha for c in rest)
    rest_by_sha = {c.sha: c for c in rest}
    for c in rest:
        parent = rest_by_sha.get(c.parents[0]) if c.parents else None
        if parent is None or author_key(parent) != author_key(c):
            continue
        squashed = bool(_PR_SUFFIX.search(c.title) and _PR_SUFFIX.search(parent.title))
        if not squashed or c.committed_at - parent.committed_at <= SQUASHED_GAP:
            union.join(c.sha, parent.sha)
    scoped: dict[tuple[str, str], str] = {}
    for c in rest:
        scope = scope_of(c.title)
        if scope:
            key = (author_key(c), scope.lower())
            if key in scoped:
                union.join(c.sha, scoped[key])
            else:
                scoped[key] = c.sha
    for group in union.groups():
        if len(group) < 2:
            continue
        members = [by_sha[s] for s in group]
        lead = max(members, key=lambda m: (_weight(m), m.committed_at))
        # The series' one scope names the work even when the largest commit's title leaves it out.
        scopes = {found.lower(): found for m in members if (found := scope_of(m.title))}
        scope = next(iter(scopes.values())) if len(scopes) == 1 else None
        title = lead.title
        if scope and scope.lower() not in title.lower():
            title = f"{scope}: {title}"
        threads.append(
            Thread(
                id=f"series-{lead.short_sha}",
                kind=ThreadKind.SERIES,
                title=title,
                shas=newest_first(group),
                lead=lead.sha,
            )
        )
    return sorted(threads, key=lambda t: order[t.shas[0]], reverse=True)
