"""What a long-running stage reports while it works. The CLI shows it as a Rich progress bar on stderr; the
Lambda handlers and tests pass nothing (or a recorder). Stages never import Rich themselves."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, description: str, total: int) -> None:
        """A new unit of work with ``total`` steps begins (replaces the previous one)."""
        ...

    def advance(self, amount: int = 1) -> None: ...

    def note(self, message: str) -> None:
        """Something the person should see now, e.g. "waiting 12 s for GitHub's rate limit"."""
        ...


class NoProgress:
    """Reports nowhere."""

    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass
