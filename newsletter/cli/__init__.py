"""Command-line entry point ``newsletter``; each command module registers itself on ``app``."""

from newsletter.cli import archive as _archive  # noqa: F401  (registers `newsletter archive`)
from newsletter.cli import build as _build  # noqa: F401  (registers `newsletter build`)
from newsletter.cli import collect as _collect  # noqa: F401  (registers `newsletter collect`)
from newsletter.cli import lists as _lists  # noqa: F401  (registers `newsletter lists`)
from newsletter.cli import store as _store  # noqa: F401  (registers `newsletter store init`)
from newsletter.cli import subscribers as _subscribers  # noqa: F401  (registers `newsletter subscribers …`)
from newsletter.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
