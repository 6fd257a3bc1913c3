"""Plain data that flows between the stages: collect → analyse → compose → render → deliver → archive.

Here: the commits collected and their analysis, the lists and their readers' choices, the rendered issue; the
issue as composed (the digests of the repositories, its statistics, ``Issue``) is in ``newsletter.issue``.
Every stage takes and returns these models and nothing else; none of them knows about HTTP, SQL or AWS.
All datetimes are timezone-aware and stored in UTC; a list's timezone only matters for the window and
for display.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from newsletter.errors import InputError

_UTC = ZoneInfo("UTC")
# GitHub's own rules: owner 1-39 chars of [A-Za-z0-9-], repo [A-Za-z0-9._-]; branch anything git allows.
_SPEC = re.compile(r"^(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9._-]+)(?:@(?P<branch>[^\s@]+))?$")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------- collect


class RepoSpec(Model):
    """``owner/repo[@branch]``; no branch means the repository's default branch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str
    name: str
    branch: str | None = None

    @classmethod
    def parse(cls, text: str) -> RepoSpec:
        match = _SPEC.match(text.strip())
        if not match or match["name"] in {".", ".."}:
            raise InputError(f"malformed repository {text!r}", hint="expected OWNER/REPO or OWNER/REPO@BRANCH")
        return cls(owner=match["owner"], name=match["name"], branch=match["branch"])

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def __str__(self) -> str:
        return f"{self.full_name}@{self.branch}" if self.branch else self.full_name


def zone(name: str) -> ZoneInfo:
    """An IANA timezone, or an InputError that names it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InputError(f"unknown timezone {name!r}", hint="use an IANA name such as Asia/Shanghai") from err


class Window(Model):
    """Half-open interval [start, end) in UTC, plus the timezone the day was defined in."""

    start: datetime
    end: datetime
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value.astimezone(_UTC)

    @classmethod
    def for_day(cls, day: date, tz: str) -> Window:
        """[00:00, 24:00) of ``day`` in ``tz``; 23 or 25 hours long across a DST change."""
        zi = zone(tz)
        start = datetime.combine(day, time(0), zi)
        end = datetime.combine(day + timedelta(days=1), time(0), zi)
        return cls(start=start, end=end, timezone=tz)

    @classmethod
    def between(cls, since: datetime, until: datetime, tz: str = "UTC") -> Window:
        if until <= since:
            raise InputError(f"empty window: --until {until.isoformat()} is not after --since {since.isoformat()}")
        return cls(start=since, end=until, timezone=tz)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def local_date(self) -> date:
        return self.start.astimezone(zone(self.timezone)).date()


class Person(Model):
    name: str
    email: str | None = None
    login: str | None = None

    @property
    def is_bot(self) -> bool:
        return bool(self.login and self.login.endswith("[bot]")) or self.name.endswith("[bot]")


class FileChange(Model):
    path: str
    status: str  # added, removed, modified, renamed, copied, changed, unchanged
    additions: int = 0
    deletions: int = 0
    patch: str | None = None  # GitHub omits it for binary and very large files
    previous_path: str | None = None


class PullRequest(Model):
    number: int
    title: str | None = None
    body: str | None = None
    labels: list[str] = Field(default_factory=list)
    url: str | None = None


class Commit(Model):
    sha: str
    url: str
    title: str
    message: str
    author: Person
    committer: Person | None = None
    committed_at: datetime
    authored_at: datetime
    pr: PullRequest | None = None
    additions: int = 0
    deletions: int = 0
    files: list[FileChange] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    is_merge: bool = False
    # From the Atom feed only: no files, no stats, no parents.
    degraded: bool = False

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def speaking_title(self) -> str:
        """A PR merge's PR title ("Add X (#12)") rather than "Merge pull request #12 from …"."""
        if self.pr and self.pr.title and len(self.parents) > 1 and self.title.startswith("Merge pull request"):
            return f"{self.pr.title} (#{self.pr.number})"
        return self.title


class RepoCommits(Model):
    """What collect returns for one repository: the branch's commits in the window, newest first."""

    repo: str
    branch: str
    window: Window
    commits: list[Commit]
    degraded: bool = False
    warnings: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------- analyse


class Importance(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"high": 0, "medium": 1, "low": 2}[self.value]


class ChangeType(StrEnum):
    FEATURE = "feature"
    FIX = "fix"
    REFACTOR = "refactor"
    PERF = "perf"
    DOCS = "docs"
    TEST = "test"
    BUILD_CI = "build/ci"
    CHORE = "chore"
    REVERT = "revert"
    SECURITY = "security"
    LEGAL = "legal"  # licence or notice changes


class Insights(Model):
    architecture: str | None = None
    performance: str | None = None
    security: str | None = None
    maintainability: str | None = None


class Analysis(Model):
    """What a commit means. The fields up to ``mismatch_note`` are what a model is asked for."""

    change_type: ChangeType
    importance: Importance
    headline: str
    summary: list[str] = Field(default_factory=list)
    impact: str | None = None
    insights: Insights = Field(default_factory=Insights)
    risks: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    breaking_change: bool = False
    security_relevant: bool = False
    message_matches_diff: bool = True
    mismatch_note: str | None = None
    # How it was produced.
    analyzer: str = "heuristic"  # "llm" | "heuristic"
    model: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    fallback_reason: str | None = None  # why the heuristic stands in for the model, when it does
    # What the checks of a model's answer changed (newsletter/analyze/checks/): figures and `identifiers`
    # found nowhere in the sources, whose sentence or bullet was dropped, and the fields overruled by the facts.
    ungrounded: list[str] = Field(default_factory=list)
    corrections: list[str] = Field(default_factory=list)


