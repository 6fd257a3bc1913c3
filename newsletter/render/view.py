"""What every renderer shows, prepared once from an Issue: plain values, safe links, strings of one language.

Everything that comes from commits or from a language model is untrusted. Here it is clipped to sane lengths
and its links are validated (only http(s) with a host); escaping is left to the templates (autoescape on),
so a title like ``<img src=x onerror=alert(1)>`` arrives there as text and leaves as text.
"""

from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass, field

from newsletter.issue import Card, Issue, RepoDigest
from newsletter.models import Analysis, AnalyzedCommit, Commit, Importance, Placeholder, ThreadKind, zone
from newsletter.render.catalogue import Catalogue
from newsletter.render.links import LOCAL_WEB_VERSION, page_url, safe_url
from newsletter.render.subject import subject_line, untagged

IMPORTANCES = (Importance.HIGH, Importance.MEDIUM, Importance.LOW)
# Longest texts shown for one item; a model that answers with a novel must not blow the size budget.
TITLE_MAX = 160
LINE_MAX = 400
PARAGRAPH_MAX = 900
LIST_MAX = 6

_SPACE = re.compile(r"\s+")


def clip(text: str | None, limit: int) -> str:
    """One line of at most ``limit`` characters (whitespace collapsed, an ellipsis when cut)."""
    if not text:
        return ""
    # Every whitespace character but the ASCII space is unprintable, so a printable text without a double
    # space has nothing to collapse (the common case, without a regex pass).
    flat = text.strip() if text.isprintable() and "  " not in text else _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _clip_list(items: list[str], limit: int = LINE_MAX) -> list[str]:
    return [c for c in (clip(i, limit) for i in items[:LIST_MAX]) if c]


@dataclass
class CommitView:
    sha: str
    anchor: str  # its id in the web version (and the key of its fragments): c-<12 hex digits>
    short: str
    url: str | None
    title: str
    author: str
    time: str
    importance: str
    importance_label: str
    type_label: str
    headline: str
    pr_number: int | None
    pr_url: str | None
    additions: int
    deletions: int
    summary: list[str]
    impact: str
    insights: list[tuple[str, str]]
    risks: list[str]
    recommendations: list[str]
    breaking: bool
    security: bool
    mismatch: str | None
    author_url: str | None = None  # the author's GitHub profile (the login); the name is what is shown
    members: list[CommitView] = field(default_factory=list)  # a thread's commits, listed compactly
    fallback: str = ""  # "heuristic analysis: <why>" when the model's analysis fell back, as Markdown says


@dataclass
class RepoView:
    name: str
    anchor: str
    url: str | None
    branch: str
    overview: str
    commits: list[CommitView]  # newest first: the commit table
    groups: dict[str, list[CommitView]]
    degraded: bool
    warnings: list[str]
    time_label: str = ""  # the commit table's time column: committed, or authored on a bulk import's day
    bulk: str = ""  # a bulk import or history rewrite, said in the statistics


@dataclass
class Bar:
    key: str
    label: str
    count: int
    percent: int


@dataclass
class DayView:
    """One day of a weekly issue: its date, counts and condensed overview."""

    label: str
    line: str  # "12 commits (3 high, 5 medium, 4 low)"
    overview: str


@dataclass
class IssueView:
    language: str
    title: str
    date: str
    timezone: str
    subject: str
    preheader: str
    repos: list[RepoView]
    commits: int
    authors: int
    additions: int
    deletions: int
    files: int
    counts: dict[str, int]
    bars: list[Bar]
    overview: str
    web_url: str  # a validated URL of the full issue on the archive, else LOCAL_WEB_VERSION
    postal_address: str
    analyzed_note: str
    placeholders: dict[str, str] = field(default_factory=dict)
    focus: str = ""  # "6 of today's 41 commits touch your areas (…)": a reader's issue narrowed to their areas
    days: list[DayView] = field(default_factory=list)  # a weekly issue's days, oldest first
    kicker: str = ""  # "Daily commit digest" / "Weekly commit digest"
    glance_title: str = ""


def _restates(headline: str, title: str) -> bool:
    """True when the headline is only the title again ("Fix: <title>" with the [area] tag dropped)."""
    core = untagged(title).lower()
    return bool(core) and core in headline.lower()


def _profile(commit_url: str | None, login: str | None) -> str | None:
    """https://github.com/<login>, on the host the commit lives on."""
    if not commit_url or not login or "/commit/" not in commit_url:
        return None
    return safe_url(commit_url.split("/commit/", 1)[0].rsplit("/", 2)[0] + "/" + login)


