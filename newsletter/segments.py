"""Segments: readers of one list who chose the same (language, lowest importance, areas, cadence) get the same
issue, so each segment is narrowed and rendered once and delivery only fills in each reader's links.

The day's issue is composed once per language with every commit (the *base*); a segment's issue is the base
narrowed to what it asked for (``narrow``), with its own statistics and a line saying how much of the day
touched the reader's areas. A segment whose filters leave nothing gets no mail.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from newsletter.compose import stats
from newsletter.config import Settings
from newsletter.deliver.campaign import CampaignResult
from newsletter.deliver.message import MessageFactory, TokenMaker
from newsletter.deliver.service import SendableIssue, factory_for, issue_id
from newsletter.issue import Focus, Issue, Week
from newsletter.lifecycle import BodyStore, LifecycleStore, keep_part, load_part
from newsletter.models import AnalyzedCommit, Cadence, Importance, MailingList, ReaderPreferences, zone
from newsletter.preferences import touches
from newsletter.store.base import Recipient


@dataclass(frozen=True)
class Segment:
    language: str
    min_importance: Importance
    areas: tuple[str, ...] = ()
    cadence: Cadence = Cadence.DAILY

    @property
    def key(self) -> str:
        """Stable and short, for store keys: the areas by hash (a reader may choose many long paths)."""
        areas = hashlib.sha256("\n".join(self.areas).encode("utf-8")).hexdigest()[:12] if self.areas else "all"
        return f"{self.language}.{self.min_importance.value}.{self.cadence.value}.{areas}"


def list_segment(mailing_list: MailingList) -> Segment:
    """The segment of every reader who chose nothing: the list file's defaults."""
    return Segment(mailing_list.language, mailing_list.min_importance)


def segment_of(prefs: ReaderPreferences, mailing_list: MailingList) -> Segment:
    language = prefs.language if prefs.language in mailing_list.offered_languages else mailing_list.language
    return Segment(
        language=language,
        min_importance=prefs.min_importance or mailing_list.min_importance,
        areas=prefs.areas,
        cadence=prefs.cadence or Cadence.DAILY,
    )


def segments_of(
    choices: Iterable[tuple[str, ReaderPreferences]], mailing_list: MailingList, default: Segment | None = None
) -> dict[str, Segment]:
    """Email → segment of every reader whose choices put them outside ``default`` (the list's own segment)."""
    default = default or list_segment(mailing_list)
    found: dict[Segment, Segment] = {}  # one object per segment, however many readers share it
    segments = {}
    for email, prefs in choices:
        segment = segment_of(prefs, mailing_list)
        if segment != default:
            segments[email] = found.setdefault(segment, segment)
    return segments


def narrow(base: Issue, segment: Segment, *, whole_url: str | None = None) -> Issue:
    """The base issue (every commit, in the segment's language) as the segment reads it: the commits at or
    above its lowest importance that touch its areas; statistics over every commit touching its areas.

    A thread counts as a unit: it touches the areas when any of its commits does (then all of them count as
    touching), and it is shown, with every commit of it, when the thread's own importance is high enough —
    a model may rate a thread above each of its commits. A commit of a thread is never shown on its own rating.
    """
    rank = segment.min_importance.rank
    repos = []
    touching_all = []
    for digest in base.repos:
        by_sha = {c.commit.sha: c for c in digest.commits}
        touching_shas = {
            sha
            for sha, c in by_sha.items()
            if not segment.areas or any(touches(f.path, segment.areas) for f in c.commit.files)
        }
        shown_shas = {sha for sha in touching_shas if Importance(by_sha[sha].analysis.importance).rank <= rank}
        for thread in digest.threads:
            members = {sha for sha in thread.shas if sha in by_sha}
            if thread.importance is None or not members:  # not analysed as a whole: its commits stand alone
                continue
            shown_shas -= members
            if members & touching_shas:
                touching_shas |= members
                if thread.importance.rank <= rank:
                    shown_shas |= members
        touching = [c for c in digest.commits if c.commit.sha in touching_shas]
        shown = [c for c in digest.commits if c.commit.sha in shown_shas]
        update: dict[str, object] = {"commits": shown}
        if segment.areas:
            # The day overview speaks about the whole day ("41 commits today"): the reader's numbers are the
            # focus line and the glance; the whole day is one link away.
            update["stats"] = stats(touching)
            update["overview"] = None
        repos.append(digest.model_copy(update=update))
        touching_all.extend(touching)
    update = {"repos": repos}
    if segment.areas:
        update["stats"] = stats(touching_all)
        if base.week is not None:
            update["week"] = _narrow_week(base, touching_all)
        update["focus"] = Focus(
            areas=list(segment.areas), commits=len(touching_all), total=base.stats.commits, whole_url=whole_url
        )
    return base.model_copy(update=update)


