"""Deterministic rules over the commit title, its paths and its size: the embedded default analyzer, the
fallback for every commit the model could not analyse, and the triage that spares the model trivial commits.

It states only facts it can read off the commit (type, files, lines, folders); it never guesses effects.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence

from newsletter.analyze import facts, rules
from newsletter.analyze.base import Job, ProgressFn
from newsletter.analyze.paths import Kind, kind_of, top_dirs
from newsletter.i18n import t
from newsletter.models import Analysis, AnalyzedCommit, ChangeType, Commit, Importance, Thread, ThreadKind, Usage

_TAGS = re.compile(r"^\s*((?:\[[^\]]+\]\s*)+)")
_CONVENTIONAL = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:\s*")
_WORDS: dict[str, ChangeType] = {
    "feat": ChangeType.FEATURE,
    "feature": ChangeType.FEATURE,
    "fix": ChangeType.FIX,
    "bugfix": ChangeType.FIX,
    "hotfix": ChangeType.FIX,
    "bug": ChangeType.FIX,
    "refactor": ChangeType.REFACTOR,
    "cleanup": ChangeType.REFACTOR,
    "perf": ChangeType.PERF,
    "performance": ChangeType.PERF,
    "optimize": ChangeType.PERF,
    "docs": ChangeType.DOCS,
    "doc": ChangeType.DOCS,
    "test": ChangeType.TEST,
    "tests": ChangeType.TEST,
    "build": ChangeType.BUILD_CI,
    "ci": ChangeType.BUILD_CI,
    "deps": ChangeType.BUILD_CI,
    "chore": ChangeType.CHORE,
    "style": ChangeType.CHORE,
    "misc": ChangeType.CHORE,
    "lint": ChangeType.CHORE,
    "revert": ChangeType.REVERT,
    "security": ChangeType.SECURITY,
    "sec": ChangeType.SECURITY,
}
# First words of a plain title ("Fix …", "Add …") when there is no prefix or tag.
_VERBS: list[tuple[re.Pattern[str], ChangeType]] = [
    (re.compile(r"^revert\b", re.I), ChangeType.REVERT),
    (re.compile(r"^merge (pull request|branch|remote-tracking)\b", re.I), ChangeType.CHORE),
    (re.compile(r"^(fix|fixed|fixes|bug|harden|guard|prevent|handle|avoid|correct)\b", re.I), ChangeType.FIX),
    (re.compile(r"^(add|support|implement|introduce|enable|allow|new)\b", re.I), ChangeType.FEATURE),
    (re.compile(r"^(optimi[sz]e|speed ?up|faster|accelerate)\b", re.I), ChangeType.PERF),
    (re.compile(r"^(refactor|clean ?up|simplify|restructure|move|rename|remove|drop)\b", re.I), ChangeType.REFACTOR),
    (re.compile(r"^(bump|upgrade|update dependency|pin)\b", re.I), ChangeType.BUILD_CI),
    (re.compile(r"^(docs?|document|readme)\b", re.I), ChangeType.DOCS),
    (re.compile(r"^(test|tests)\b", re.I), ChangeType.TEST),
]
_SECURITY_WORDS = re.compile(
    r"\b(CVE-\d+|security|vulnerab\w*|XSS|CSRF|injection|auth(?:entication|orization)?)\b", re.I
)
_TYPO = re.compile(r"\b(typos?|spelling|misspell\w*|grammar|wording)\b", re.I)
_BUMP = re.compile(r"^(build\(deps[^)]*\)|chore\(deps[^)]*\)|bump |update dependency|deps:|\[?dependabot)", re.I)
_BOTS = ("dependabot", "renovate", "pre-commit-ci", "github-actions")
_BASE = {
    ChangeType.SECURITY: 3.0,
    ChangeType.FEATURE: 2.0,
    ChangeType.PERF: 2.0,
    ChangeType.REVERT: 2.0,
    ChangeType.FIX: 1.5,
    ChangeType.REFACTOR: 1.0,
    ChangeType.BUILD_CI: 0.5,
    ChangeType.CHORE: 0.0,
    ChangeType.DOCS: 0.0,
    ChangeType.TEST: 0.0,
}
_PERIPHERAL = {Kind.TEST, Kind.DOCS, Kind.EXAMPLE, Kind.CI, Kind.BUILD, Kind.LOCKFILE, Kind.BINARY}


def parse_title(title: str) -> tuple[list[str], str | None, bool, str]:
    """(bracket tags, conventional type word, breaking "!", the rest) of a commit title."""
    tags: list[str] = []
    rest = title.strip()
    match = _TAGS.match(rest)
    if match:
        tags = [tag.strip() for group in re.findall(r"\[([^\]]+)\]", match[1]) for tag in re.split(r"[/,|]", group)]
        rest = rest[match.end() :]
    conventional = _CONVENTIONAL.match(rest)
    if conventional and conventional["type"].lower() in _WORDS:
        return tags, conventional["type"].lower(), bool(conventional["bang"]), rest[conventional.end() :]
    return tags, None, False, rest


def change_type(commit: Commit, thread: Thread | None = None) -> ChangeType:
    return rules.change_type(commit, facts.extract(commit), title=_speaking_title(commit, thread))


def _speaking_title(commit: Commit, thread: Thread | None) -> str:
    """The title that speaks for the change: a PR merge's PR title rather than "Merge pull request #…"."""
    if thread is not None and thread.kind is ThreadKind.PR and thread.lead == commit.sha:
        return thread.title
    if commit.pr and commit.pr.title and len(commit.parents) > 1:
        return commit.pr.title
    return commit.title


