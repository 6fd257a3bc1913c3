"""Command-line entry point ``newsletter``; each command module registers itself on ``app`` when imported."""

import atexit
import gc

from newsletter.cli import (  # noqa: F401  (commands register on import)
    archive,
    build,
    collect,
    deliver,
    events,
    lists,
    preview,
    run,
    serve,
    store,
    subscribers,
)
from newsletter.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    # A command's objects mostly live until it ends: a build keeps a few hundred thousand (the modules, the day's
    # diffs as parsed lines, the analyses) and makes few reference cycles, so the collector walking them again
    # and again was a tenth of its CPU. Collections come less often, and at exit what is left is freed without
    # being walked for cycles first. (In-process callers of ``app``, like tests, keep the defaults.)
    gc.set_threshold(20_000, 20, 20)
    atexit.register(gc.freeze)
    app()
