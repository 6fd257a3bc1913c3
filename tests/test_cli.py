"""The CLI as a whole: every command is documented, errors are one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main
from typer.testing import CliRunner

from newsletter.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    # Typer 0.29 vendors click (typer._click), so groups are recognised by their ``commands``, not their class.
    found = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        found.append((full, cmd))
        if isinstance(getattr(cmd, "commands", None), dict):
            found.extend(_commands(cmd, full + " "))
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    root = typer.main.get_command(app)
    assert isinstance(getattr(root, "commands", None), dict)
    readme = README.read_text(encoding="utf-8")
    commands = _commands(root)
    assert commands, "the CLI registers no command"
    for name, cmd in commands:
        assert (cmd.help or "").strip(), f"`newsletter {name}` has no help text"
        assert f"newsletter {name}" in readme, f"`newsletter {name}` is not documented in README.md"


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip()
