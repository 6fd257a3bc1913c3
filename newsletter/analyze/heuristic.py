"""Deterministic rules over the commit title, its paths and its size: the embedded default analyzer, the
fallback for every commit the model could not analyse, and the triage that spares the model trivial commits.

It states only facts it can read off the commit (type, files, lines, folders); it never guesses effects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from newsletter.analyze import facts, rules, story, writing
from newsletter.analyze.base import Job, ProgressFn
from newsletter.analyze.paths import Kind, kind_of
from newsletter.i18n import t
from newsletter.models import Analysis, AnalyzedCommit, ChangeType, Commit, Importance, Thread, ThreadKind, Usage

_TAGS = re.compile(r"^\s*((?:\[[^\]]+\]\s*)+)")
_CONVENTIONAL = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:\s*")
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
    if conventional and conventional["type"].lower() in rules.TYPE_WORDS:
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
    commit: Commit,
    language: str,
    *,
    fallback_reason: str | None = None,
    thread: Thread | None = None,
    found: facts.Facts | None = None,
) -> Analysis:
    """The heuristic analysis of one commit, in ``language``, written from its facts."""
    found = found or facts.extract(commit)
    title = _speaking_title(commit, thread)
    kind = rules.change_type(commit, found, title=title)
    role = rules.role_of(commit, thread)
    level = rules.importance(commit, found, kind, role)
    announced = _breaking(commit)
    if announced and role is rules.Role.SINGLE:
        level = Importance.HIGH  # the author announces a breaking change
    type_label = t(language, f"change_type.{kind.value}")
    rest = parse_title(title)[3].strip() or title.strip()
    headline = t(language, "heuristic.headline", type=type_label, title=rest[:1].upper() + rest[1:])
    paths = [f.path for f in commit.files]
    summary = writing.summary(found, language)
    quoted = writing.quotes(found, language)
    note = author_note(commit) if not quoted else None
    summary += quoted or ([t(language, "heuristic.author_note", text=note)] if note else [])
    if not summary:
        summary.append(_touches(commit, language))
    risks = writing.risks(found, language)
    if announced:
        risks.insert(0, t(language, "heuristic.breaking"))
    return Analysis(
        change_type=kind,
        importance=level,
        headline=headline,
        summary=summary,
        impact=writing.impact(found, paths, language),
        risks=risks,
        recommendations=writing.recommendations(found, language),
        breaking_change=announced or rules.breaking(found),
        security_relevant=kind is ChangeType.SECURITY or bool(_SECURITY_WORDS.search(title)),
        analyzer="heuristic",
        fallback_reason=fallback_reason,
    )


def _touches(commit: Commit, language: str) -> str:
    if len(commit.files) == 1:
        f = commit.files[0]
        return t(language, "heuristic.touches_one", path=f.path, additions=f.additions, deletions=f.deletions)
    if commit.files:
        return t(
            language,
            "heuristic.touches",
            files=len(commit.files),
            additions=commit.additions,
            deletions=commit.deletions,
        )
    return t(language, "heuristic.no_files")


def overview(repo: str, commits: Sequence[AnalyzedCommit], language: str) -> str | None:
    """The key-less day overview (``story.overview``): the shape of the day and its main changes."""
    return story.overview(repo, commits, language)


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

    def overview(
        self, repo: str, commits: Sequence[AnalyzedCommit], *, language: str, threads: Sequence[Thread] = ()
    ) -> str | None:
        return story.overview(repo, commits, language, threads)

    def threads(self, threads: Sequence[Thread], commits: Sequence[AnalyzedCommit], *, language: str) -> list[Thread]:
        return story.analyse_threads(threads, commits, language)
