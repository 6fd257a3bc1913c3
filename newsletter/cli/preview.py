"""``newsletter preview``: one issue rendered to files you can open, from GitHub or from the sample day."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.app import AnalyzerOpt, DateOpt, LangOpt, TzOpt, app, console, context, err_console, settings
from newsletter.cli.progress import RichProgress
from newsletter.errors import InputError

if TYPE_CHECKING:
    from newsletter.models import RepoCommits


@app.command()
def preview(
    repos: Annotated[
        list[str] | None, typer.Argument(help="OWNER/REPO[@BRANCH] to collect.", show_default=False)
    ] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Use the sample day shipped with the package.")] = False,
    day: DateOpt = None,
    tz: TzOpt = "UTC",
    lang: LangOpt = "en",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for issue.html/.txt/.md and web.html.")] = Path(
        "preview"
    ),
    open_: Annotated[bool, typer.Option("--open", help="Open issue.html in the default browser.")] = False,
    port: Annotated[
        int | None, typer.Option("--serve", help="Serve the folder on 127.0.0.1:PORT (0: any).", min=0, max=65535)
    ] = None,
    analyzer: AnalyzerOpt = "auto",
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget",
            help="Most bytes the email's HTML may weigh as sent (default: the renderer's, below Gmail's clipping).",
            min=10_000,
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of the issue.")] = None,
) -> None:
    """Render one day's issue (collect → analyse → compose → render) to issue.html, .txt and .md (the email) and
    web.html (the whole issue, as archived).

    `newsletter preview --sample` needs no network and no key: it renders the sample day shipped with the package.
    """
    from newsletter.backends import check_analyzer
    from newsletter.building import build_day
    from newsletter.collect import resolve_window
    from newsletter.models import RepoSpec
    from newsletter.render.catalogue import Catalogue
    from newsletter.render.email import DEFAULT_BUDGET, render_issue
    from newsletter.render.preview import serve, write_preview
    from newsletter.samples import sample_day

    budget = DEFAULT_BUDGET if budget is None else budget

    t = Catalogue(lang)  # an unknown language or analyzer fails here, before any work
    check_analyzer(analyzer)
    config = settings()
    if sample and repos:
        raise InputError("--sample takes no repositories", hint="drop either --sample or the OWNER/REPO arguments")
    if not sample and not repos:
        raise InputError("no repository to preview", hint="name OWNER/REPO (one or more), or use --sample")
    known: list[RepoCommits] | None = None  # the sample day's commits; else build_day collects them
    if sample:
        known = sample_day()[0]
        specs, window = [RepoSpec.parse(r.repo) for r in known], known[0].window
    else:
        specs, window = [RepoSpec.parse(r) for r in repos or []], resolve_window(day, tz)
    name = title or t("preview_title", repos=", ".join(spec.full_name for spec in specs))
    with context(config) as ctx, RichProgress() as progress:
        issue = build_day(
            ctx,
            specs,
            window,
            language=lang,
            analyzer=ctx.analyzer(analyzer),
            title=name,
            repos=known,
            progress=progress,
        )
    rendered = render_issue(issue, budget_bytes=budget)
    files = write_preview(rendered, out)
    for path in (files.html, files.text, files.markdown, files.web):
        console.print(str(path), highlight=False, soft_wrap=True)
    shed = ", ".join(rendered.shed) or "nothing"
    err_console.print(f"HTML {rendered.html_bytes:,} bytes (as sent at most {budget:,}; shed: {shed})", highlight=False)
    if open_:
        webbrowser.open(files.html.resolve().as_uri())
    if port is not None:
        serve(out, port, lambda url: err_console.print(f"serving {url} (Ctrl-C stops)", highlight=False))
