"""One run of one list for one date, stage by stage: collect → analyse → compose → render → archive → deliver.

The stages live in ``newsletter.building`` (the day's issue) and ``newsletter.sending`` (keep it once, mail it);
this module is the job that runs them per list (``run_list``), for every list due (``run_due``) and for the
sample day (``run_sample``). Their names are re-exported here for callers that think of "the pipeline"."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from newsletter.building import base_issue, build_day, build_issue, build_sendable
from newsletter.context import Context
from newsletter.deliver.campaign import CampaignResult, Outcome
from newsletter.deliver.outbox import OutboxSender
from newsletter.deliver.service import issue_id
from newsletter.errors import NewsletterError
from newsletter.models import MailingList, RepoCommits, Usage, zone
from newsletter.progress import Progress
from newsletter.samples import SAMPLE_READER, SAMPLE_SOURCE, sample_day, sample_list
from newsletter.schedule import due_lists
from newsletter.sending import Prepared, SendRun, deliver_issue, prepare, prepare_issue, send_day, test_send
from newsletter.store.base import IssueStatus, LedgerState, MemberStatus
from newsletter.weekly import ends_week, prepare_week, week_id, weekly_readers

log = logging.getLogger("newsletter.pipeline")

__all__ = [
    "Context",
    "ListRun",
    "Prepared",
    "SendRun",
    "base_issue",
    "build_day",
    "build_issue",
    "build_sendable",
    "deliver_issue",
    "issue_id",
    "last_complete_day",
    "prepare",
    "prepare_issue",
    "run_due",
    "run_issue",
    "run_list",
    "run_sample",
    "run_week",
    "send_day",
    "test_send",
]


# ---------------------------------------------------------------------------------------------- the job


@dataclass
class ListRun:
    """How ``newsletter run`` went for one list and day: plain data for the summary."""

    list_id: str
    day: date
    issue_id: str
    outcome: str  # delivered | already-sent | empty | failed
    built: bool = False  # the issue was built by this run (else: reused from the store)
    archived: str | None = None  # the issue's public page
    delivery: str | None = None  # where the messages went (the sender's description: outbox folder, server …)
    campaign: CampaignResult | None = None
    error: str | None = None
    usage: Usage | None = None  # what building the issue cost (when this run built it)
    weekly: bool = False  # the week ending on ``day``, for the weekly readers (newsletter/weekly.py)

    @property
    def ok(self) -> bool:
        c = self.campaign
        return self.outcome != "failed" and not (c and (c.failed or c.deferred or c.interrupted))


def run_issue(
    mailing_list: MailingList,
    day: date,
    ctx: Context,
    *,
    key: str,
    prepare: Callable[[], Prepared],
    weekly: bool = False,
    due: Callable[[], bool] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    repos: Sequence[RepoCommits] | None = None,
) -> ListRun | None:
    """Run one issue of a list — the day's (``run_list``) or the week's (``run_week``): ``prepare`` builds and
    keeps it once, then its campaign mails whoever has not had it. Every failure, foreseen or not, is this
    issue's alone: it is reported in the result (one line) and the run goes on with the next issue and list.
    ``due``: whether there is anyone to run it for (checked first, inside the same isolation); None from here
    when there is not."""
    try:
        if due is not None and not due():
            return None
        # What sending needs is checked first: a missing secret or SMTP host stops the issue before any work.
        sender = ctx.sender_for(mailing_list)
        _ = ctx.tokens
        prepared = prepare()
        if prepared.sendable is None:
            return ListRun(mailing_list.id, day, key, "empty", weekly=weekly)
        done = ListRun(
            mailing_list.id,
            day,
            key,
            "delivered",
            built=prepared.built,
            archived=prepared.sendable.view_url,
            delivery=sender.describe(),
            # What building cost; a week is made of the kept days and costs nothing of its own.
            usage=prepared.sendable.usage if prepared.built and not weekly else None,
            weekly=weekly,
        )
        if prepared.status == IssueStatus.SENT:
            done.outcome = "already-sent"
            return done
        # The campaign reads the issue id: a week's issue goes to the weekly readers only, a day's to the others.
        done.campaign = deliver_issue(
            mailing_list,
            prepared.sendable,
            ctx,
            dry_run=dry_run,
            progress=_sending(progress, ctx, mailing_list, key),
            repos=repos,
        )
        return done
    except NewsletterError as err:
        return ListRun(mailing_list.id, day, key, "failed", error=str(err), weekly=weekly)
    except Exception as err:
        # A fault nobody foresaw fails this issue alone: the next list of the same run still goes out.
        log.exception("list %s, issue %s: unexpected error", mailing_list.id, key)
        error = f"unexpected error: {type(err).__name__}: {err}"
        return ListRun(mailing_list.id, day, key, "failed", error=error, weekly=weekly)


def run_list(
    mailing_list: MailingList,
    day: date,
    ctx: Context,
    *,
    repos: Sequence[RepoCommits] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ListRun:
    """collect → analyse → compose → render → archive → deliver for one list and day. Idempotent: the issue is
    built once (issue record + stored issue), each recipient is mailed once (send ledger), and an issue whose
    every recipient is settled is not looked at again. A failure is reported in the result."""
    run = run_issue(
        mailing_list,
        day,
        ctx,
        key=issue_id(mailing_list.id, day),
        prepare=lambda: prepare(mailing_list, day, ctx, repos=repos, progress=progress),
        dry_run=dry_run,
        progress=progress,
        repos=repos,
    )
    assert run is not None  # only a ``due`` check skips an issue, and a day's issue has none
    return run


def run_week(mailing_list: MailingList, day: date, ctx: Context, *, dry_run: bool = False) -> ListRun | None:
    """The weekly part of the run of ``day``: when the issue of ``day`` goes out on the list's weekly day and
    the list has weekly readers, the week ending on ``day`` is built, archived and mailed to them
    (newsletter/weekly.py). None when there is no week to send today. Idempotent like the daily run (own issue
    record and ledger), and isolated like it."""
    if not ends_week(mailing_list, day):
        return None
    return run_issue(
        mailing_list,
        day,
        ctx,
        key=week_id(mailing_list.id, day),
        prepare=lambda: prepare_week(mailing_list, day, ctx),
        weekly=True,
        due=lambda: bool(weekly_readers(ctx.store.list_preferences(mailing_list.id))),
        dry_run=dry_run,
    )


def _sending(progress: Progress | None, ctx: Context, mailing_list: MailingList, key: str) -> Callable[[Outcome], None]:
    if progress is None:
        return lambda _outcome: None
    counts = ctx.store.count_members(mailing_list.id)
    progress.start(f"sending {key}", counts.get(MemberStatus.ACTIVE, 0))
    return lambda _outcome: progress.advance()


def last_complete_day(mailing_list: MailingList, now: datetime) -> date:
    """Yesterday in the list's timezone: the day a run without --date digests."""
    return now.astimezone(zone(mailing_list.timezone)).date() - timedelta(days=1)


