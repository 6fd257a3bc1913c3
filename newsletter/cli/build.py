"""``newsletter build``: collect a day, analyse every commit, write the issue as Markdown or JSON."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.app import AnalyzerOpt, DateOpt, LangOpt, TzOpt, app, context, err_console
from newsletter.cli.progress import RichProgress
from newsletter.errors import InputError

if TYPE_CHECKING:
    from newsletter.issue import Issue
    from newsletter.models import Usage

FORMATS = ("md", "json")


@app.command()
def build(
    repos: Annotated[list[str], typer.Argument(help="OWNER/REPO or OWNER/REPO@BRANCH (default branch if omitted).")],
    date: DateOpt = None,
    tz: TzOpt = "UTC",
    lang: LangOpt = "en",
    fmt: Annotated[str, typer.Option("--format", help="md (the readable report) or json (the whole Issue).")] = "md",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")] = None,
    analyzer: AnalyzerOpt = "auto",
) -> None:
    """Build one day's issue: collect the commits, analyse each one, write it as Markdown or JSON."""
    from newsletter.backends import check_analyzer
    from newsletter.building import build_day
    from newsletter.collect import resolve_window
    from newsletter.i18n import check_language
    from newsletter.models import RepoSpec
    from newsletter.render.markdown import render_markdown

    started = time.monotonic()
    check_language(lang)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint="use --format md or --format json")
    check_analyzer(analyzer)
    specs = [RepoSpec.parse(text) for text in repos]
    window = resolve_window(date, tz)
    with context() as ctx, RichProgress() as progress:
        issue = build_day(ctx, specs, window, language=lang, analyzer=ctx.analyzer(analyzer), progress=progress)
    text = render_markdown(issue) if fmt == "md" else issue.model_dump_json(indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot write {out}: {err.strerror}") from err
        err_console.print(f"wrote {out}", highlight=False)
    err_console.print(summary(issue, time.monotonic() - started), highlight=False, soft_wrap=True)
    if checked := grounding(issue.usage):
        err_console.print(checked, highlight=False, soft_wrap=True)


def summary(issue: Issue, seconds: float) -> str:
    u = issue.usage
    model = f" ({u.model})" if u.model else ""
    return (
        f"analyzer: {u.analyzer}{model} · {issue.stats.commits} commits · {u.llm_calls} model calls · "
        f"{u.cache_hits} cache hits · {u.heuristic} heuristic · {u.tokens_in:,} tokens in / {u.tokens_out:,} out · "
        f"~${u.cost_usd:.4f} · {seconds:.1f} s"
    )


def grounding(usage: Usage) -> str | None:
    """What the checks of the model's answers changed (newsletter/analyze/checks/); None when no model ran."""
    if usage.analyzer != "llm":
        return None
    return (
        f"grounding: {usage.figures_dropped} figures dropped · {usage.language_retries} language retries · "
        f"{usage.corrections} corrections"
    )
