"""Command-line entry point ``newsletter``; each command module registers itself on ``app`` when imported."""

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
    app()
