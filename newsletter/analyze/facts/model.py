"""The plain data of facts: what a diff or a pull request says, each with where it was found.

Facts are extracted once per commit (``facts.extract``) and read by the key-less analyzer, by the model's
prompt and by the checks of the model's answer. A fact never carries an interpretation, only what is in the
source: a name, the old and new value, the file (or PR section) and, for quotes, the verbatim text.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FactKind(StrEnum):
    FLAG_ADDED = "flag_added"  # a command-line flag or option (argparse, click, typer, flag, cobra, clap, yargs …)
    FLAG_REMOVED = "flag_removed"
    ENV_ADDED = "env_added"  # an environment variable the code now reads
    ENV_REMOVED = "env_removed"  # … no longer reads
    CONFIG_KEY_ADDED = "config_key_added"  # a key of a YAML/TOML/JSON config file, or a config class field
    CONFIG_KEY_REMOVED = "config_key_removed"
    DEFAULT_CHANGED = "default_changed"  # a flag's, option's or config field's default: old → new
    SYMBOL_ADDED = "symbol_added"  # public function, class, method, type (module level, not _private)
    SYMBOL_REMOVED = "symbol_removed"
    ROUTE_ADDED = "route_added"  # an HTTP route
    ROUTE_REMOVED = "route_removed"
    # A removed and an added flag, env variable, config key, symbol or route of one file that pair up clearly
    # (similar names, or the same value): name = the new name, old = the old name, detail = what it is. The
    # removal and the addition stay among the facts (the rules read them); readers are told "renamed".
    RENAMED = "renamed"
    DEPENDENCY_ADDED = "dependency_added"  # name (new = version spec)
    DEPENDENCY_REMOVED = "dependency_removed"
    DEPENDENCY_CHANGED = "dependency_changed"  # name: old → new
    VERSION_CHANGED = "version_changed"  # the project's own version in its manifest: old → new (a release)
    IMAGE_CHANGED = "image_changed"  # Dockerfile FROM: old → new
    LICENCE_CHANGED = "licence_changed"  # a licence/notice file, an SPDX header or a manifest's licence field
    FILE_DELETED = "file_deleted"
    TESTS_ADDED = "tests_added"  # a test function or test file (name = the test)
    WORKFLOW_CHANGED = "workflow_changed"  # a CI workflow file (name = the workflow file)
    PR_SECTION = "pr_section"  # a section of the PR body (name = heading, quote = its first paragraph)
    PR_FIGURE = "pr_figure"  # a line of the PR body (or commit message) with figures, quoted verbatim


# Facts that take something away from users: scripts, configs or imports that use it break.
REMOVALS = frozenset(
    {
        FactKind.FLAG_REMOVED,
        FactKind.ENV_REMOVED,
        FactKind.CONFIG_KEY_REMOVED,
        FactKind.SYMBOL_REMOVED,
        FactKind.ROUTE_REMOVED,
    }
)
ADDITIONS = frozenset(
    {FactKind.FLAG_ADDED, FactKind.ENV_ADDED, FactKind.CONFIG_KEY_ADDED, FactKind.SYMBOL_ADDED, FactKind.ROUTE_ADDED}
)
RENAMEABLE = REMOVALS | ADDITIONS


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FactKind
    name: str  # the flag, variable, key, symbol, route, package, file, test or PR section
    path: str | None = None  # the file it was found in; None for the PR body / commit message
    section: str | None = None  # for the PR body: the heading it sits under ("Benchmark"); "commit message"
    old: str | None = None  # previous value (default, version, image), verbatim
    new: str | None = None  # new value, verbatim
    detail: str | None = None  # e.g. "choices: a, b"; the symbol's kind ("class", "func")
    quote: str | None = None  # the author's own words, verbatim (PR sections and figures)

    @property
    def source(self) -> str:
        """Where it was found, for a reader: the file, or the PR body's section."""
        if self.path:
            return self.path
        return (
            f"PR body · {self.section}"
            if self.section and self.section != "commit message"
            else (self.section or "PR body")
        )


class Scope(StrEnum):
    """What kinds of files the diff touches, when it is only one kind of peripheral file."""

    CODE = "code"  # touches source (or anything users run)
    DOCS = "docs"
    TESTS = "tests"
    CI = "ci"
    CI_TESTS_DOCS = "ci_tests_docs"  # a mix of only those three
    NONE = "none"  # no files known (Atom-degraded commit)


class Facts(BaseModel):
    """Everything extracted from one commit (or one thread: ``merge``)."""

    model_config = ConfigDict(extra="forbid")

    facts: list[Fact] = Field(default_factory=list)
    scope: Scope = Scope.NONE
    files: int = 0
    source_files: int = 0  # files of kind SOURCE (what users run)
    source_lines: int = 0  # lines added + deleted in those files
    new_source_files: int = 0
    new_example_files: int = 0
    test_lines: int = 0
    cosmetic: bool = False  # every code change is formatting or import order only
    areas: list[str] = Field(default_factory=list)  # the main folders of the source files, most touched first
    tests_touched: int = 0
    docs_touched: int = 0
    ci_touched: int = 0
    examples_touched: int = 0

    def of(self, *kinds: FactKind) -> list[Fact]:
        return [fact for fact in self.facts if fact.kind in kinds]

    def removes_public_surface(self) -> bool:
        return bool(self.of(*REMOVALS))

    def adds_public_surface(self) -> bool:
        return bool(self.of(*ADDITIONS))

    def changes_default(self) -> bool:
        return bool(self.of(FactKind.DEFAULT_CHANGED))

    def only_ci_tests_docs(self) -> bool:
        return self.scope in {Scope.DOCS, Scope.TESTS, Scope.CI, Scope.CI_TESTS_DOCS}

    def licence_changed(self) -> bool:
        return bool(self.of(FactKind.LICENCE_CHANGED))

    def for_reading(self) -> Facts:
        """The facts as readers are told them: a rename once, as a rename, not also as a removal and an
        addition."""
        renames = self.of(FactKind.RENAMED)
        if not renames:
            return self
        paired = {(f.path, f.old) for f in renames} | {(f.path, f.name) for f in renames}
        kept = [f for f in self.facts if f.kind not in RENAMEABLE or (f.path, f.name) not in paired]
        return self.model_copy(update={"facts": kept})

    def breaking(self) -> bool:
        """Users must change code, configuration or commands: something public went away or a default moved."""
        return self.removes_public_surface() or self.changes_default()