def _breaking(commit: Commit) -> bool:
    _, _, bang, _ = parse_title(commit.title)
    return bang or "BREAKING CHANGE" in commit.message or "BREAKING-CHANGE" in commit.message


def importance(commit: Commit, kind: ChangeType | None = None, thread: Thread | None = None) -> Importance:
    found = facts.extract(commit)
    kind = kind or rules.change_type(commit, found, title=_speaking_title(commit, thread))
    level = rules.importance(commit, found, kind, rules.role_of(commit, thread))
    if _breaking(commit) and level is not Importance.HIGH and rules.role_of(commit, thread) is rules.Role.SINGLE:
        return Importance.HIGH  # the author announces a breaking change
    return level


def triage(commit: Commit) -> str | None:
    """Why the commit is surely trivial (an i18n key under ``fallback.``), or None when the model should look."""
    if not commit.files:
        return None
    kinds = {kind_of(f.path) for f in commit.files}
    login = (commit.author.login or commit.author.name).lower()
    if (commit.author.is_bot or login.startswith(_BOTS)) and (
        _BUMP.match(commit.title) or kinds <= {Kind.LOCKFILE, Kind.BUILD}
    ):
        return "triage_bot_bump"
    if kinds == {Kind.CI}:
        return "triage_ci_only"
    if kinds == {Kind.DOCS} and _TYPO.search(commit.title) and commit.additions + commit.deletions <= 20:
        return "triage_typo"
    return None


def _clean_title(commit: Commit) -> str:
    _, _, _, rest = parse_title(commit.title)
    rest = rest.strip() or commit.title.strip()
    return rest[:1].upper() + rest[1:]


_TRAILER = re.compile(r"^[A-Za-z][A-Za-z-]*: .+$")  # Signed-off-by:, Co-Authored-By:, Fixes: …
_NOISE = re.compile(r"^\s*(#|<!--|- \[[ xX]\]|\|)")  # PR-template headings, comments, checklists, tables


def author_note(commit: Commit, limit: int = 280) -> str | None:
    """The author's own explanation: the first paragraph of the commit message body, else of the PR body,
    without trailers or template boilerplate, clipped at a sentence or word. Quoted, never paraphrased: the
    heuristic states nothing the commit does not."""
    bodies = [commit.message.partition("\n")[2], (commit.pr.body or "") if commit.pr else ""]
    for body in bodies:
        for paragraph in re.split(r"\n\s*\n", body.replace("\r\n", "\n")):
            # Squash merges list the branch's commits as "* …" bullets: keep the words, not the markers.
            lines = [re.sub(r"^[*-] (?!\[)", "", line.strip()) for line in paragraph.strip().splitlines()]
            lines = [line for line in lines if line and not _TRAILER.match(line) and not _NOISE.match(line)]
            text = " ".join(lines).strip()
            if len(text) < 20:  # "Fixes #12", a lone link: not an explanation
                continue
            if len(text) <= limit:
                return text
            cut = text[:limit]
            end = max(cut.rfind(". "), cut.rfind("。"))
            return cut[: end + 1] if end > limit // 2 else cut.rsplit(" ", 1)[0] + "…"
    return None


