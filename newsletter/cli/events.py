"""``newsletter events ingest``: SES bounce and complaint notifications into suppressions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.app import Typer, app, console, context
from newsletter.errors import InputError

events_app = Typer(help="SES notifications (bounces, complaints, deliveries).", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("ingest")
def ingest_command(
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="A JSON file (one document or JSON lines), - for stdin.")
    ],
) -> None:
    """Apply SES notifications (as SNS delivers them): hard bounces and complaints suppress at once."""
    from newsletter.deliver.events import ingest, read_documents

    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read {source}: {err}") from err
    with context() as ctx:
        counts = {"notifications": 0, "duplicates": 0, "suppressed": 0}
        skipped: list[str] = []
        for document in read_documents(text):
            # A record that is no notification is reported and skipped: the records after it still count, and a
            # re-run gets past it too. The exit code says that something was skipped.
            try:
                if document.value is None:
                    raise InputError(document.problem or "not a JSON object")
                result = ingest(document.value, ctx.store)
            except InputError as err:
                skipped.append(f"{document.where}: {err.message}")
                console.print(f"skipped {skipped[-1]}", highlight=False, markup=False, emoji=False, soft_wrap=True)
                continue
            counts["notifications"] += 1
            counts["duplicates"] += result.duplicate
            counts["suppressed"] += len(result.suppressed) if not result.duplicate else 0
            state = (
                "already seen"
                if result.duplicate
                else ", ".join(f"suppressed {e}" for e in result.suppressed) or "noted"
            )
            if result.invalid:
                state += f"; ignored {len(result.invalid)} recipients that are not addresses"
            # Ids and addresses are data: no markup, no ":emoji:" codes.
            console.print(
                f"{result.kind} {result.notification_id}: {state}",
                highlight=False,
                markup=False,
                emoji=False,
                soft_wrap=True,
            )
    console.print(
        f"{counts['notifications']} notifications, {counts['duplicates']} already seen,"
        f" {counts['suppressed']} addresses suppressed" + (f", {len(skipped)} records skipped" if skipped else ""),
        highlight=False,
    )
    if skipped:
        more = f" (and {len(skipped) - 1} more, listed above)" if len(skipped) > 1 else ""
        raise InputError(f"{skipped[0]}{more}")
