"""``newsletter store …``: set up the store's tables."""

from __future__ import annotations

from newsletter.cli.app import Typer, app, console, context

store_app = Typer(help="Manage the store (SQLite file or DynamoDB table).", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("init")
def init() -> None:
    """Create the store's tables and indexes (idempotent): SQLite schema, or the DynamoDB table and index."""
    with context() as ctx:
        for line in ctx.store.init():
            console.print(f"ready: {line}", highlight=False)
