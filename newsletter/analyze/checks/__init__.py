"""Checks of a model's answer before anyone reads it: every figure and identifier grounded in what the model
was shown (``grounding``), prose in the list's language (``language``), and flags that do not contradict
what the diff certainly does (``consistency``).

The analyzer calls them after every answer (commit and day overview); what they change is recorded on the
analysis (``ungrounded``, ``corrections``) and counted in the run's ``Usage``.
"""

from __future__ import annotations

from collections import Counter

from newsletter.analyze.checks.consistency import breaking_facts, reconcile
from newsletter.analyze.checks.grounding import Sources, clean, clean_items, figures, ungrounded
from newsletter.analyze.checks.language import in_language
from newsletter.analyze.paths import kind_of
from newsletter.models import Analysis, Commit, Insights

__all__ = [
    "Sources",
    "breaking_facts",
    "clean",
    "commit_sources",
    "figures",
    "ground",
    "in_language",
    "prose",
    "reconcile",
    "ungrounded",
]


def prose(analysis: Analysis) -> list[str]:
    """The text fields of an analysis a reader sees, in order."""
    insights = [v for v in analysis.insights.model_dump().values() if v]
    return [
        analysis.headline,
        *analysis.summary,
        *([analysis.impact] if analysis.impact else []),
        *insights,
        *analysis.risks,
        *analysis.recommendations,
        *([analysis.mismatch_note] if analysis.mismatch_note else []),
    ]


def stats_text(commit: Commit) -> str:
    """The counts a reader of the prompt can take off its file list (files by status and by kind, lines
    added and removed, every path): the model was shown them, so stating them is grounded."""
    files = commit.files
    statuses = Counter(f.status for f in files)
    kinds = Counter(kind_of(f.path).value for f in files)
    lines = [
        f"{len(files)} files, +{commit.additions}/-{commit.deletions} lines",
        ", ".join(f"{count} {status}" for status, count in statuses.items()),
        ", ".join(f"{count} {kind}" for kind, count in kinds.items()),
    ]
    lines += [f"{f.path} (+{f.additions}/-{f.deletions})" for f in files]
    return "\n".join(lines)


def commit_sources(commit: Commit, prompt_user: str, *extra: str | None) -> Sources:
    """What the model was shown for ``commit``: the user message of its prompt (message, pull request,
    file list, diff, and the facts when the prompt carries them), the counts of its file list, ``extra``."""
    return Sources.of(prompt_user, stats_text(commit), *extra)


def ground(answer: Analysis, sources: Sources, keyless: Analysis) -> Analysis:
    """``answer`` without the sentences and bullets that state what ``sources`` do not; a field left empty
    takes the key-less analysis' field. Unchanged (the same object) when everything is grounded."""
    dropped: list[str] = []
    headline = clean(answer.headline, sources, dropped) or keyless.headline
    summary = clean_items(answer.summary, sources, dropped) or keyless.summary
    impact = clean(answer.impact, sources, dropped) if answer.impact else None
    insights = Insights(**{k: clean(v, sources, dropped) for k, v in answer.insights.model_dump().items()})
    risks = clean_items(answer.risks, sources, dropped)
    recommendations = clean_items(answer.recommendations, sources, dropped)
    mismatch_note = clean(answer.mismatch_note, sources, dropped)
    if not dropped:
        return answer
    return answer.model_copy(
        update={
            "headline": headline,
            "summary": summary,
            "impact": impact if impact or not answer.impact else keyless.impact,
            "insights": insights,
            "risks": risks if risks or not answer.risks else keyless.risks,
            "recommendations": recommendations if recommendations or not answer.recommendations else [],
            "mismatch_note": mismatch_note,
            "ungrounded": list(dict.fromkeys([*answer.ungrounded, *dropped])),
        }
    )