def analyse(
    commit: Commit, language: str, *, fallback_reason: str | None = None, thread: Thread | None = None
) -> Analysis:
    """The heuristic analysis of one commit, in ``language``."""
    kind = change_type(commit, thread)
    level = importance(commit, kind, thread)
    type_label = t(language, f"change_type.{kind.value}")
    headline = t(language, "heuristic.headline", type=type_label, title=_clean_title(commit))
    paths = [f.path for f in commit.files]
    summary: list[str] = []
    impact: str | None = None
    if len(paths) == 1:
        f = commit.files[0]
        summary.append(t(language, "heuristic.touches_one", path=f.path, additions=f.additions, deletions=f.deletions))
    elif paths:
        summary.append(
            t(language, "heuristic.touches", files=len(paths), additions=commit.additions, deletions=commit.deletions)
        )
    else:
        summary.append(t(language, "heuristic.no_files"))
    added = sum(1 for f in commit.files if f.status == "added")
    removed = sum(1 for f in commit.files if f.status == "removed")
    if added:
        summary.append(t(language, "heuristic.added_files", count=added))
    if removed:
        summary.append(t(language, "heuristic.removed_files", count=removed))
    kinds = Counter(kind_of(p) for p in paths)
    if kinds[Kind.TEST] and kind is not ChangeType.TEST:
        summary.append(t(language, "heuristic.kinds_tests", count=kinds[Kind.TEST]))
    if kinds[Kind.DOCS] and kind is not ChangeType.DOCS:
        summary.append(t(language, "heuristic.kinds_docs", count=kinds[Kind.DOCS]))
    note = author_note(commit)
    if note:
        summary.insert(0, t(language, "heuristic.author_note", text=note))
    if paths:
        impact = t(language, "heuristic.areas", dirs=", ".join(d for d, _ in top_dirs(paths, 5)))
    breaking = _breaking(commit)
    risks = [t(language, "heuristic.breaking")] if breaking else []
    return Analysis(
        change_type=kind,
        importance=level,
        headline=headline,
        summary=summary,
        impact=impact,
        risks=risks,
        breaking_change=breaking,
        security_relevant=kind is ChangeType.SECURITY or bool(_SECURITY_WORDS.search(commit.title)),
        analyzer="heuristic",
        fallback_reason=fallback_reason,
    )


def overview(repo: str, commits: Sequence[AnalyzedCommit], language: str) -> str | None:
    """Fallback day overview: the count and the headlines of the high-importance commits."""
    if not commits:
        return None
    text = t(language, "heuristic.overview", count=len(commits))
    top = [c.analysis.headline for c in commits if c.analysis.importance is Importance.HIGH][:3]
    if not top:
        return text
    items = t(language, "heuristic.list_separator").join(top)
    return t(language, "heuristic.overview_both", overview=text, top=t(language, "heuristic.overview_top", items=items))


class HeuristicAnalyzer:
    """The embedded default: no network, no key, same answer every time."""

    name = "heuristic"
    model: str | None = None

    def __init__(self) -> None:
        self.usage = Usage(analyzer=self.name)

    def analyze(self, jobs: Sequence[Job], *, language: str, progress: ProgressFn | None = None) -> list[Analysis]:
        started = time.monotonic()
        results = []
        for done, job in enumerate(jobs, 1):
            results.append(analyse(job.commit, language, thread=job.thread))
            if progress:
                progress(done, len(jobs))
        self.usage.heuristic += len(results)
        self.usage.seconds += time.monotonic() - started
        return results

    def overview(self, repo: str, commits: Sequence[AnalyzedCommit], *, language: str) -> str | None:
        return overview(repo, commits, language)

    def threads(self, threads: Sequence[Thread], commits: Sequence[AnalyzedCommit], *, language: str) -> list[Thread]:
        return analyse_threads(threads, commits, language)


def analyse_threads(threads: Sequence[Thread], commits: Sequence[AnalyzedCommit], language: str) -> list[Thread]:
    """Each thread with one importance (the highest of its commits) and one analysis of the whole, most
    important first."""
    by_sha = {c.commit.sha: c for c in commits}
    done = []
    for thread in threads:
        members = [by_sha[sha] for sha in thread.shas if sha in by_sha]
        if not members:
            continue
        level = min((Importance(m.analysis.importance) for m in members), key=lambda i: i.rank)
        done.append(
            thread.model_copy(update={"importance": level, "analysis": thread_analysis(thread, members, language)})
        )
    return sorted(done, key=lambda t: (t.importance.rank if t.importance else 3, -len(t.shas)))


def thread_analysis(thread: Thread, members: Sequence[AnalyzedCommit], language: str) -> Analysis:
    lead = next((m for m in members if m.commit.sha == thread.lead), members[0])
    level = min((Importance(m.analysis.importance) for m in members), key=lambda i: i.rank)
    return lead.analysis.model_copy(update={"importance": level})
