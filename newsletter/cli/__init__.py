"""Command-line entry point ``newsletter``; each command module registers itself on ``app``."""

from newsletter.cli import archive as _archive  # noqa: F401  (registers `newsletter archive`)
from newsletter.cli import build as _build  # noqa: F401  (registers `newsletter build`)
from newsletter.cli import collect as _collect  # noqa: F401  (registers `newsletter collect`)
from newsletter.cli import deliver, events, lists, store, subscribers  # noqa: F401  (commands register on import)
from newsletter.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
