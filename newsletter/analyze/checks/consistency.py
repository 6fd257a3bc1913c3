"""Consistency with the diff: where the facts are certain, the model's answer does not get to disagree.

- the diff removes (or renames) a flag, an environment variable, a config key or a route, or changes the
  default of a flag or config field from one literal value to another → ``breaking_change`` is true, and a
  risk says which (readers see the fact);
- the diff touches only CI, tests or docs → importance is not high (low, as the rubric has it);
- a licence or notice changes → the change type is ``legal``.

"Certain" is narrower than the facts themselves: a removed public *symbol* of an application is often
internal, and a default whose old or new value is not a literal (``Field(default=…)``, a multi-line call)
is often the same default rewritten; neither overrules the model. Merges of another branch into a feature
branch bring in changes that are not the branch's own, so they are left alone. Each correction is recorded
on the analysis (``corrections``) for operators to see how often the model is overruled.
"""

from __future__ import annotations

import re

from newsletter.analyze.facts import Fact, FactKind, Facts
from newsletter.i18n import t
from newsletter.models import Analysis, ChangeType, Commit, Importance

_USER_REMOVALS = (FactKind.FLAG_REMOVED, FactKind.ENV_REMOVED, FactKind.CONFIG_KEY_REMOVED, FactKind.ROUTE_REMOVED)
_LITERAL = re.compile(r"""-?\d[\d_.eE+-]*|"[^"]*"|'[^']*'|True|False|None|true|false|null""")
_BRANCH_MERGE = re.compile(r"^Merge (remote-tracking )?branch\b")
_SHOWN = 3  # facts named in the risk a correction adds


def _certain_default(fact: Fact) -> bool:
    if fact.detail == "config":  # a value in a shipped config file, not a default users rely on
        return False
    old, new = (fact.old or "").strip(), (fact.new or "").strip()
    literal = bool(_LITERAL.fullmatch(old)) and bool(_LITERAL.fullmatch(new))
    return literal and old.strip("\"'") != new.strip("\"'")


def breaking_facts(commit: Commit, facts: Facts) -> list[Fact]:
    """The facts that make the commit certainly breaking for users (none when it is not certain)."""
    if _BRANCH_MERGE.match(commit.title):
        return []
    removals = facts.of(*_USER_REMOVALS)
    defaults = [f for f in facts.of(FactKind.DEFAULT_CHANGED) if _certain_default(f)]
    return removals + defaults


def _describe(fact: Fact, language: str) -> str:
    return t(language, f"checks.{fact.kind.value}", name=fact.name, old=fact.old or "", new=fact.new or "")


def reconcile(answer: Analysis, commit: Commit, facts: Facts, language: str) -> Analysis:
    """``answer`` with what contradicts the certain facts corrected, and the corrections recorded."""
    update: dict[str, object] = {}
    corrections: list[str] = []
    breaking = breaking_facts(commit, facts)
    if breaking and not answer.breaking_change:
        named = ", ".join(f"{f.kind.value} {f.name}" for f in breaking[:_SHOWN])
        corrections.append(f"breaking_change: false → true ({named})")
        listed = t(language, "checks.separator").join(_describe(f, language) for f in breaking[:_SHOWN])
        update["breaking_change"] = True
        update["risks"] = [t(language, "checks.breaking", facts=listed), *answer.risks]
    if facts.only_ci_tests_docs() and answer.importance is Importance.HIGH:
        corrections.append(f"importance: high → low ({facts.scope.value} only)")
        update["importance"] = Importance.LOW
    if facts.licence_changed() and answer.change_type is not ChangeType.LEGAL:
        files = ", ".join(f.name for f in facts.of(FactKind.LICENCE_CHANGED)[:_SHOWN])
        corrections.append(f"change_type: {answer.change_type.value} → legal ({files})")
        update["change_type"] = ChangeType.LEGAL
    if not corrections:
        return answer
    return answer.model_copy(update={**update, "corrections": [*answer.corrections, *corrections]})
