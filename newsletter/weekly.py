"""The weekly digest: readers on the weekly cadence get one issue a week instead of one a day.

The week ends on the day digested just before the list's ``weekly_day``: with ``weekly_day = "monday"`` the run
of Sunday (sent on Monday at ``send_at``) also sends the week Monday–Sunday to the weekly readers. The week's
issue is made from the seven kept daily issues (the *bases*, every commit, one per language): every commit of
the week, the week's threads ranked by importance, statistics per day and each day's overview condensed to its
first sentence. It has its own issue record, ledger (so each weekly reader is mailed once per week, whatever
reruns) and archive page (``week-<last day>.html``), and its readers are narrowed into segments like a day's.
Daily campaigns leave weekly readers alone, and the weekly campaign leaves daily readers alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from newsletter import lifecycle
from newsletter.compose import stats
from newsletter.context import Context
from newsletter.deliver.service import SendableIssue
from newsletter.errors import InputError
from newsletter.issue import DaySummary, Issue, RepoDigest, Week
from newsletter.models import Cadence, MailingList, ReaderPreferences, Window
from newsletter.segments import Segment, keep_base, load_base, narrow

DAYS = 7
_PREFIX = "week-"
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s")
SENTENCE_MAX = 240


def week_id(list_id: str, end: date) -> str:
    """The weekly issue's id (issue record, ledger, kept renders): one per list and week."""
    return f"{list_id}/{_PREFIX}{end.isoformat()}"


def parse_issue_id(key: str) -> tuple[str, date, bool]:
    """(list id, day, weekly) of a daily (``list/2026-01-13``) or weekly (``list/week-2026-01-18``) issue id."""
    list_id, _, last = key.rpartition("/")
    weekly = last.startswith(_PREFIX)
    try:
        return list_id, date.fromisoformat(last.removeprefix(_PREFIX)), weekly
    except ValueError as err:
        raise InputError(f"malformed issue id {key!r}") from err


def ends_week(mailing_list: MailingList, day: date) -> bool:
    """Whether the issue of ``day`` is sent on the list's weekly day (so the week ending on ``day`` goes too)."""
    return (day + timedelta(days=1)).weekday() == mailing_list.weekly_day.number


def is_weekly(prefs: ReaderPreferences) -> bool:
    return prefs.cadence == Cadence.WEEKLY


def weekly_segment(mailing_list: MailingList) -> Segment:
    """The segment of weekly readers who chose nothing else: the list's defaults, once a week."""
    return Segment(mailing_list.language, mailing_list.min_importance, cadence=Cadence.WEEKLY)


def weekly_readers(choices: Iterable[tuple[str, ReaderPreferences]]) -> dict[str, ReaderPreferences]:
    return {email: prefs for email, prefs in choices if is_weekly(prefs)}


def daily_only(ctx: Context, list_id: str) -> Callable[[str], bool] | None:
    """The daily campaign's filter: everyone but the weekly readers (None when there are none)."""
    weekly = set(weekly_readers(ctx.store.list_preferences(list_id)))
    return (lambda email: email not in weekly) if weekly else None


# ------------------------------------------------------------------------------------------------ compose


def condense(text: str | None) -> str | None:
    """A day overview's first sentence, clipped: what the week says about that day."""
    if not text:
        return None
    first = _SENTENCE.split(text.strip(), maxsplit=1)[0]
    return first if len(first) <= SENTENCE_MAX else first[: SENTENCE_MAX - 1].rstrip() + "…"


def compose_week(days: Sequence[Issue], *, end: date, web_url: str | None = None) -> Issue:
    """The week's issue from its daily issues (oldest first, every commit): commits newest first, the week's
    threads ranked by importance (then size), statistics over the week and per day, the days' overviews
    condensed. Plain data in, plain data out, like compose_issue."""
    if not days:
        raise ValueError("a week needs its days")
    last = days[-1]
    by_repo: dict[str, list[RepoDigest]] = {}
    for day in days:
        for digest in day.repos:
            by_repo.setdefault(digest.repo, []).append(digest)
    repos = []
    for digests in by_repo.values():
        commits = [c for d in reversed(digests) for c in d.commits]
        threads = sorted(
            (th for d in digests for th in d.threads),
            key=lambda th: (th.importance.rank if th.importance else 3, -len(th.shas)),
        )
        repos.append(
            RepoDigest(
                repo=digests[-1].repo,
                branch=digests[-1].branch,
                window=Window(
                    start=digests[0].window.start, end=digests[-1].window.end, timezone=digests[-1].window.timezone
                ),
                commits=commits,
                threads=threads,
                stats=stats(commits),
                degraded=any(d.degraded for d in digests),
                warnings=list(dict.fromkeys(w for d in digests for w in d.warnings)),
            )
        )
    summaries = [
        DaySummary(
            date=day.date,
            stats=day.stats,
            overview=" ".join(s for s in (condense(d.overview) for d in day.repos) if s) or None,
        )
        for day in days
    ]
    every = [c for r in repos for c in r.commits]
    return Issue(
        list_id=last.list_id,
        title=last.title,
        date=end,
        timezone=last.timezone,
        language=last.language,
        repos=repos,
        stats=stats(every),
        usage=last.usage.model_copy(update={"llm_calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}),
        generated_at=datetime.now(UTC),
        web_url=web_url,
        postal_address=last.postal_address,
        week=Week(start=days[0].date, end=end, days=summaries),
    )


def week_base(mailing_list: MailingList, end: date, language: str, ctx: Context) -> Issue:
    """The week ending on ``end`` in ``language``, every commit, kept (the first one made wins): the seven kept
    daily bases, a day never run (or skipped as empty) collected and analysed now."""
    from newsletter.building import base_issue  # every stage, only when a week is made

    key = week_id(mailing_list.id, end)
    kept = load_base(ctx.store, ctx.archive, key, language)
    if kept is not None:
        return kept
    days = [base_issue(mailing_list, end - timedelta(days=back), language, ctx) for back in range(DAYS - 1, -1, -1)]
    web_url = ctx.archive.url_for(mailing_list.id, end, weekly=True)
    return keep_base(ctx.store, ctx.archive, key, compose_week(days, end=end, web_url=web_url))


def build_week(mailing_list: MailingList, end: date, ctx: Context) -> SendableIssue | None:
    """The week's issue as the list's weekly readers who chose nothing else read it, rendered and archived
    (the web archive's page of the week). None when the week had no commit at all and the list skips empty
    issues."""
    from newsletter.render.email import render_issue  # MJML: only when a week is rendered

    base = week_base(mailing_list, end, mailing_list.language, ctx)
    if mailing_list.skip_empty_days and not base.stats.commits:
        return None
    issue = narrow(base, weekly_segment(mailing_list))
    rendered = render_issue(issue)
    view_url = ctx.archive.publish(issue, rendered)
    return SendableIssue(
        issue_id=week_id(mailing_list.id, end), rendered=rendered, view_url=view_url, usage=issue.usage
    )


def prepare_week(mailing_list: MailingList, end: date, ctx: Context) -> lifecycle.Prepared:
    """The week's issue built and archived once, kept with its own issue record (see newsletter.lifecycle)."""
    return lifecycle.prepare(
        ctx.store,
        ctx.archive,
        mailing_list.id,
        end,
        lambda: build_week(mailing_list, end, ctx),
        key=week_id(mailing_list.id, end),
    )


__all__ = [
    "build_week",
    "compose_week",
    "daily_only",
    "ends_week",
    "parse_issue_id",
    "prepare_week",
    "week_base",
    "week_id",
    "weekly_readers",
]