def _narrow_week(base: Issue, touching: list[AnalyzedCommit]) -> Week:
    """A weekly issue's days as the reader of some areas sees them: each day's statistics over what touched the
    areas that day, and no day overview (it speaks about the whole day)."""
    assert base.week is not None
    tz = zone(base.timezone)
    by_day: dict[date, list[AnalyzedCommit]] = {}
    for c in touching:
        by_day.setdefault(c.commit.committed_at.astimezone(tz).date(), []).append(c)
    days = [d.model_copy(update={"stats": stats(by_day.get(d.date, [])), "overview": None}) for d in base.week.days]
    return base.week.model_copy(update={"days": days})


# Where these were kept before they were kept as parts of the issue (``lifecycle.keep_part``): the Cache, which
# may drop an entry. Still read, so that a campaign in progress across an upgrade sends what it began with.
_LEGACY_BASE = "issue-base"
_LEGACY_RENDER = "sent-issue"


def keep_base(store: LifecycleStore, bodies: BodyStore, issue_id: str, base: Issue) -> Issue:
    """Keep the base issue of one language (without the diffs, which no renderer reads) as a part of the issue,
    unless one is kept already: the first one wins, so that every segment is narrowed from the same analysis."""
    kept = load_base(store, bodies, issue_id, base.language)
    if kept is not None:
        return kept
    lean = base.model_dump(mode="json")
    for repo in lean["repos"]:
        for item in repo["commits"]:
            for change in item["commit"]["files"]:
                change["patch"] = None
    data = Issue.model_validate(lean).model_dump_json().encode("utf-8")
    key = f"{issue_id}@{base.language}"
    return Issue.model_validate_json(keep_part(store, bodies, key, base.list_id or "", base.date, data))


def load_base(store: LifecycleStore, bodies: BodyStore, issue_id: str, language: str) -> Issue | None:
    key = f"{issue_id}@{language}"
    data = load_part(store, bodies, key)
    if data is not None:
        return Issue.model_validate_json(data)
    value = store.get(_LEGACY_BASE, key)
    return Issue.model_validate(value) if value else None


def keep_render(store: LifecycleStore, bodies: BodyStore, sendable: SendableIssue, list_id: str) -> SendableIssue:
    """Keep a segment's render of the issue as a part of the issue (first writer wins: a resumed run must not
    change it); returns the kept one."""
    # "<list>/<day>#<segment>" or a week's "<list>/week-<last day>#<segment>" (newsletter/weekly.py)
    day = date.fromisoformat(sendable.issue_id.split("#", 1)[0].rsplit("/", 1)[-1].removeprefix("week-"))
    data = keep_part(store, bodies, sendable.issue_id, list_id, day, sendable.model_dump_json().encode("utf-8"))
    return SendableIssue.model_validate_json(data)


def load_render(store: LifecycleStore, bodies: BodyStore, key: str) -> SendableIssue | None:
    data = load_part(store, bodies, key)
    if data is not None:
        return SendableIssue.model_validate_json(data)
    value = store.get(_LEGACY_RENDER, key)
    return SendableIssue.model_validate(value) if value else None


