"""Change type and importance from what the diff does (its facts), not from the title or the size.

The title's prefix ("fix:", "feat:") is a claim: it names the type when the diff agrees with it, never the
importance. The rules, in order:

- a merge of the default branch into a feature branch is a low chore (the work arrives with the PR);
- a licence or notice change is ``legal``;
- CI-, test- or docs-only diffs, and formatting-only diffs, are low whatever the title says;
- removing or renaming a flag, environment variable, config key or route, or changing a default, is high
  (users must change their commands or configuration) once it is more than a one-liner;
- new flags, options or config keys with real code behind them, or a new module of several new source files,
  is high (a new capability users can run);
- inside a pull request, a commit that changes nothing users run or configure is low: the PR's merge carries
  the change (a fix to something added the same day);
- a restructuring of thousands of lines over many source files is high (contributors must know);
- otherwise code changes are medium, and small ones (a handful of lines) low.
"""

from __future__ import annotations

import re
from enum import StrEnum

from newsletter.analyze.facts import FactKind, Facts, Scope
from newsletter.models import ChangeType, Commit, Importance, Thread, ThreadKind

_CONVENTIONAL = re.compile(r"^(?:\[[^\]]+\]\s*)*(?P<type>[A-Za-z]+)(?:\([^)]*\))?!?:\s*")
_TAG = re.compile(r"^\s*\[(?P<tag>[^\]]+)\]")
# Conventional-commit type words (and bracket tags) and the change type they claim; the heuristic parses
# titles with the same table.
TYPE_WORDS: dict[str, ChangeType] = {
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
_VERBS: list[tuple[re.Pattern[str], ChangeType]] = [
    (re.compile(r"^revert\b", re.I), ChangeType.REVERT),
    (re.compile(r"^.{0,40}\b(lint|format(ting)?|style)\b", re.I), ChangeType.CHORE),
    (
        re.compile(r"^(\w+ )?(fix|fixed|fixes|bug|harden|guard|prevent|handle|avoid|correct|restore)\b", re.I),
        ChangeType.FIX,
    ),
    (re.compile(r"^(add|support|implement|introduce|enable|allow|new)\b", re.I), ChangeType.FEATURE),
    (re.compile(r"^(optimi[sz]e|speed ?up|faster|accelerate)\b", re.I), ChangeType.PERF),
    (
        re.compile(r"^(refactor|clean ?up|simplify|restructure|move|rename|remove|drop|del(ete)?)\b", re.I),
        ChangeType.REFACTOR,
    ),
    (re.compile(r"^(bump|upgrade|update dependency|pin)\b", re.I), ChangeType.BUILD_CI),
    (re.compile(r"^(docs?|document|readme)\b", re.I), ChangeType.DOCS),
    (re.compile(r"^(test|tests)\b", re.I), ChangeType.TEST),
]
_SECURITY = re.compile(r"\b(CVE-\d{4}-\d+|GHSA-[\w-]+|security fix|vulnerab\w*|XSS|CSRF|SSRF|RCE)\b", re.I)
_BRANCH_MERGE = re.compile(r"^Merge (remote-tracking )?branch\b|^Merge .* into \S+$")
_PR_MERGE = re.compile(r"^Merge pull request #\d+")
_TESTS_WORD = re.compile(r"\b(unit ?tests?|tests?|testing)\b", re.I)
_BOTS = ("dependabot", "renovate", "pre-commit-ci", "github-actions")

# What users run or configure: a removal breaks them, an addition is something new they can use.
USER_REMOVALS = (FactKind.FLAG_REMOVED, FactKind.ENV_REMOVED, FactKind.CONFIG_KEY_REMOVED, FactKind.ROUTE_REMOVED)
USER_ADDITIONS = (FactKind.FLAG_ADDED, FactKind.ENV_ADDED, FactKind.CONFIG_KEY_ADDED, FactKind.ROUTE_ADDED)
SMALL = 15  # source lines: below this a change without new surface is low
REAL_CODE = 20  # source lines behind a removed flag or a changed default for it to be high
CAPABILITY = 150  # source lines behind new flags/options for them to be a new capability
NEW_MODULE = (3, 500)  # new source files and source lines that make a new module
RESTRUCTURING = (2000, 8)  # source lines and files


class Role(StrEnum):
    """Where a commit sits in its thread (compose.threads)."""

    SINGLE = "single"
    PR_MERGE = "pr_merge"  # the merge commit of a PR: its diff is the whole PR
    PR_MEMBER = "pr_member"  # a commit brought in by a PR merge
    SERIES = "series"
    BRANCH_MERGE = "branch_merge"
    REVERTED = "reverted"  # a commit and its same-day revert: no net effect


def role_of(commit: Commit, thread: Thread | None) -> Role:
    if thread is None:
        return Role.BRANCH_MERGE if is_branch_merge(commit) else Role.SINGLE
    if thread.kind is ThreadKind.PR:
        if commit.sha == thread.lead:
            return Role.PR_MERGE
        # A merge on the PR's branch (main merged in, conflicts resolved) brings nothing of the PR's own.
        return Role.BRANCH_MERGE if len(commit.parents) > 1 else Role.PR_MEMBER
    if thread.kind is ThreadKind.BRANCH:
        return Role.BRANCH_MERGE
    if thread.kind is ThreadKind.REVERT:
        return Role.REVERTED
    return Role.SERIES


def claimed_type(title: str) -> ChangeType | None:
    """The type a title claims: its conventional prefix, its [tag], or its first verb."""
    match = _CONVENTIONAL.match(title)
    if match and match["type"].lower() in TYPE_WORDS:
        return TYPE_WORDS[match["type"].lower()]
    for tag in re.findall(r"\[([^\]]+)\]", title.split("]")[0] + "]" if title.startswith("[") else ""):
        for word in re.split(r"[/,| ]", tag.lower()):
            if word in TYPE_WORDS:
                return TYPE_WORDS[word]
    rest = re.sub(r"^(\s*\[[^\]]+\]\s*)+", "", title)
    rest = _CONVENTIONAL.sub("", rest)
    for pattern, kind in _VERBS:
        if pattern.match(rest):
            return kind
    return None


def is_branch_merge(commit: Commit) -> bool:
    return (
        len(commit.parents) > 1
        and not _PR_MERGE.match(commit.title)
        and bool(_BRANCH_MERGE.match(commit.title) or not commit.pr)
    )


def is_bot(commit: Commit) -> bool:
    login = (commit.author.login or commit.author.name).lower()
    return commit.author.is_bot or login.startswith(_BOTS)


def change_type(commit: Commit, facts: Facts, *, title: str | None = None) -> ChangeType:
    """``title``: the title that speaks for the change (a PR merge's PR title)."""
    title = title or commit.title
    claim = claimed_type(title)
    if facts.licence_changed():
        return ChangeType.LEGAL
    if claim is ChangeType.REVERT:
        return ChangeType.REVERT
    if is_branch_merge(commit):
        return ChangeType.CHORE
    if claim is ChangeType.SECURITY or _SECURITY.search(title):
        return ChangeType.SECURITY
    if facts.scope is Scope.NONE:
        return claim or ChangeType.CHORE  # no files (Atom-degraded): the title is all there is
    peripheral_claim = claim in {ChangeType.DOCS, ChangeType.TEST, ChangeType.BUILD_CI, ChangeType.CHORE}
    if facts.cosmetic or (claim is ChangeType.CHORE and facts.only_ci_tests_docs()):
        return ChangeType.CHORE  # formatting, or a chore on tests/docs: not new tests or docs
    if facts.scope is Scope.DOCS:
        return ChangeType.DOCS
    if facts.scope is Scope.TESTS:
        return ChangeType.TEST
    if facts.scope is Scope.CI:
        return ChangeType.BUILD_CI
    if facts.scope is Scope.CI_TESTS_DOCS:
        if peripheral_claim and claim is not None:
            return claim
        if facts.ci_touched:
            return ChangeType.BUILD_CI
        return ChangeType.TEST if facts.tests_touched >= facts.docs_touched else ChangeType.DOCS
    about_tests = bool(_TESTS_WORD.search(title))
    if facts.source_files and (
        (claim is ChangeType.TEST and facts.test_lines >= 3 * facts.source_lines)
        or (about_tests and claim is not ChangeType.FEATURE and facts.test_lines >= facts.source_lines)
        or (claim is None and facts.source_lines < SMALL and facts.test_lines > 2 * facts.source_lines)
    ):
        return ChangeType.TEST  # "fix unittest": the few source lines follow the tests
    if not facts.source_files and not facts.examples_touched:
        deps = facts.of(FactKind.DEPENDENCY_ADDED, FactKind.DEPENDENCY_CHANGED, FactKind.DEPENDENCY_REMOVED)
        return ChangeType.BUILD_CI if deps or claim is None else claim
    if peripheral_claim and claim is not ChangeType.CHORE and facts.source_lines >= SMALL:
        claim = None  # the title says peripheral, the diff changes code: judge by the diff
    if claim is not None:
        return claim
    if facts.new_source_files or facts.of(*USER_ADDITIONS):
        return ChangeType.FEATURE
    if facts.of(FactKind.SYMBOL_REMOVED, FactKind.FILE_DELETED) and not facts.of(FactKind.SYMBOL_ADDED):
        return ChangeType.REFACTOR
    return ChangeType.FIX if facts.source_lines < CAPABILITY else ChangeType.REFACTOR


def breaking(facts: Facts) -> bool:
    """Users must change their commands, configuration or environment."""
    return bool(facts.of(*USER_REMOVALS, FactKind.DEFAULT_CHANGED))


def importance(commit: Commit, facts: Facts, kind: ChangeType, role: Role = Role.SINGLE) -> Importance:
    if role in {Role.BRANCH_MERGE, Role.REVERTED} or is_branch_merge(commit):
        return Importance.LOW
    if kind is ChangeType.LEGAL:
        files = [f for f in facts.of(FactKind.LICENCE_CHANGED) if f.name == f.path]
        return Importance.HIGH if files else Importance.MEDIUM
    if kind is ChangeType.SECURITY and facts.source_lines:
        return Importance.HIGH
    if facts.scope is Scope.NONE:
        return Importance.MEDIUM if kind in {ChangeType.FEATURE, ChangeType.FIX, ChangeType.PERF} else Importance.LOW
    peripheral = facts.only_ci_tests_docs() or kind in {ChangeType.TEST, ChangeType.DOCS, ChangeType.CHORE}
    if facts.cosmetic or (peripheral and not facts.of(*USER_REMOVALS, *USER_ADDITIONS, FactKind.DEFAULT_CHANGED)):
        return Importance.LOW
    lines = facts.source_lines
    removes = bool(facts.of(*USER_REMOVALS, FactKind.DEFAULT_CHANGED))
    flags_added = bool(facts.of(FactKind.FLAG_ADDED))
    additions = len(facts.of(*USER_ADDITIONS))
    if role is Role.PR_MEMBER and not removes and not flags_added and lines < CAPABILITY:
        return Importance.LOW  # a fix or test of the PR's own work: the PR's merge carries the change
    if removes and lines >= REAL_CODE:
        return Importance.HIGH
    if (flags_added or additions >= 2) and lines >= CAPABILITY:
        return Importance.HIGH
    if facts.new_source_files >= NEW_MODULE[0] and lines >= NEW_MODULE[1]:
        return Importance.HIGH
    if lines >= RESTRUCTURING[0] and facts.source_files >= RESTRUCTURING[1]:
        return Importance.HIGH  # a large restructuring of the code contributors work on
    if not facts.source_files:
        deps = facts.of(FactKind.DEPENDENCY_ADDED, FactKind.DEPENDENCY_REMOVED)
        new_examples = any(f.kind is FactKind.FLAG_ADDED for f in facts.facts) or facts.new_example_files
        return Importance.MEDIUM if (deps and not is_bot(commit)) or new_examples else Importance.LOW
    if lines >= SMALL or removes or additions:
        return Importance.MEDIUM
    return Importance.LOW
