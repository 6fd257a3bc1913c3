"""Prompts are Jinja2 files under templates/prompts/ (a deployment may replace them: see template_files),
one per language and purpose. A template exports ``system`` (``{% set system %}…{% endset %}``) and renders
the user message as its body."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import jinja2

from newsletter import template_files
from newsletter.analyze import facts
from newsletter.analyze.base import Job
from newsletter.analyze.budget import DiffDigest, compress, estimate_tokens
from newsletter.analyze.facts import FactKind, Facts
from newsletter.i18n import check_language
from newsletter.models import AnalyzedCommit, Commit, Importance, Thread

# 2: answers pass the checks (newsletter/analyze/checks/) before they are cached; 3: one call per thread
PROMPT_VERSION = "3"
_MESSAGE_TOKENS = 1_500  # cap on the commit message and on the PR body, each
_FACTS_PER_KIND = 8
ADDITIONS_WITH_VALUE = {FactKind.FLAG_ADDED, FactKind.CONFIG_KEY_ADDED, FactKind.DEPENDENCY_ADDED}
_OVERVIEW_COMMITS = 60  # the overview sees at most this many commits, most important first
THREAD_MAX_COMMITS = 20  # the answer has one line per commit: beyond this the commits keep their own calls
_MEMBER_MESSAGE_TOKENS = 300  # cap on each commit's message in a thread's prompt
_MIN_DIFF = 250  # diff tokens each commit needs for its thread to fit one prompt
_FILES = ("_rules", "commit", "thread", "overview")  # the prompt files of a language (their digest: version)


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    digest: DiffDigest | None = None
    reminder: str | None = None  # a last user message: the language instruction again, on a retry

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.system) + estimate_tokens(self.user) + estimate_tokens(self.reminder or "")

    def reminded(self, language: str, *, json: bool) -> Prompt:
        """The same prompt with the language instruction repeated at the end (the retry of a wrong-language
        answer); ``json`` when the answer is the commit's JSON object rather than the overview's paragraph."""
        _, text = _render(f"reminder.{language}.j2", json=json)
        return dataclasses.replace(self, reminder=" ".join(text.split()))


@cache
def _env() -> jinja2.Environment:
    return template_files.environment(
        "prompts",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # plain text for a model, not HTML
    )


@cache
def version(language: str) -> str:
    """PROMPT_VERSION plus a digest of the prompt files: editing a prompt re-analyses instead of serving
    stale cached answers."""
    digest = hashlib.sha256()
    for name in _FILES:
        digest.update(template_files.path("prompts", f"{name}.{language}.j2").read_bytes())
    return f"{PROMPT_VERSION}.{digest.hexdigest()[:8]}"


def _clip(text: str | None, max_tokens: int) -> str:
    text = (text or "").strip()
    if estimate_tokens(text) <= max_tokens:
        return text
    keep = int(max_tokens * 3.5 * 0.9)
    return text[:keep] + "\n… (truncated)"


def fact_lines(found: Facts, per_kind: int = _FACTS_PER_KIND) -> list[str]:
    """The facts as the prompt shows them: per kind the first few, each with where it was found. The
    key-less analysis names only facts from these first ones, so all it says is in the prompt too."""
    lines = []
    found = found.for_reading()  # a rename as a rename, as the key-less analysis says it
    for kind in FactKind:
        for fact in found.of(kind)[:per_kind]:
            if kind is FactKind.RENAMED:
                lines.append(f"- renamed {fact.detail}: {fact.old} -> {fact.name} ({fact.source})")
                continue
            if fact.old and fact.new:
                value = f": {fact.old} -> {fact.new}"
            else:
                value = f" = {fact.new}" if fact.new and kind in ADDITIONS_WITH_VALUE else ""
            text = f" “{fact.quote}”" if fact.quote else ""
            extra = f" [{fact.detail}]" if fact.detail else ""
            lines.append(f"- {kind.value.replace('_', ' ')}: {fact.name}{value}{extra}{text} ({fact.source})")
    return lines


def _render(name: str, **values: object) -> tuple[str, str]:
    module = _env().get_template(name).make_module(values)
    return str(getattr(module, "system", "")).strip(), str(module).strip() + "\n"


def commit_prompt(job: Job, language: str, *, budget: int, schema: str | None = None) -> Prompt:
    """The prompt for one commit, at most ``budget`` estimated tokens (system and user message together)."""
    check_language(language)
    commit = job.commit
    pr = commit.pr
    values = {
        "repo": job.repo,
        "commit": commit,
        "message": _clip(commit.message, _MESSAGE_TOKENS),
        "pr": pr,
        "pr_body": _clip(pr.body, _MESSAGE_TOKENS) if pr else "",
        "schema": schema,
        "facts": fact_lines(facts.extract(commit)),
        "thread": job.thread,
    }
    name = f"commit.{language}.j2"
    system, user = _render(name, digest=DiffDigest(), **values)
    fixed = estimate_tokens(system) + estimate_tokens(user)
    room = max(budget - fixed, 500)
    for _ in range(4):
        digest = compress(commit.files, room)
        system, user = _render(name, digest=digest, **values)
        prompt = Prompt(system=system, user=user, digest=digest)
        # compress() works on estimates of the parts; the rendered whole decides. Shrink and retry on overshoot.
        overshoot = prompt.tokens - budget
        if overshoot <= 0 or room <= 500:
            break
        room = max(room - overshoot - 200, 500)
    return prompt


@dataclass(frozen=True)
class Member:
    """One commit as a thread's prompt shows it."""

    commit: Commit
    message: str
    digest: DiffDigest


