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

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from difflib import SequenceMatcher

from newsletter.analyze.facts import ci, config, deps, diff, docker, golang, licence, prbody, python, rust, typescript
from newsletter.analyze.facts.model import ADDITIONS, REMOVALS, Fact, FactKind, Facts, Scope
from newsletter.analyze.paths import Kind, directory, kind_of
from newsletter.analyze.units import pause_point
from newsletter.models import Commit, FileChange

__all__ = [
    "Fact",
    "FactKind",
    "Facts",
    "Scope",
    "changes_default",
    "combine",
    "extract",
    "licence_changed",
    "memo",
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


_PAIRS = {
    FactKind.FLAG_REMOVED: (FactKind.FLAG_ADDED, "flag"),
    FactKind.ENV_REMOVED: (FactKind.ENV_ADDED, "env"),
    FactKind.CONFIG_KEY_REMOVED: (FactKind.CONFIG_KEY_ADDED, "config key"),
    FactKind.SYMBOL_REMOVED: (FactKind.SYMBOL_ADDED, "symbol"),
    FactKind.ROUTE_REMOVED: (FactKind.ROUTE_ADDED, "route"),
}
SIMILAR = 0.75  # names this alike (difflib ratio, case, dashes and underscores aside) are one thing renamed
SIMILAR_WITH_VALUE = 0.4  # … or this alike with the same value (default, config value)
_PLAIN_VALUES = {"", "none", "null", "nil", "false", "true", "0", "1", '""', "''", "[]", "{}"}


def _similar(old: str, new: str) -> float:
    def plain(name: str) -> str:
        return name.lstrip("-").lower().replace("_", "-")

    return SequenceMatcher(None, plain(old), plain(new)).ratio()


def _pairs(removed: Fact, added: Fact) -> bool:
    if removed.kind is FactKind.SYMBOL_REMOVED and removed.detail != added.detail:
        return False  # a class does not become a function
    likeness = _similar(removed.name, added.name)
    value = (removed.old or "").strip()
    same_value = value.lower() not in _PLAIN_VALUES and value == (added.new or "").strip()
    return likeness >= SIMILAR or (same_value and likeness >= SIMILAR_WITH_VALUE)


def _renames(facts: list[Fact]) -> list[Fact]:
    """A removed and an added item of one kind in one file that pair up with each other and nothing else."""
    by_place: dict[tuple[FactKind, str | None], list[Fact]] = defaultdict(list)
    for fact in facts:
        by_place[(fact.kind, fact.path)].append(fact)
    found = []
    for removal, (addition, what) in _PAIRS.items():
        for (kind, path), gone in list(by_place.items()):
            if kind is not removal:
                continue
            new = by_place.get((addition, path), [])
            matches = {id(r): [a for a in new if _pairs(r, a)] for r in gone}
            for r in gone:
                if len(matches[id(r)]) != 1:
                    continue
                a = matches[id(r)][0]
                if sum(1 for other in gone if a in matches[id(other)]) == 1:
                    found.append(Fact(kind=FactKind.RENAMED, name=a.name, old=r.name, path=path, detail=what))
    return found


_NOISE = re.compile(r"[\s,()\[\]'\"]+")


def is_cosmetic(change: FileChange) -> bool:
    """Formatting or import order only: the removed and the added lines say the same, up to whitespace,
    commas, brackets and quote style, or are the same lines in another order."""
    gone = [line.text for line in diff.removed(change.patch)]
    new = [line.text for line in diff.added(change.patch)]
    if not change.patch or change.status != "modified" or not (gone or new):
        return False
    if _NOISE.sub("", "".join(gone)) == _NOISE.sub("", "".join(new)):
        return True
    return sorted(line.strip() for line in gone if line.strip()) == sorted(line.strip() for line in new if line.strip())


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


def combine(parts: Iterable[Facts]) -> Facts:
    """The facts of several commits as one change (a series): every fact once, counts summed."""
    parts = list(parts)
    found = list(dict.fromkeys(f for part in parts for f in part.facts))
    scopes = {part.scope for part in parts if part.scope is not Scope.NONE}
    if not scopes:
        scope = Scope.NONE
    elif len(scopes) == 1:
        scope = next(iter(scopes))
    else:
        scope = Scope.CODE if Scope.CODE in scopes else Scope.CI_TESTS_DOCS
    areas = Counter(area for part in parts for area in part.areas)
    return Facts(
        facts=_unmoved(found),
        scope=scope,
        files=sum(p.files for p in parts),
        source_files=sum(p.source_files for p in parts),
        source_lines=sum(p.source_lines for p in parts),
        new_source_files=sum(p.new_source_files for p in parts),
        new_example_files=sum(p.new_example_files for p in parts),
        test_lines=sum(p.test_lines for p in parts),
        cosmetic=all(p.cosmetic for p in parts) if parts else False,
        areas=[a for a, _ in areas.most_common(4)],
        tests_touched=sum(p.tests_touched for p in parts),
        docs_touched=sum(p.docs_touched for p in parts),
        ci_touched=sum(p.ci_touched for p in parts),
        examples_touched=sum(p.examples_touched for p in parts),
    )


_memo: dict[tuple[str, int], Facts] = {}
_reading: dict[tuple[str, int], threading.Event] = {}  # extractions under way in the memo's build
_memo_users = 0
_memo_lock = threading.Lock()


@contextmanager
def memo() -> Iterator[None]:
    """Within this block (one build) each commit's facts are extracted once: the analysis, the prompt, the
    checks of a model's answer and the story of the day all ask for them, and a large day's diffs are slow
    to read. Kept by SHA and content, and dropped when the last block open ends."""
    global _memo_users
    with _memo_lock:
        _memo_users += 1
    try:
        yield
    finally:
        with _memo_lock:
            _memo_users -= 1
            if not _memo_users:
                _memo.clear()


def extract(commit: Commit) -> Facts:
    """Every fact of one commit: its files' diffs, then its PR body (or its message body). The same object
    for the same commit inside ``memo()``, read once even when several threads ask at once: read it, never
    change it."""
    if not _memo_users:
        return _extract(commit)
    # The SHA names the commit; the content guards against two different commits under one SHA (made-up days).
    content = (
        commit.message,
        commit.pr.body if commit.pr else None,
        tuple((f.path, f.status, f.patch) for f in commit.files),
    )
    key = (commit.sha, hash(content))
    with _memo_lock:
        found = _memo.get(key)
        reading = _reading.get(key) if found is None else None
        mine = found is None and reading is None
        if mine:
            reading = _reading[key] = threading.Event()
    if found is not None:
        return found
    assert reading is not None
    if not mine:  # another thread (the read-ahead, another check) is reading this diff: its facts, not a second read
        reading.wait()
        found = _memo.get(key)
        return found if found is not None else _extract(commit)  # its reading failed: this one reports why
    try:
        found = _extract(commit)
        with _memo_lock:
            if _memo_users:
                _memo[key] = found
        return found
    finally:
        with _memo_lock:
            _reading.pop(key, None)
        reading.set()


def _extract(commit: Commit) -> Facts:
    found: list[Fact] = []
    for change in commit.files:
        pause_point()
        found += file_facts(change)
    found = _unmoved(found)
    found += _renames(found)
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
    code = [f for f in commit.files if kind_of(f.path) in {Kind.SOURCE, Kind.TEST, Kind.EXAMPLE}]
    return Facts(
        facts=found,
        scope=scope_of(paths),
        files=len(paths),
        source_files=kinds[Kind.SOURCE],
        source_lines=sum(f.additions + f.deletions for f in commit.files if kind_of(f.path) is Kind.SOURCE),
        new_source_files=sum(1 for f in commit.files if kind_of(f.path) is Kind.SOURCE and f.status == "added"),
        new_example_files=sum(1 for f in commit.files if kind_of(f.path) is Kind.EXAMPLE and f.status == "added"),
        test_lines=sum(f.additions + f.deletions for f in commit.files if kind_of(f.path) is Kind.TEST),
        cosmetic=bool(code) and all(is_cosmetic(f) for f in code),
        areas=[d for d, _ in source_dirs.most_common(4)],
        tests_touched=kinds[Kind.TEST],
        docs_touched=kinds[Kind.DOCS],
        ci_touched=kinds[Kind.CI],
        examples_touched=kinds[Kind.EXAMPLE],
    )
