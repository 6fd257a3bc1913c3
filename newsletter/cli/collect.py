"""``newsletter collect``: the day's commits of some repositories, as a table and as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from newsletter.cli.app import DateOpt, TzOpt, app, console, context, err_console, settings
from newsletter.cli.progress import RichProgress

if TYPE_CHECKING:
    from newsletter.models import RepoCommits


@app.command()
def collect(
    repos: Annotated[list[str], typer.Argument(help="OWNER/REPO or OWNER/REPO@BRANCH (default branch if omitted).")],
    date: DateOpt = None,
    tz: TzOpt = "UTC",
    since: Annotated[str | None, typer.Option(help="Start instead of --date, ISO 8601 (no offset: in --tz).")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive) with --since; default now.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the commits as JSON here.")] = None,
    allow_degraded: Annotated[
        bool, typer.Option(help="When the API refuses (rate limit, outage), use the Atom feed: titles only.")
    ] = False,
    exclude_merges: Annotated[bool, typer.Option(help="Leave out merge commits.")] = False,
    exclude_bots: Annotated[
        bool, typer.Option("--exclude-bots/--include-bots", help=r"Leave out \[bot] authors and NEWSLETTER_BOT_LOGINS.")
    ] = False,
) -> None:
    """List the commits that landed on each branch during one day (or --since/--until), with a table and JSON."""
    from newsletter.collect import CollectOptions, dump_collected, resolve_window
    from newsletter.models import RepoSpec

    specs = [RepoSpec.parse(text) for text in repos]
    window = resolve_window(date, tz, since=since, until=until)
    config = settings()
    options = CollectOptions(
        exclude_merges=exclude_merges,
        exclude_bots=exclude_bots,
        bot_logins=config.github_bot_logins,
        allow_degraded=allow_degraded,
    )
    with context(config) as ctx, RichProgress() as progress:
        result = ctx.collect(specs, window, options=options, progress=progress)
    for repo in result:
        console.print(_table(repo))
        for warning in repo.warnings:
            err_console.print(
                f"[yellow]warning:[/] {escape(repo.repo)}: {escape(warning)}", highlight=False, soft_wrap=True
            )
    total = sum(len(r.commits) for r in result)
    repos_word = "repository" if len(result) == 1 else "repositories"
    console.print(f"{total} commit{'s' if total != 1 else ''} in {len(result)} {repos_word}")
    if json_path is not None:
        dump_collected(result, json_path)
        err_console.print(Text(f"wrote {json_path}"))


def _table(repo: RepoCommits) -> Table:
    from newsletter.models import zone

    tz = zone(repo.window.timezone)
    start = repo.window.start.astimezone(tz)
    end = repo.window.end.astimezone(tz)
    title = f"{repo.repo}@{repo.branch} · {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} {repo.window.timezone}"
    if repo.degraded:
        title += " · degraded (Atom feed)"
    table = Table(title=Text(title), title_justify="left", show_lines=False)
    table.add_column(f"Time ({repo.window.timezone})", no_wrap=True)
    table.add_column("Author")
    table.add_column("Message")
    table.add_column("SHA", no_wrap=True, style="dim")
    for commit in repo.commits:
        message = commit.title
        if commit.pr and f"#{commit.pr.number}" not in message:
            message += f" (#{commit.pr.number})"
        # Text, not markup: titles like "[diffusion] fix …" and logins like "dependabot[bot]" are data.
        table.add_row(
            f"{commit.committed_at.astimezone(tz):%Y-%m-%d %H:%M:%S}",
            Text(commit.author.name),
            Text(message),
            commit.short_sha,
        )
    table.caption = f"{len(repo.commits)} commits"
    return table