class AnalyzedCommit(Model):
    commit: Commit
    analysis: Analysis


class ThreadKind(StrEnum):
    PR = "pr"  # a pull request's merge commit and the commits it brings in
    SERIES = "series"  # one author's run of commits, or commits under one scope ("qwen3.5/M1")
    REVERT = "revert"  # a commit and its same-day revert
    BRANCH = "branch"  # merges of the default branch into one feature branch


class Thread(Model):
    """One change made of several commits of the day. Found from the commits alone (compose.threads), so the
    analysis can see the thread; ``importance`` and ``analysis`` are filled once the commits are analysed."""

    id: str
    kind: ThreadKind
    title: str
    shas: list[str]  # every commit of the thread, newest first
    lead: str  # the commit that stands for the whole: the PR's merge, else the largest change
    pr: int | None = None
    importance: Importance | None = None
    analysis: Analysis | None = None


# -------------------------------------------------------- bulk imports, cost (the issue itself: issue.py)


class BulkImport(Model):
    """Many commits committed within minutes but authored over a long span: a history rewrite or an import,
    not a day's work. Where it is found, the commit table shows when each commit was authored."""

    commits: int
    minutes: int  # the window they were committed in
    first_authored: date
    last_authored: date


class Usage(Model):
    """What one run cost: kept with the issue and printed at the end."""

    analyzer: str = "heuristic"
    model: str | None = None
    llm_calls: int = 0
    cache_hits: int = 0
    heuristic: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    # The checks of the model's answers: figures and identifiers dropped as ungrounded, answers asked again
    # for the list's language, fields corrected by the facts of the diff.
    figures_dropped: int = 0
    language_retries: int = 0
    corrections: int = 0


# --------------------------------------------------------------------------------------------- lists


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class Weekday(StrEnum):
    """The day of the week a list sends its weekly issue (``weekly_day``)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """As ``date.weekday()`` counts: Monday is 0."""
        return list(Weekday).index(self)


class ReaderPreferences(Model):
    """What one reader chose for one list; None (or no areas) means the list's default. Areas are path
    prefixes ("python/sglang/srt/"): a commit matches when it touches a file under one of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_importance: Importance | None = None
    areas: tuple[str, ...] = ()
    language: str | None = None
    cadence: Cadence | None = None

    @property
    def is_default(self) -> bool:
        return self == ReaderPreferences()


class MailingList(Model):
    """One mailing list, from ``subscribers/<id>.toml``: what it watches, for whom, when, in which language.
    Never holds addresses (those live in the store)."""

    id: str
    title: str
    description: str | None = None
    repos: list[RepoSpec]
    timezone: str = "UTC"
    language: str = "en"  # "en" | "zh-CN"
    send_at: time = time(8, 0)  # local time of day in ``timezone``
    # Readers on the weekly cadence get the week's issue on this day (at ``send_at``), covering the seven days
    # before it.
    weekly_day: Weekday = Weekday.MONDAY
    sender: str  # From, e.g. "Commit Digest <digest@example.com>"
    reply_to: str | None = None
    postal_address: str  # CAN-SPAM: the sender's physical address, shown in every footer
    skip_empty_days: bool = True
    min_importance: Importance = Importance.LOW
    # The languages a reader may choose (``language`` is the default and always offered).
    languages: list[str] = Field(default_factory=list)
    exclude_bots: bool = True
    exclude_merges: bool = False
    analyzer: str | None = None  # overrides: "auto" | "llm" | "heuristic"
    model: str | None = None
    delivery: str | None = None  # overrides NEWSLETTER_DELIVERY: "ses" | "smtp" | "outbox"

    @property
    def offered_languages(self) -> list[str]:
        return [self.language, *(lang for lang in self.languages if lang != self.language)]


# --------------------------------------------------------------------------------------------- render


class Placeholder(StrEnum):
    """Per-recipient values left in the rendered HTML and text: MJML runs once per issue, and the delivery
    stage substitutes these (HTML-escaped in the HTML part) for each recipient. Only what differs between
    readers: the issue's web address is the same for all, and is in the render itself (``Issue.web_url``)."""

    UNSUBSCRIBE_URL = "%%unsubscribe_url%%"
    PREFERENCES_URL = "%%preferences_url%%"
    EMAIL = "%%email%%"


class RenderedIssue(Model):
    """One render of one issue: the email's parts with placeholders, ready to personalise and archive."""

    subject: str
    preheader: str
    html: str
    text: str
    markdown: str
    html_bytes: int
    # The whole issue for the web archive, never shed. Not kept with the sendable issue (it can weigh
    # megabytes, past a DynamoDB item): the archive publishes it right after the render.
    web_html: str = Field(default="", exclude=True)
    shed: list[str] = Field(default_factory=list)  # what the size budget removed, in order
