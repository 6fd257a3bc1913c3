"""``newsletter lists``: the mailing lists and how many people are on each."""

from __future__ import annotations

from rich.table import Table

from newsletter.cli.app import app, console, context
from newsletter.store.states import MemberStatus


@app.command("lists")
def lists_command() -> None:
    """Show each mailing list (subscribers/*.toml) with its members counted by status."""
    with context() as ctx:
        conf = ctx.settings
        found = ctx.mailing_lists()
        if not found:
            console.print(f"no lists in {conf.lists_dir} (NEWSLETTER_LISTS_DIR)")
            return
        table = Table(title=f"lists in {conf.lists_dir}")
        for column in ("list", "title", "repos", "language", "sends at"):
            table.add_column(column, overflow="fold")
        for status in MemberStatus:
            table.add_column(status.value, justify="right")
        for list_id, mailing in found.items():
            counts = ctx.store.count_members(list_id)
            table.add_row(
                list_id,
                mailing.title,
                "\n".join(str(r) for r in mailing.repos),
                mailing.language,
                f"{mailing.send_at:%H:%M} {mailing.timezone}",
                *(f"{counts[s]:,}" for s in MemberStatus),
            )
    console.print(table)
