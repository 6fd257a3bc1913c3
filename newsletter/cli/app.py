"""The typer application, its shared options and the one place that turns expected errors into a line.

Commands live in sibling modules (one per stage or concern) and stay thin: parse input, call the library,
format the result.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from newsletter.config import Settings
from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.context import Context

console = Console()
err_console = Console(stderr=True)


class _Group(TyperGroup):
    """Every command runs through here: an expected failure prints one line and exits non-zero."""

    def invoke(self, ctx: typer.Context) -> Any:  # typer 0.29 vendors click: no `import click`
        try:
            return super().invoke(ctx)
        except NewsletterError as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    name="newsletter",
    help="The daily commit digest: what changed in the GitHub repositories a list follows, by email.",
    no_args_is_help=True,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def settings() -> Settings:
    """Settings for this invocation: read from the environment once, at the entry point."""
    return Settings.from_env()


def context() -> AbstractContextManager[Context]:
    """The composition root for this invocation (store, archive, senders …, each opened on first use and
    closed when the command ends): commands never open a backend themselves."""
    from newsletter.context import Context

    return Context.open(settings())


# Shared option types, so that every command spells the same option the same way.
DateOpt = Annotated[str | None, typer.Option("--date", help="The day, YYYY-MM-DD (default: yesterday in --tz).")]
TzOpt = Annotated[str, typer.Option("--tz", help="IANA timezone that defines the day, e.g. Asia/Shanghai.")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of the issue: en or zh-CN.")]
AnalyzerOpt = Annotated[
    str, typer.Option("--analyzer", help="auto (the model when OPENAI_API_KEY is set), llm or heuristic.")
]


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    """The daily commit digest."""
    # Libraries (urllib3's "Retrying …", PyGithub's backoff notes) would reach stderr through logging's
    # last-resort handler; the CLI speaks through its own lines and progress notes instead.
    logging.getLogger().addHandler(logging.NullHandler())
    # PyGithub attaches its own stderr handler at INFO ("Request GET … failed with 403"); rate-limit waits are
    # shown through the progress notes instead.
    logging.getLogger("github").setLevel(logging.WARNING)
    if version:
        from newsletter import __version__

        console.print(__version__)
        raise typer.Exit()
