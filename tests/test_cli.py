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
    from newsletter import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"{__version__}\n"


def test_version_starts_like_help_without_pydantic() -> None:
    """``newsletter --version`` stops while the options are parsed, before typer coerces its own ``--help``
    through pydantic: it loads no more than ``--help`` does (pydantic alone took it from 0.2 to 0.4 s)."""
    import subprocess
    import sys

    from newsletter import __version__

    code = (
        "import sys\n"
        "from newsletter.cli import main\n"
        "sys.argv = ['newsletter', '--version']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print(sorted(m for m in ('pydantic', 'pydantic_core', 'newsletter.config') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{__version__}\n[]\n", done.stdout + done.stderr


CLI = Path(__file__).resolve().parents[1] / "newsletter" / "cli"
# What only the composition root (newsletter/context.py, through newsletter/backends.py) may call.
BACKEND_MAKERS = ("open_store(", "open_archive(", "make_sender(", "make_analyzer(", "collect_repos(", "Tokens(")


def test_commands_take_every_backend_from_the_context() -> None:
    """A command that opened the store (or a sender, the archive, the collector) itself would bypass the
    one place that wires backends and closes them; every command goes through ``cli.app.context()``."""
    offenders = [
        f"{path.name}: {maker}"
        for path in sorted(CLI.glob("*.py"))
        for maker in BACKEND_MAKERS
        if maker in path.read_text(encoding="utf-8")
    ]
    assert not offenders, offenders


def test_help_loads_no_backend_library() -> None:
    """``newsletter --help`` (and every command's help) imports typer and rich, not the libraries the commands
    use: those are imported inside the commands."""
    import subprocess
    import sys

    # (typer itself imports pydantic when it builds a command's parameters: that one is not ours to defer.)
    heavy = ["boto3", "botocore", "openai", "jinja2", "github", "feedparser", "mjml", "newsletter.context"]
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from newsletter.cli import app\n"
        "for args in (['--help'], ['build', '--help'], ['send', '--help'], ['subscribers', 'add', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