def _need(commit: Commit) -> int:
    """Roughly what the commit's file list and whole diff would take in ``compress`` (which shows no patch in
    less than 80 tokens, and counts each file's line and header)."""
    return sum(max(estimate_tokens(f.patch or ""), 80) + 2 * estimate_tokens(f.path) + 40 for f in commit.files)


def _shares(commits: Sequence[Commit], room: int) -> list[int]:
    """``room`` split between the commits' diffs: a small diff takes what it needs, the large ones share
    the rest evenly."""
    needs = [_need(c) for c in commits]
    shares = [0] * len(commits)
    left = room
    for done, i in enumerate(sorted(range(len(commits)), key=lambda i: needs[i])):
        shares[i] = min(needs[i], left // (len(commits) - done))
        left -= shares[i]
    return shares


def thread_prompt(
    repo: str, thread: Thread, commits: Sequence[Commit], language: str, *, budget: int, schema: str | None = None
) -> Prompt | None:
    """The prompt for one change of several commits (shown oldest first), at most ``budget`` estimated tokens,
    or None when it does not fit: too many commits, or their messages and facts leave too little room for
    their diffs (the commits are then analysed one by one)."""
    check_language(language)
    if not 1 < len(commits) <= THREAD_MAX_COMMITS:
        return None
    ordered = sorted(commits, key=lambda c: (c.committed_at, c.sha))
    lead = next((c for c in ordered if c.sha == thread.lead), ordered[-1])
    values = {
        "repo": repo,
        "thread": thread,
        "pr": lead.pr,
        "pr_body": _clip(lead.pr.body, _MESSAGE_TOKENS) if lead.pr else "",
        "schema": schema,
        "facts": fact_lines(facts.combine(facts.extract(c) for c in ordered)),
    }
    name = f"thread.{language}.j2"

    def render(digests: Sequence[DiffDigest]) -> Prompt:
        members = [
            Member(c, _clip(c.message, _MEMBER_MESSAGE_TOKENS), d) for c, d in zip(ordered, digests, strict=True)
        ]
        system, user = _render(name, members=members, **values)
        return Prompt(system=system, user=user)

    room = budget - render([DiffDigest()] * len(ordered)).tokens
    for _ in range(4):
        if room < _MIN_DIFF * len(ordered):
            return None
        prompt = render([compress(c.files, share) for c, share in zip(ordered, _shares(ordered, room), strict=True)])
        overshoot = prompt.tokens - budget
        if overshoot <= 0:
            return prompt
        room -= overshoot + 200
    return None


def overview_prompt(repo: str, commits: Sequence[AnalyzedCommit], language: str) -> Prompt:
    check_language(language)
    ranked = sorted(commits, key=lambda c: Importance(c.analysis.importance).rank)[:_OVERVIEW_COMMITS]
    system, user = _render(f"overview.{language}.j2", repo=repo, commits=ranked)
    return Prompt(system=system, user=user)
