"""The typer application, its shared options and the one place that turns expected errors into a line.

Commands live in sibling modules (one per stage or concern) and stay thin: parse input, call the library,
format the result.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.config import Settings
    from newsletter.context import Context

console = Console()
err_console = Console(stderr=True)


def _one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command`` so that an expected failure prints one line and exits non-zero, never a traceback."""

    @functools.wraps(command)  # typer reads the signature, the help and the name through the wrapper
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NewsletterError as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return run


class Typer(typer.Typer):
    """``typer.Typer`` whose commands and callbacks all run through ``_one_line_errors``: the one place that
    turns expected errors into a line. Every command group of the CLI is one of these."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)

        def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
            register(_one_line_errors(function))
            return function

        return decorator

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().callback(*args, **kwargs)

        def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
            register(_one_line_errors(function))
            return function

        return decorator


app = Typer(
    name="newsletter",
    help="The daily commit digest: what changed in the GitHub repositories a list follows, by email.",
    no_args_is_help=True,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help and usage errors (click's own): typer's rich help imports rich's Markdown, traceback and
    # syntax modules, which alone took `newsletter --help` past 0.3 s (bench/startup.py).
    rich_markup_mode=None,
)


def settings() -> Settings:
    """Settings for this invocation: read from the environment once, at the entry point."""
    from newsletter.config import Settings  # pydantic-settings is not needed to print the help

    return Settings.from_env()


def context(config: Settings | None = None, *, secret: str | None = None) -> AbstractContextManager[Context]:
    """The composition root for this invocation (``with context() as ctx``): every backend a command uses —
    store, archive, collector, analyzer, senders, tokens, list files — comes from it, and is closed after."""
    from newsletter.context import Context  # the backends' modules are not needed to print the help

    return Context.open(config or settings(), secret=secret)


# Shared option types, so that every command spells the same option the same way.
DateOpt = Annotated[str | None, typer.Option("--date", help="The day, YYYY-MM-DD (default: yesterday in --tz).")]
TzOpt = Annotated[str, typer.Option("--tz", help="IANA timezone that defines the day, e.g. Asia/Shanghai.")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of the issue: en or zh-CN.")]
AnalyzerOpt = Annotated[
    str, typer.Option("--analyzer", help="auto (the model when OPENAI_API_KEY is set), llm or heuristic.")
]


def _print_version(asked: bool) -> None:
    """``--version``: print and stop while the options are parsed. Stopping here, before typer coerces the
    options still to come (its own ``--help``, through pydantic TypeAdapters), keeps pydantic out of this
    process: ``newsletter --version`` starts as fast as ``newsletter --help`` (bench/startup.py)."""
    if asked:
        from newsletter import __version__

        console.print(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """The daily commit digest."""
    # Libraries (urllib3's "Retrying …", PyGithub's backoff notes) would reach stderr through logging's
    # last-resort handler; the CLI speaks through its own lines and progress notes instead.
    logging.getLogger().addHandler(logging.NullHandler())
    # PyGithub attaches its own stderr handler at INFO ("Request GET … failed with 403"); rate-limit waits are
    # shown through the progress notes instead.
    logging.getLogger("github").setLevel(logging.WARNING)