def _card_view(card: Card, views: dict[str, CommitView], tz: str, t: Catalogue, authored: bool = False) -> CommitView:
    """One card: a commit, or a thread (its analysis, its commits listed compactly inside). ``views``: the
    day's commits already viewed, by SHA (each is viewed once and copied, as anchors are set per item)."""
    lead = views.get(card.commit.sha)
    same = lead is not None and card.analysis is card.lead.analysis
    view = copy(lead) if same and lead is not None else _commit_view(card.commit, card.analysis, tz, t, authored)
    view.title = clip(card.title, TITLE_MAX) or view.title
    view.headline = "" if _restates(view.headline, view.title) else view.headline
    if card.thread is not None:
        view.members = [_member(m, views, tz, t, authored) for m in card.members]
        if card.thread.kind is not ThreadKind.PR:  # a PR's merge already carries the whole diff
            view.additions = sum(m.commit.additions for m in card.members)
            view.deletions = sum(m.commit.deletions for m in card.members)
    return view


def _member(
    item: AnalyzedCommit, views: dict[str, CommitView], tz: str, t: Catalogue, authored: bool = False
) -> CommitView:
    seen = views.get(item.commit.sha)
    return copy(seen) if seen is not None else _commit_view(item.commit, item.analysis, tz, t, authored)


def _commit_view(c: Commit, a: Analysis, tz: str, t: Catalogue, authored: bool = False) -> CommitView:
    """``authored``: the day is a bulk import, whose commits were all committed within minutes — the date
    each was authored is shown instead of the minute it was committed."""
    labels = {
        "architecture": a.insights.architecture,
        "performance": a.insights.performance,
        "security": a.insights.security,
        "maintainability": a.insights.maintainability,
    }
    mismatch = None
    if not a.message_matches_diff:
        note = clip(a.mismatch_note, LINE_MAX)
        mismatch = t("mismatch", note=note) if note else t("mismatch_plain")
    title = clip(c.title, TITLE_MAX) or c.short_sha
    headline = clip(a.headline, LINE_MAX)
    reason = clip(a.fallback_reason, LINE_MAX)
    url = safe_url(c.url)
    return CommitView(
        sha=c.sha,
        anchor="c-" + _HEX.sub("", c.sha)[:12].lower(),  # made unique over the issue by build_view
        short=c.short_sha,
        url=url,
        title=title,
        author=clip(c.author.name or c.author.login, 60),
        author_url=_profile(url, c.author.login),
        time=(c.authored_at.astimezone(zone(tz)).strftime("%Y-%m-%d") if authored else t.moment(c.committed_at, tz)),
        importance=a.importance.value,
        importance_label=t(f"importance.{a.importance.value}"),
        type_label=t(f"change_type.{a.change_type.value}"),
        headline="" if _restates(headline, title) else headline,
        pr_number=c.pr.number if c.pr else None,
        pr_url=safe_url(c.pr.url) if c.pr else None,
        additions=c.additions,
        deletions=c.deletions,
        summary=_clip_list(a.summary),
        impact=clip(a.impact, PARAGRAPH_MAX),
        insights=[(t(f"insight_{k}"), clip(v, PARAGRAPH_MAX)) for k, v in labels.items() if v and v.strip()],
        risks=_clip_list(a.risks),
        recommendations=_clip_list(a.recommendations),
        breaking=a.breaking_change,
        security=a.security_relevant,
        mismatch=mismatch,
        fallback=t("fallback.label") + (t("colon") + reason if reason else "") if a.fallback_reason else "",
    )


def _repo_url(digest: RepoDigest) -> str | None:
    """The repository's web page, derived from a validated commit URL (…/owner/repo/commit/sha)."""
    for item in digest.commits:
        url = safe_url(item.commit.url)
        if url and "/commit/" in url:
            return url.split("/commit/", 1)[0]
    return None


_HEX = re.compile(r"[^0-9A-Za-z]+")


def _unique(anchor: str, seen: set[str]) -> str:
    """``anchor``, or with a suffix when taken (one commit on two branches is two items)."""
    candidate, n = anchor, 1
    while candidate in seen:
        n += 1
        candidate = f"{anchor}-{n}"
    seen.add(candidate)
    return candidate


def _anchor(name: str) -> str:
    return "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower()


def _repo_view(digest: RepoDigest, tz: str, t: Catalogue, anchors: set[str]) -> RepoView:
    bulk = digest.bulk_import
    shown = sorted(digest.commits, key=lambda c: c.commit.authored_at, reverse=True) if bulk else digest.commits
    commits = [_commit_view(item.commit, item.analysis, tz, t, bulk is not None) for item in shown]
    views = {c.sha: c for c in commits}
    bulk_note = ""
    if bulk is not None:
        first, last = bulk.first_authored.isoformat(), bulk.last_authored.isoformat()
        bulk_note = t("bulk_note", repo=digest.repo, count=bulk.commits, minutes=bulk.minutes, first=first, last=last)
    return RepoView(
        name=digest.repo,
        anchor=_unique(_anchor(digest.repo), anchors),
        url=_repo_url(digest),
        branch=clip(digest.branch, 80),
        overview=clip(digest.overview, PARAGRAPH_MAX * 2),
        commits=commits,
        groups={
            imp.value: [_card_view(card, views, tz, t, bulk is not None) for card in digest.cards(imp)]
            for imp in IMPORTANCES
        },
        degraded=digest.degraded,
        warnings=_clip_list(digest.warnings),
        time_label=t("col_authored" if bulk else "col_time"),
        bulk=bulk_note,
    )