def recent_areas(
    store: LifecycleStore, bodies: BodyStore, mailing_list: MailingList, today: date, *, days: int = 14
) -> list[str]:
    """The top-level folders (``python/``) the list's issues of the last ``days`` days touched: what the
    preferences page offers as areas, so that a reader picks among folders the repository actually has."""
    seen: set[str] = set()
    for back in range(1, days + 1):
        key = issue_id(mailing_list.id, today - timedelta(days=back))
        base = load_base(store, bodies, key, mailing_list.language)
        for repo in base.repos if base else []:
            seen.update(f"{f.path.split('/', 1)[0]}/" for c in repo.commits for f in c.commit.files if "/" in f.path)
    return sorted(seen)


def is_empty(issue: Issue) -> bool:
    return not any(repo.commits for repo in issue.repos)


@dataclass
class SegmentedMessages:
    """The message factory a campaign uses when readers chose differently: each reader's message comes from
    their segment's factory, made (and its issue rendered) the first time a reader of that segment is reached.

    ``make`` returns a segment's factory, or None when its filters leave nothing today (no mail).
    """

    default: MessageFactory
    segments: Mapping[str, Segment]
    make: Callable[[Segment], MessageFactory | None]
    factories: dict[Segment, MessageFactory | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def list(self) -> MailingList:
        return self.default.list

    def build(self, email: str, name: str | None = None) -> bytes:
        return self.default.build(email, name)

    def build_for(self, recipient: Recipient) -> bytes | None:
        segment = self.segments.get(recipient.email)
        if segment is None:
            return self.default.build(recipient.email, recipient.name)
        factory = self.factory(segment)
        return factory.build(recipient.email, recipient.name) if factory is not None else None

    def factory(self, segment: Segment) -> MessageFactory | None:
        with self._lock:  # the campaign's workers reach a new segment together: render it once
            if segment not in self.factories:
                self.factories[segment] = self.make(segment)
            return self.factories[segment]


def segment_messages(
    mailing_list: MailingList,
    sendable: SendableIssue,
    *,
    settings: Settings,
    tokens: TokenMaker,
    store: LifecycleStore,
    bodies: BodyStore,
    choices: Iterable[tuple[str, ReaderPreferences]],
    base: Callable[[str], Issue],
    default: Segment | None = None,
) -> tuple[MessageFactory | SegmentedMessages, CampaignResult]:
    """Where each reader's message comes from: the list's issue, or their segment's (``choices``: the readers'
    preferences), narrowed from ``base`` (the day's base issue in a language), rendered once and kept, so that a
    resumed run sends the same bytes. The result carries the segment counts for the campaign's summary.
    ``default``: the segment ``sendable`` was made for (the list's own; the weekly one for a weekly issue)."""
    counts = CampaignResult(sendable.issue_id)
    readers = segments_of(choices, mailing_list, default)
    everyone = factory_for(mailing_list, sendable, settings=settings, tokens=tokens)
    if not readers:
        return everyone, counts
    counts.segments = len(set(readers.values()))

    def make(segment: Segment) -> MessageFactory | None:
        key = f"{sendable.issue_id}#{segment.key}"
        kept = load_render(store, bodies, key)
        if kept is None:
            # Imported here: a sender Lambda whose segments were rendered by an earlier batch never loads MJML.
            from newsletter.render.email import render_issue

            issue = narrow(base(segment.language), segment, whole_url=sendable.view_url)
            if is_empty(issue):
                return None
            # The reader's "view in browser" and "read the whole issue" both lead to the list's archived issue.
            rendered = render_issue(issue.model_copy(update={"web_url": sendable.view_url}))
            made = SendableIssue(issue_id=key, rendered=rendered, view_url=sendable.view_url)
            kept = keep_render(store, bodies, made, mailing_list.id)
            counts.rendered += 1
        return factory_for(mailing_list, kept, settings=settings, tokens=tokens)

    return SegmentedMessages(everyone, readers, make), counts
