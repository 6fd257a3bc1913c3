"""Facts from a commit's diff and pull request: plain functions over the patches, one module per language
family (python, golang, rust, typescript, config, docker, ci, deps, licence, prbody).

``extract(commit)`` returns :class:`Facts`; the predicates below are what the analyzers and the checks of a
model's answer ask of them::

    facts = extract(commit)
    removes_public_surface(facts)   # a flag, env variable, config key, public symbol or route went away
    changes_default(facts)          # a flag's, field's or config value's default moved (old → new)
    only_ci_tests_docs(facts)       # nothing but CI, tests and docs: never high
    licence_changed(facts)          # change type "legal"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from newsletter.analyze.facts import ci, config, deps, docker, golang, licence, prbody, python, rust, typescript
from newsletter.analyze.facts.model import ADDITIONS, REMOVALS, Fact, FactKind, Facts, Scope
from newsletter.analyze.paths import Kind, directory, kind_of
from newsletter.models import Commit, FileChange

__all__ = [
    "Fact",
    "FactKind",
    "Facts",
    "Scope",
    "changes_default",
    "extract",
    "licence_changed",
    "only_ci_tests_docs",
    "removes_public_surface",
]

_CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
_TS_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
MAX_TESTS = 12
# Facts about the surface users touch; a commit that only moves a name from one file to another has none.
_NAMED = ADDITIONS | REMOVALS


def removes_public_surface(facts: Facts) -> bool:
    return facts.removes_public_surface()


def changes_default(facts: Facts) -> bool:
    return facts.changes_default()


def only_ci_tests_docs(facts: Facts) -> bool:
    return facts.only_ci_tests_docs()


def licence_changed(facts: Facts) -> bool:
    return facts.licence_changed()


def file_facts(change: FileChange) -> list[Fact]:
    """Facts of one file of a diff."""
    path, patch, kind = change.path, change.patch, kind_of(change.path)
    found = licence.extract(path, patch, change.status)
    if licence.is_licence_file(path):
        return found
    if change.status == "removed":
        found.append(Fact(kind=FactKind.FILE_DELETED, name=path, path=path))
    if ci.is_workflow(path):
        return found + ci.extract(path, patch, change.status)
    public = kind is Kind.SOURCE
    runnable = kind in {Kind.SOURCE, Kind.EXAMPLE, Kind.BUILD}  # flags and env of scripts users run count too
    lower = path.lower()
    if deps.is_manifest(path):
        found += deps.extract(path, patch)
    if lower.endswith(".py") and runnable:
        found += python.extract(path, patch, public=public)
    elif lower.endswith(".go") and runnable:
        found += golang.extract(path, patch, public=public)
    elif lower.endswith(".rs") and runnable:
        found += rust.extract(path, patch, public=public)
    elif lower.endswith(_TS_SUFFIXES) and runnable and not lower.endswith(".d.ts"):
        found += typescript.extract(path, patch, public=public)
    elif docker.is_dockerfile(path):
        found += docker.extract(path, patch)
    elif lower.endswith(_CONFIG_SUFFIXES) and kind is Kind.SOURCE and change.status == "modified":
        # Keys of a new or deleted file are that file, not changes of a configuration users already have.
        found += config.extract(path, patch)
    if kind is Kind.TEST:
        found += _tests(change)
    return found


def _tests(change: FileChange) -> list[Fact]:
    if change.status == "added":
        return [Fact(kind=FactKind.TESTS_ADDED, name=change.path, path=change.path, detail="file")]
    if change.path.endswith(".py"):
        return [
            Fact(kind=FactKind.TESTS_ADDED, name=n, path=change.path, detail="function")
            for n in python.tests_added(change.path, change.patch)
        ]
    return []


def _unmoved(facts: list[Fact]) -> list[Fact]:
    """A name removed in one file and added in another moved; it is neither added nor removed."""
    added = {(f.kind, f.name) for f in facts if f.kind in ADDITIONS}
    removed = {(f.kind, f.name) for f in facts if f.kind in REMOVALS}
    pair = {
        FactKind.FLAG_ADDED: FactKind.FLAG_REMOVED,
        FactKind.ENV_ADDED: FactKind.ENV_REMOVED,
        FactKind.CONFIG_KEY_ADDED: FactKind.CONFIG_KEY_REMOVED,
        FactKind.SYMBOL_ADDED: FactKind.SYMBOL_REMOVED,
        FactKind.ROUTE_ADDED: FactKind.ROUTE_REMOVED,
    }
    moved = {name for kind, name in added if (pair[kind], name) in removed}
    return [f for f in facts if f.kind not in _NAMED or f.name not in moved]


def scope_of(paths: Iterable[str]) -> Scope:
    kinds = {kind_of(path) for path in paths}
    if not kinds:
        return Scope.NONE
    peripheral = {Kind.DOCS: Scope.DOCS, Kind.TEST: Scope.TESTS, Kind.CI: Scope.CI}
    if len(kinds) == 1 and next(iter(kinds)) in peripheral:
        return peripheral[next(iter(kinds))]
    if kinds <= set(peripheral):
        return Scope.CI_TESTS_DOCS
    return Scope.CODE


def extract(commit: Commit) -> Facts:
    """Every fact of one commit: its files' diffs, then its PR body (or its message body)."""
    found: list[Fact] = []
    for change in commit.files:
        found += file_facts(change)
    found = _unmoved(found)
    tests = [f for f in found if f.kind is FactKind.TESTS_ADDED]
    if len(tests) > MAX_TESTS:
        found = [f for f in found if f.kind is not FactKind.TESTS_ADDED] + tests[:MAX_TESTS]
    if commit.pr and commit.pr.body:
        found += prbody.extract(commit.pr.body)
    else:
        found += prbody.extract(commit.message.partition("\n")[2], source="commit message")
    paths = [f.path for f in commit.files]
    kinds = Counter(kind_of(p) for p in paths)
    source_dirs = Counter(directory(p, 2) for p in paths if kind_of(p) is Kind.SOURCE)
    return Facts(
        facts=found,
        scope=scope_of(paths),
        files=len(paths),
        source_files=kinds[Kind.SOURCE],
        areas=[d for d, _ in source_dirs.most_common(4)],
        tests_touched=kinds[Kind.TEST],
        docs_touched=kinds[Kind.DOCS],
        ci_touched=kinds[Kind.CI],
        examples_touched=kinds[Kind.EXAMPLE],
    )