def _top_items(repos: list[RepoView], limit: int = 3) -> list[str]:
    ranked = [c for imp in IMPORTANCES for r in repos for c in r.groups[imp.value]]
    return [clip(c.headline or c.title, 70) for c in ranked[:limit]]


def build_view(issue: Issue) -> tuple[IssueView, Catalogue]:
    """The issue as the templates see it, and the catalogue of its language."""
    t = Catalogue(issue.language, weekly=issue.week is not None)
    anchors: set[str] = set()
    repos = [_repo_view(d, issue.timezone, t, anchors) for d in issue.repos]
    for r in repos:  # an item's anchor is its id in the web version and its key in the size budget
        for item in (c for imp in IMPORTANCES for c in r.groups[imp.value]):
            item.anchor = _unique(item.anchor, anchors)
            for member in item.members:  # the lead's anchor is the card's; the others get their own
                member.anchor = item.anchor if member.sha == item.sha else _unique(member.anchor, anchors)
    every = [item for d in issue.repos for item in d.commits]
    # Statistics count commits (each by its own importance), not cards.
    counts = {imp.value: sum(1 for i in every if i.analysis.importance == imp) for imp in IMPORTANCES}
    top = max(counts.values(), default=0) or 1
    bars = [
        Bar(imp.value, t(f"importance.{imp.value}"), counts[imp.value], round(100 * counts[imp.value] / top))
        for imp in IMPORTANCES
    ]
    title = clip(issue.title, TITLE_MAX)
    week = issue.week
    day = t.date(issue.date) if week is None else t("week_dates", start=t.date(week.start), end=t.date(week.end))
    first = week.start if week else issue.date
    total = len(every)
    if total:
        items = _top_items(repos)
        ranked = [c for imp in IMPORTANCES for r in repos for c in r.groups[imp.value]]
        # The top change, not counts: it is what makes someone open today's issue (counts are in the preheader).
        subject = subject_line(t, title, first, ranked[0] if ranked else None, week=week is not None)
        preheader = t("preheader", commits=total, **counts)
        if items:
            preheader += " · " + t("preheader_top", items="; ".join(items))
    else:
        subject = subject_line(t, title, first, None, week=week is not None)
        preheader = t("no_commits")
    usage = issue.usage
    model = clip(usage.model, 80)
    analyzed = t("footer_analyzed_llm", model=model) if usage.analyzer == "llm" and model else ""
    view = IssueView(
        language=issue.language,
        title=title,
        date=day,
        timezone=issue.timezone,
        subject=subject,
        preheader=clip(preheader, 240),
        repos=repos,
        commits=total,
        authors=len({i.commit.author.login or i.commit.author.name for i in every}),
        additions=sum(i.commit.additions for i in every),
        deletions=sum(i.commit.deletions for i in every),
        files=len({f.path for i in every for f in i.commit.files}),
        counts=counts,
        bars=bars,
        overview=" ".join(r.overview for r in repos if r.overview) if len(repos) == 1 else "",
        web_url=page_url(issue.web_url) or LOCAL_WEB_VERSION,
        postal_address=clip(issue.postal_address, 300),
        analyzed_note=analyzed or t("footer_analyzed_heuristic"),
        placeholders={p.name.lower(): p.value for p in Placeholder},
        focus=_focus(issue, t),
        days=_days(issue, t),
        kicker=t("header_kicker_week" if week else "header_kicker"),
        glance_title=t("glance_title_week" if week else "glance_title"),
    )
    return view, t


def _days(issue: Issue, t: Catalogue) -> list[DayView]:
    if issue.week is None:
        return []
    out = []
    for d in issue.week.days:
        by = {level.value: d.stats.by_importance.get(level, 0) for level in IMPORTANCES}
        line = t("week_day_line", commits=d.stats.commits, count=d.stats.commits, **by)
        out.append(DayView(label=t.short_date(d.date), line=line, overview=clip(d.overview, PARAGRAPH_MAX)))
    return out


def _focus(issue: Issue, t: Catalogue) -> str:
    if issue.focus is None:
        return ""
    areas = ", ".join(clip(area, 80) for area in issue.focus.areas[:5])
    if len(issue.focus.areas) > 5:
        areas += ", …"
    key = "focus_week" if issue.week else "focus"
    return t(key, count=issue.focus.commits, total=issue.focus.total, areas=areas)