def run_due(
    ctx: Context,
    now: datetime,
    *,
    list_id: str | None = None,
    day: date | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[ListRun]:
    """The scheduled job. Without ``list_id`` and ``day``: every list whose send time has come (schedule.py).
    With ``list_id``: that list only, now; with ``day``: that day (default: the list's last complete day)."""
    lists = [ctx.mailing_list(list_id)] if list_id else list(ctx.mailing_lists().values())
    if list_id is None and day is None:
        targets = [(due.mailing_list, due.day) for due in due_lists(lists, now)]
    else:
        targets = [(ml, day or last_complete_day(ml, now)) for ml in lists]
    runs = []
    for ml, when in targets:
        if ctx.stop.is_set():  # serve shutting down: the list in progress winds down, no other starts
            break
        runs.append(run_list(ml, when, ctx, dry_run=dry_run, progress=progress))
        week = run_week(ml, when, ctx, dry_run=dry_run)  # on the list's weekly day, for its weekly readers
        if week is not None:
            runs.append(week)
    return runs


@dataclass
class SampleRun:
    run: ListRun
    reader: str
    messages: list[Path]  # the sample reader's .eml files of this issue in the outbox (one, once sent)
    outbox: Path


def run_sample(ctx: Context, *, progress: Progress | None = None) -> SampleRun:
    """``newsletter run --sample``: the sample day, mailed to the sample list's one sample reader through the
    outbox. The reader is added (active, source "sample") unless already a member: someone who unsubscribed
    through a sample message stays unsubscribed."""
    repos, day, timezone = sample_day()
    mailing_list = sample_list(timezone)
    email, name = SAMPLE_READER
    ctx.store.add_members([(email, name)], mailing_list.id, status=MemberStatus.ACTIVE, source=SAMPLE_SOURCE)
    run = run_list(mailing_list, day, ctx, repos=repos, progress=progress)
    sender = ctx.sender_for(mailing_list)
    if not isinstance(sender, OutboxSender):  # sample_list() always says outbox
        raise NewsletterError("the sample list must deliver to the outbox")
    messages = [
        sender.path_for(entry.message_id, entry.email)
        for entry in ctx.store.entries(run.issue_id)
        if entry.state == LedgerState.SENT and entry.message_id and entry.email == email
    ]
    return SampleRun(run=run, reader=email, messages=messages, outbox=sender.folder)
