"""``newsletter run``: the scheduled job (every list due now, or one list, or one day), and ``--sample``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from newsletter.cli.app import app, console, context, err_console, settings
from newsletter.cli.build import grounding
from newsletter.cli.deliver import explain
from newsletter.cli.progress import RichProgress
from newsletter.errors import InputError


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


def _report(run: object, *, dry_run: bool = False) -> None:
    """The summary of one list: what happened to its issue, how sending went, where everything is."""
    from newsletter.pipeline import ListRun

    assert isinstance(run, ListRun)
    head = f"{run.list_id} {run.day}:"
    if run.outcome == "failed":
        _say(f"{head} failed: {run.error}")
        return
    if run.outcome == "empty":
        _say(f"{head} no commits that day; nothing sent (the list's skip_empty_days)")
        return
    issue = "issue built and archived" if run.built else "issue reused (built by an earlier run)"
    if run.outcome == "already-sent":
        _say(f"{head} {issue}; already sent to every recipient by an earlier run, nothing sent this time")
    elif run.campaign is not None:
        c = run.campaign
        counts = f"{'would send' if dry_run else 'sent'} {c.sent}, skipped {c.skipped}, failed {c.failed}"
        if c.deferred or c.ambiguous:
            counts += f", deferred {c.deferred}, ambiguous {c.ambiguous}"
        if c.segments:
            counts += f"; {c.segments} reader segments ({c.rendered} rendered now), {c.empty} with nothing today"
        note = " (the ledger already had everyone: nothing sent twice)" if not c.sent and c.skipped else ""
        _say(f"{head} {issue}; {counts} in {c.duration:.1f}s{note}")
    _say(f"  archived page: {run.archived}")
    _say(f"  messages: {run.delivery}")
    if run.usage is not None and (checked := grounding(run.usage)):
        _say(f"  {checked}")
    if run.campaign is not None:
        explain(run.campaign)


@app.command("run")
def run(
    list_id: Annotated[
        str | None, typer.Option("--list", metavar="LIST", help="Run this list only, now, whatever its send time.")
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="The day to digest, YYYY-MM-DD (default: yesterday in each list's timezone)."),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Mail the sample day to a sample reader's outbox: no network, no key.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Build and archive the issues, send nothing.")] = False,
) -> None:
    """The daily job: for every list due now (or --list, or --date) collect, analyse, compose, render, archive
    and send. Running it again sends nothing twice.

    `newsletter run --sample` needs no network, no key and no list file.
    It mails the sample day shipped with the package to reader@example.com's outbox and prints where it is.
    """
    from newsletter import pipeline
    from newsletter.collect.window import parse_day
    from newsletter.samples import sample_secret

    s = settings()
    when = parse_day(day) if day else None
    if sample:
        if list_id or when or dry_run:
            raise InputError("--sample runs the sample list on the sample day", hint="drop --list, --date, --dry-run")
        # Real lists need NEWSLETTER_SECRET; the sample reader's links may be signed by a per-folder secret.
        with context(s, secret=s.secret or sample_secret(s.data_dir)) as ctx, RichProgress() as bar:
            done = pipeline.run_sample(ctx, progress=bar)
        _report(done.run)
        for path in done.messages:
            _say(f"  message to {done.reader}: {path}")
        if done.run.outcome == "already-sent":
            _say(f"Nothing sent this time: {done.reader} got this issue in an earlier run (once per list and day).")
        elif done.run.ok:
            _say("Open the .eml in a mail client and the page in a browser; run it again and it sends nothing twice.")
        if not done.run.ok:
            raise typer.Exit(1)
        return

    now = datetime.now(UTC)
    with context(s) as ctx:
        if list_id is None and not ctx.mailing_lists():
            raise InputError(
                f"no list files in {s.lists_dir}",
                hint="write <list-id>.toml there (see `newsletter lists`), set NEWSLETTER_LISTS_DIR, or try --sample",
            )
        with RichProgress() as bar:
            runs = pipeline.run_due(ctx, now, list_id=list_id, day=when, dry_run=dry_run, progress=bar)
    if not runs:
        err_console.print(
            f"no list is due at {now:%Y-%m-%d %H:%M} UTC (each sends at its send_at, in its timezone);"
            " --list LIST or --date YYYY-MM-DD runs now",
            highlight=False,
        )
    for done in runs:
        _report(done, dry_run=dry_run)
    if not all(done.ok for done in runs):
        raise typer.Exit(1)
