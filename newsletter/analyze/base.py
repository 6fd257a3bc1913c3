"""What every analyzer offers the pipeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from newsletter.models import Analysis, AnalyzedCommit, Commit, Thread, Usage

ProgressFn = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Job:
    """One commit to analyse, with the repository it belongs to (the prompt names it)."""

    repo: str
    commit: Commit
    thread: Thread | None = None  # the change this commit is part of, when it is part of one


class Analyzer(Protocol):
    name: str  # "llm" | "heuristic"
    model: str | None
    usage: Usage  # what this analyzer has spent so far in this run

    def analyze(self, jobs: Sequence[Job], *, language: str, progress: ProgressFn | None = None) -> list[Analysis]:
        """One analysis per job, in the jobs' order; never fewer (failures fall back to the heuristic)."""
        ...

    def overview(
        self, repo: str, commits: Sequence[AnalyzedCommit], *, language: str, threads: Sequence[Thread] = ()
    ) -> str | None:
        """A short paragraph on the repository's day, or None when there is nothing to say."""
        ...

    def threads(self, threads: Sequence[Thread], commits: Sequence[AnalyzedCommit], *, language: str) -> list[Thread]:
        """The threads with their importance (the highest of their commits) and one analysis of the whole,
        most important first."""
        ...
