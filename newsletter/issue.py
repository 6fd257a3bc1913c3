"""The issue as it is composed and read: a repository's digest of the day (or week), the cards a reader sees, the
statistics, and the issue itself — the only input of every renderer (newsletter/render/).

Made of the plain data of ``newsletter.models`` (the commits and their analysis, the lists); like those, it
knows nothing about HTTP, SQL or AWS.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from newsletter.models import (
    Analysis,
    AnalyzedCommit,
    BulkImport,
    ChangeType,
    Commit,
    Importance,
    Model,
    Thread,
    Usage,
    Window,
)


class RepoStats(Model):
    commits: int = 0
    by_importance: dict[Importance, int] = Field(default_factory=dict)
    by_type: dict[ChangeType, int] = Field(default_factory=dict)
    authors: int = 0
    additions: int = 0
    deletions: int = 0
    files_changed: int = 0
    top_dirs: list[tuple[str, int]] = Field(default_factory=list)


class RepoDigest(Model):
    repo: str
    branch: str
    window: Window
    overview: str | None = None
    commits: list[AnalyzedCommit] = Field(default_factory=list)  # newest first
    threads: list[Thread] = Field(default_factory=list)  # changes of several commits, most important first
    shape: list[str] = Field(default_factory=list)  # what kind of day it was (bulk import, release …)
    bulk_import: BulkImport | None = None  # set: the commit table and the statistics go by authored dates
    stats: RepoStats = Field(default_factory=RepoStats)
    degraded: bool = False
    warnings: list[str] = Field(default_factory=list)

    def group(self, importance: Importance) -> list[AnalyzedCommit]:
        return [c for c in self.commits if c.analysis.importance == importance]

    def cards(self, importance: Importance) -> list[Card]:
        """What a reader sees at one importance: each thread once (its commits listed inside), then the
        commits of no thread, newest first. Every shown commit is in exactly one card."""
        by_sha = {c.commit.sha: c for c in self.commits}
        cards: list[Card] = []
        threaded: set[str] = set()
        for thread in self.threads:
            members = [by_sha[sha] for sha in thread.shas if sha in by_sha]
            threaded |= {m.commit.sha for m in members}
            if thread.importance == importance and members and thread.analysis is not None:
                lead = by_sha.get(thread.lead, members[0])
                cards.append(
                    Card(
                        title=thread.title,
                        anchor=thread.id,
                        lead=lead,
                        analysis=thread.analysis,
                        thread=thread,
                        members=members,
                    )
                )
        for c in self.commits:
            if c.commit.sha not in threaded and c.analysis.importance == importance:
                cards.append(
                    Card(title=c.commit.speaking_title, anchor=c.commit.short_sha, lead=c, analysis=c.analysis)
                )
        return cards

    def card_of(self, sha: str) -> str:
        """The anchor of the card a commit is shown in."""
        for thread in self.threads:
            if sha in thread.shas:
                return thread.id
        return sha[:7]


class Card(Model):
    """One change as a reader sees it: a thread (its analysis, its commits listed compactly) or one commit."""

    title: str
    anchor: str
    lead: AnalyzedCommit
    analysis: Analysis
    thread: Thread | None = None
    members: list[AnalyzedCommit] = Field(default_factory=list)

    @property
    def commit(self) -> Commit:
        return self.lead.commit


class Focus(Model):
    """What a reader who follows areas of the code is told: how much of the day touched them."""

    areas: list[str]
    commits: int  # commits touching the areas
    total: int  # commits of the day
    whole_url: str | None = None  # the whole issue on the web


class DaySummary(Model):
    """One day of a weekly issue: its statistics and its overview condensed to a sentence per repository."""

    date: date
    stats: RepoStats = Field(default_factory=RepoStats)
    overview: str | None = None


class Week(Model):
    """What makes an Issue a weekly one: the seven days it covers (``Issue.date`` is the last)."""

    start: date
    end: date
    days: list[DaySummary] = Field(default_factory=list)


class Issue(Model):
    """One day's digest for one list, or one week's (``week``): the only input of every renderer."""

    list_id: str | None = None
    title: str
    date: date
    timezone: str
    language: str = "en"  # "en" | "zh-CN"
    repos: list[RepoDigest] = Field(default_factory=list)
    stats: RepoStats = Field(default_factory=RepoStats)  # all repositories together
    usage: Usage = Field(default_factory=Usage)
    generated_at: datetime
    web_url: str | None = None  # where the full issue lives on the web archive
    # From the list (MailingList.postal_address): CAN-SPAM wants the sender's address in every footer.
    postal_address: str | None = None
    focus: Focus | None = None  # a reader's issue narrowed to their areas (newsletter/segments.py)
    week: Week | None = None  # a weekly issue (newsletter/weekly.py)

    @property
    def commit_count(self) -> int:
        return sum(len(r.commits) for r in self.repos)
