"""``newsletter send``, ``newsletter send-status`` and ``newsletter run``: the delivery end of the flow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from newsletter.cli.app import DateOpt, app, console, context, err_console

if TYPE_CHECKING:
    from newsletter.deliver.campaign import CampaignResult, Outcome
    from newsletter.deliver.status import SendStatus


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[Outcome], None]]:
    """A progress line on stderr (stdout stays for data), counting each recipient as it is settled."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"))
    counts: dict[str, int] = {}
    with Progress(*columns, TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None, counts="")

        def advance(outcome: Outcome) -> None:
            counts[outcome] = counts.get(outcome, 0) + 1
            bar.update(task, advance=1, counts=" ".join(f"{k} {v}" for k, v in sorted(counts.items())))

        yield advance


def summary_table(result: CampaignResult, where: str, *, dry_run: bool = False) -> Table:
    table = Table(title=f"{result.issue_id} → {where}" + (" (dry run)" if dry_run else ""), title_justify="left")
    for name in ("would send" if dry_run else "sent", "skipped", "failed", "deferred", "ambiguous", "duration", "rate"):
        table.add_column(name, justify="right")
    table.add_row(
        str(result.sent),
        str(result.skipped),
        str(result.failed),
        str(result.deferred),
        str(result.ambiguous),
        f"{result.duration:.1f}s",
        f"{result.rate:.1f}/s",
    )
    return table


def explain(result: CampaignResult) -> None:
    if result.segments:
        err_console.print(
            f"{result.segments} segments of readers with their own preferences ({result.rendered} rendered by this"
            f" run); {result.empty} readers had nothing matching today (no mail, recorded in the ledger)",
            highlight=False,
        )
    for email, reason in result.failures[:10]:
        err_console.print(f"failed: {email}: {reason}", highlight=False)
    if result.deferred:
        err_console.print(
            f"{result.deferred} left for a later run (repeated transient errors, or another run still held them)",
            highlight=False,
        )
    if result.ambiguous:
        err_console.print(
            f"{result.ambiguous} were being handed to the provider when an earlier run stopped, or its answer"
            " was lost; whether they went out is unknown"
            " (see `newsletter send-status`; `--resend-ambiguous` sends them again)",
            highlight=False,
        )


@app.command("send")
def send(
    list_id: Annotated[str, typer.Argument(metavar="LIST", help="The list id (its file name in the lists folder).")],
    day: DateOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build every message, send nothing.")] = False,
    to: Annotated[str | None, typer.Option("--to", help="Send one test message to this address only.")] = None,
    resend_ambiguous: Annotated[
        bool, typer.Option("--resend-ambiguous", help="Also send to recipients left ambiguous by a dead run.")
    ] = False,
) -> None:
    """Send a list's issue for one day to its subscribers: resumable, never twice to anyone."""
    from newsletter.collect.window import parse_day
    from newsletter.pipeline import last_complete_day, send_day

    with context() as ctx:
        mailing_list = ctx.mailing_list(list_id)
        when = parse_day(day) if day else last_complete_day(mailing_list, datetime.now(UTC))
        with progress_bar(f"sending {list_id}/{when}") as advance:
            done = send_day(
                mailing_list, when, ctx, dry_run=dry_run, resend_ambiguous=resend_ambiguous, to=to, progress=advance
            )
    if done.test_message is not None:
        console.print(f"test message to {to} via {done.delivery}: {done.test_message}", highlight=False)
        return
    result = done.campaign
    if result is None:
        console.print(f"{list_id} {when}: no commits that day; nothing to send (skip_empty_days)")
        return
    console.print(summary_table(result, done.delivery, dry_run=dry_run))
    explain(result)
    if result.failed or result.deferred:
        raise typer.Exit(1)


def status_table(status: SendStatus) -> Table:
    table = Table(title=f"send ledger of {status.issue_id}", title_justify="left")
    for name in ("sent", "failed", "sending (ambiguous)", "reserved", "not yet sent"):
        table.add_column(name, justify="right")
    c = status.counts
    table.add_row(str(c["sent"]), str(c["failed"]), str(c["sending"]), str(c["reserved"]), str(status.pending))
    return table


@app.command("send-status")
def send_status(
    list_id: Annotated[str, typer.Argument(metavar="LIST", help="The list id.")],
    day: DateOpt = None,
) -> None:
    """How sending a list's issue went: sent, failed, ambiguous (handed over when a run died), still to send."""
    from newsletter.collect.window import parse_day
    from newsletter.deliver.status import send_status as read_status
    from newsletter.pipeline import issue_id, last_complete_day

    with context() as ctx:
        mailing_list = ctx.mailing_list(list_id)
        when = parse_day(day) if day else last_complete_day(mailing_list, datetime.now(UTC))
        status = read_status(issue_id(list_id, when), list_id, ctx.store)
    console.print(status_table(status))
    for entry in status.ambiguous:
        console.print(
            f"ambiguous: {entry.email} (runner {entry.runner}, since {entry.updated_at:%Y-%m-%d %H:%M:%S} UTC)",
            highlight=False,
        )
    for entry in status.failed:
        console.print(f"failed: {entry.email}: {entry.reason}", highlight=False)
