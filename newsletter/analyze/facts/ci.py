"""CI workflows (GitHub Actions, GitLab, …): which workflow files changed, and jobs added or removed."""

from __future__ import annotations

import re

from newsletter.analyze.facts.common import sides
from newsletter.analyze.facts.model import Fact, FactKind

_WORKFLOW = re.compile(r"^(\.github/workflows/|\.gitlab-ci|\.circleci/|\.buildkite/|azure-pipelines|Jenkinsfile)")
_JOB = re.compile(r"^  (?P<name>[A-Za-z_][\w-]*):\s*$", re.M)


def is_workflow(path: str) -> bool:
    return bool(_WORKFLOW.match(path))


def extract(path: str, patch: str | None, status: str) -> list[Fact]:
    facts = [Fact(kind=FactKind.WORKFLOW_CHANGED, name=path.rsplit("/", 1)[-1], path=path, detail=status)]
    old_text, new_text = sides(patch)
    old, new = set(_JOB.findall(old_text)), set(_JOB.findall(new_text))
    facts += [
        Fact(kind=FactKind.WORKFLOW_CHANGED, name=job, path=path, detail="job added") for job in sorted(new - old)
    ]
    facts += [
        Fact(kind=FactKind.WORKFLOW_CHANGED, name=job, path=path, detail="job removed") for job in sorted(old - new)
    ]
    return facts
